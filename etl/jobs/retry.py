"""Retry policies in Step Functions' terms (a ``Retry`` field's retriers), applied to job attempts.

A policy (a *retrier*) names the errors it retries and how long to wait::

    retry:
      - error_equals: [States.Timeout]
        interval_seconds: 30
        max_attempts: 2
      - error_equals: [ConnectionError, "HTTP 503"]
        interval_seconds: 1          # default 1
        max_attempts: 5              # default 3; 0 = never retry this error
        backoff_rate: 2.0            # default 2.0, at least 1.0
        max_delay_seconds: 20        # cap on the grown interval (default: none)
        jitter: FULL                 # FULL | NONE (default NONE); Step Functions' JitterStrategy

Error names a failed attempt carries, matched against ``error_equals``:

- ``States.ALL``: any error (must stand alone, in the last policy, as in Step Functions).
- ``States.Timeout``: the attempt ran past the job's timeout.
- ``States.TaskFailed``: any failure except a timeout (as in Step Functions).
- the Python exception class that ended the script, short (``ValueError``) or qualified
  (``pyspark.errors.exceptions.captured.AnalysisException``), read from its traceback;
  ``JobError`` when the process failed without a Python traceback (non-zero exit, killed by a signal).
- any other entry matches when the error message starts with it (an error-message prefix).

As in Step Functions the first policy whose ``error_equals`` matches decides, each policy counts its
own retries, and once that policy is exhausted the run fails (later policies are not consulted).
The wait before a policy's retry number ``n`` (0 for its first) is
``min(interval_seconds * backoff_rate ** n, max_delay_seconds)``; with ``jitter: FULL`` it is a
uniformly random value between 0 and that. Locally ``interval_seconds`` may be fractional or 0
(Step Functions requires a positive integer).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, field_validator

from etl.config import GlueModel

ALL = "States.ALL"
TIMEOUT = "States.Timeout"
TASK_FAILED = "States.TaskFailed"
GENERIC_FAILURE = "JobError"
_MAX_ATTEMPTS = 99_999_999  # Step Functions' upper bound


class RetryPolicy(GlueModel):
    """One retrier: which errors it retries, how often and how long to wait."""

    error_equals: list[str]
    interval_seconds: float = Field(1.0, ge=0)
    max_attempts: int = Field(3, ge=0, le=_MAX_ATTEMPTS)
    backoff_rate: float = Field(2.0, ge=1.0)
    max_delay_seconds: float | None = Field(None, gt=0)
    jitter: Literal["FULL", "NONE"] = Field("NONE", alias="JitterStrategy")

    @field_validator("error_equals")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        if not names:
            raise ValueError("error_equals needs at least one error name (e.g. States.ALL)")
        if any(not n.strip() for n in names):
            raise ValueError("error_equals holds an empty error name")
        if ALL in names and len(names) > 1:
            raise ValueError(f"{ALL} must appear alone in error_equals")
        return names


def validate_policies(policies: Sequence[RetryPolicy]) -> None:
    """Step Functions' rule: a policy with ``States.ALL`` must be the last one.

    Raises:
        ValueError: ``States.ALL`` appears before the last policy.
    """
    for index, policy in enumerate(policies[:-1]):
        if ALL in policy.error_equals:
            raise ValueError(f"retry[{index}]: a policy with {ALL} must be the last retry policy")


def max_retries_policy(max_retries: int) -> RetryPolicy:
    """Glue's job ``max_retries`` as a policy: retry any failure but a timeout, at once (1 s apart)."""
    return RetryPolicy(error_equals=[TASK_FAILED], interval_seconds=1.0, max_attempts=max_retries, backoff_rate=1.0)


@dataclass(frozen=True)
class AttemptError:
    """Why an attempt did not succeed: its error ``names`` (for matching) and its message."""

    names: frozenset[str]
    message: str

    @classmethod
    def timeout(cls, message: str) -> AttemptError:
        return cls(frozenset({TIMEOUT}), message)

    @classmethod
    def failure(cls, exception: str | None, message: str) -> AttemptError:
        """A failed attempt; ``exception`` is the (possibly qualified) exception class, if known."""
        names = {TASK_FAILED}
        if exception:
            names |= {exception, exception.rsplit(".", 1)[-1]}
        else:
            names.add(GENERIC_FAILURE)
        return cls(frozenset(names), message)


def matches(policy: RetryPolicy, error: AttemptError) -> bool:
    """Whether ``policy.error_equals`` names ``error`` (see the module docs for the rules)."""
    for entry in policy.error_equals:
        if entry == ALL or entry in error.names:
            return True
        if not entry.startswith("States.") and error.message.startswith(entry):
            return True
    return False


def delay_for(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before ``policy``'s retry number ``attempt`` (0 = its first retry).

    ``interval_seconds * backoff_rate ** attempt``, capped at ``max_delay_seconds``; with FULL jitter
    a uniform random value in ``[0, capped]`` drawn from ``rng``.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    delay = policy.interval_seconds * policy.backoff_rate**attempt
    if policy.max_delay_seconds is not None:
        delay = min(delay, policy.max_delay_seconds)
    if policy.jitter == "FULL":
        delay = (rng or random.Random()).uniform(0.0, delay)
    return delay


@dataclass
class Retrier:
    """The retry state of one job run: which policy retried how often."""

    policies: Sequence[RetryPolicy]
    rng: random.Random = field(default_factory=random.Random)
    used: dict[int, int] = field(default_factory=dict)

    def next_delay(self, error: AttemptError) -> float | None:
        """The wait before retrying after ``error``, or None when no retry is due.

        The first matching policy decides; when it has made ``max_attempts`` retries the run fails.
        """
        for index, policy in enumerate(self.policies):
            if not matches(policy, error):
                continue
            done = self.used.get(index, 0)
            if done >= policy.max_attempts:
                return None
            self.used[index] = done + 1
            return delay_for(policy, done, self.rng)
        return None
