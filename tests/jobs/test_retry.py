"""Step Functions retry policies: delays (backoff, cap, jitter), error matching, per-policy counts."""

from __future__ import annotations

import random

import pytest

from etl.config import parse_model
from etl.errors import ConfigError
from etl.jobs.retry import (
    AttemptError,
    Retrier,
    RetryPolicy,
    delay_for,
    matches,
    max_retries_policy,
    validate_policies,
)


def policy(**kw) -> RetryPolicy:
    return RetryPolicy(error_equals=kw.pop("error_equals", ["States.ALL"]), **kw)


def test_defaults_are_step_functions_defaults():
    p = policy()
    assert (p.interval_seconds, p.max_attempts, p.backoff_rate, p.max_delay_seconds, p.jitter) == (
        1.0,
        3,
        2.0,
        None,
        "NONE",
    )


def test_backoff_multiplies_the_interval_per_retry():
    p = policy(interval_seconds=3, backoff_rate=2.0)
    assert [delay_for(p, n) for n in range(5)] == [3, 6, 12, 24, 48]


def test_backoff_rate_one_keeps_the_interval():
    p = policy(interval_seconds=2, backoff_rate=1.0)
    assert [delay_for(p, n) for n in range(4)] == [2, 2, 2, 2]


def test_max_delay_caps_the_grown_interval():
    p = policy(interval_seconds=3, backoff_rate=3.0, max_delay_seconds=20)
    assert [delay_for(p, n) for n in range(5)] == [3, 9, 20, 20, 20]


def test_full_jitter_is_uniform_between_zero_and_the_capped_backoff():
    p = policy(interval_seconds=1, backoff_rate=2.0, max_delay_seconds=10, jitter="FULL")
    rng = random.Random(42)
    expected_rng = random.Random(42)
    for n in range(8):
        cap = min(1 * 2.0**n, 10)
        got = delay_for(p, n, rng)
        assert got == expected_rng.uniform(0.0, cap)
        assert 0.0 <= got <= cap
    # many draws of one retry cover the range, not one fixed value
    draws = [delay_for(p, 3, random.Random(seed)) for seed in range(200)]
    assert min(draws) < 1.0 and max(draws) > 7.0 and all(0 <= d <= 8 for d in draws)


def test_delay_for_rejects_a_negative_attempt():
    with pytest.raises(ValueError):
        delay_for(policy(), -1)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"error_equals": []}, "at least one error name"),
        ({"error_equals": ["States.ALL", "ValueError"]}, "must appear alone"),
        ({"error_equals": ["X"], "backoff_rate": 0.5}, "greater than or equal to 1"),
        ({"error_equals": ["X"], "max_attempts": -1}, "greater than or equal to 0"),
        ({"error_equals": ["X"], "max_delay_seconds": 0}, "greater than 0"),
        ({"error_equals": ["X"], "jitter": "HALF"}, "FULL"),
    ],
)
def test_invalid_policies_are_rejected_naming_the_field(fields, problem):
    with pytest.raises(ConfigError) as info:
        parse_model(fields, RetryPolicy, source="job.yaml")
    assert "job.yaml" in str(info.value) and problem in str(info.value)


def test_step_functions_keys_are_accepted():
    p = parse_model(
        {
            "ErrorEquals": ["States.Timeout"],
            "IntervalSeconds": 5,
            "MaxAttempts": 2,
            "BackoffRate": 1.5,
            "MaxDelaySeconds": 30,
            "JitterStrategy": "FULL",
        },
        RetryPolicy,
    )
    assert (p.error_equals, p.interval_seconds, p.max_attempts, p.backoff_rate, p.max_delay_seconds, p.jitter) == (
        ["States.Timeout"],
        5,
        2,
        1.5,
        30,
        "FULL",
    )


def test_states_all_must_be_in_the_last_policy():
    validate_policies([policy(error_equals=["ValueError"]), policy()])
    with pytest.raises(ValueError, match="must be the last"):
        validate_policies([policy(), policy(error_equals=["ValueError"])])


TIMEOUT = AttemptError.timeout("timed out")
VALUE_ERROR = AttemptError.failure("ValueError", "HTTP 503 from the API")
QUALIFIED = AttemptError.failure("pyspark.errors.exceptions.captured.AnalysisException", "[TABLE_OR_VIEW_NOT_FOUND]")
NO_TRACEBACK = AttemptError.failure(None, "the job process exited with code 3")


@pytest.mark.parametrize(
    ("names", "error", "expected"),
    [
        (["States.ALL"], TIMEOUT, True),
        (["States.ALL"], VALUE_ERROR, True),
        (["States.Timeout"], TIMEOUT, True),
        (["States.Timeout"], VALUE_ERROR, False),
        (["States.TaskFailed"], VALUE_ERROR, True),
        (["States.TaskFailed"], NO_TRACEBACK, True),
        (["States.TaskFailed"], TIMEOUT, False),
        (["ValueError"], VALUE_ERROR, True),
        (["KeyError", "ValueError"], VALUE_ERROR, True),
        (["KeyError"], VALUE_ERROR, False),
        (["AnalysisException"], QUALIFIED, True),
        (["pyspark.errors.exceptions.captured.AnalysisException"], QUALIFIED, True),
        (["HTTP 503"], VALUE_ERROR, True),  # an error-message prefix
        (["503"], VALUE_ERROR, False),  # a prefix, not a substring
        (["JobError"], NO_TRACEBACK, True),
        (["JobError"], VALUE_ERROR, False),
    ],
)
def test_error_matching(names, error, expected):
    assert matches(policy(error_equals=names), error) is expected


def test_the_first_matching_policy_decides_and_counts_its_own_retries():
    # Step Functions' documented example: errors A, B, C, B against
    # [{A, B}: interval 1, backoff 2, max 2], [{C}: interval 5] -> waits 1, 2, 5, then fail.
    retrier = Retrier(
        [
            policy(error_equals=["ErrorA", "ErrorB"], interval_seconds=1, max_attempts=2),
            policy(error_equals=["ErrorC"], interval_seconds=5),
        ]
    )
    errors = [AttemptError.failure(name, "x") for name in ("ErrorA", "ErrorB", "ErrorC", "ErrorB")]
    assert [retrier.next_delay(e) for e in errors] == [1, 2, 5, None]


def test_an_exhausted_policy_fails_even_if_a_later_one_matches():
    retrier = Retrier([policy(error_equals=["ValueError"], max_attempts=1), policy()])
    assert retrier.next_delay(VALUE_ERROR) == 1
    assert retrier.next_delay(VALUE_ERROR) is None
    assert retrier.next_delay(TIMEOUT) == 1  # another error reaches the catch-all


def test_max_attempts_zero_never_retries_and_no_match_never_retries():
    assert Retrier([policy(max_attempts=0)]).next_delay(VALUE_ERROR) is None
    assert Retrier([policy(error_equals=["KeyError"])]).next_delay(VALUE_ERROR) is None
    assert Retrier([]).next_delay(VALUE_ERROR) is None


def test_jittered_retrier_is_reproducible_with_a_seed():
    p = policy(interval_seconds=4, jitter="FULL", max_attempts=5)
    a, b = Retrier([p], random.Random(7)), Retrier([p], random.Random(7))
    delays = [a.next_delay(VALUE_ERROR) for _ in range(5)]
    assert delays == [b.next_delay(VALUE_ERROR) for _ in range(5)]
    assert all(0 <= d <= 4 * 2**n for n, d in enumerate(delays))
    assert a.next_delay(VALUE_ERROR) is None


def test_glue_max_retries_retries_failures_but_not_timeouts():
    retrier = Retrier([max_retries_policy(2)])
    assert retrier.next_delay(TIMEOUT) is None
    assert retrier.next_delay(VALUE_ERROR) == 1
    assert retrier.next_delay(NO_TRACEBACK) == 1
    assert retrier.next_delay(VALUE_ERROR) is None
