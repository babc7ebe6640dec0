"""Running a job: each attempt in its own process, with history, retries, a timeout and a stop.

``run_job`` registers the definition, starts a run (refused beyond ``max_concurrent_runs``), and runs
attempt after attempt until one succeeds or the retry policies give up. Each attempt is a child
process in its own process group, given ``--JOB_NAME``, ``--JOB_RUN_ID`` and the merged arguments:

- a ``glueetl`` script: ``spark-submit [--master M] [--conf k=v ...] script.py --JOB_NAME ...``
- a ``pythonshell`` script: ``python script.py --JOB_NAME ...`` (no Spark session)
- a YAML job spec: ``python -m etl.jobs.runner --spec conf/jobs/x.yaml --JOB_NAME ...``, which
  builds the SparkSession (master and ``spark_conf`` of the definition), then loads the spec and
  runs it between ``Job.init`` and ``Job.commit`` (see :func:`spec_main`); the metrics it reports
  are stored with the run (``data_quality`` and ``bookmark`` in their own columns).

The child's output goes to ``$ETL_HOME/logs/runs/<run_id>.log`` (and optionally a stream); a
failed attempt's error is the last Python exception in it. The child sees the catalog URL in
``$ETL_CATALOG_URL`` so what it records lands in the same database. A timeout, Ctrl-C or SIGTERM
kills the whole process group (SIGTERM, then SIGKILL after a grace period); on Linux the child also
dies with the runner (``PR_SET_PDEATHSIG``), so a killed runner leaves no orphan job behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from etl.catalog import Catalog
from etl.errors import JobError
from etl.home import etl_home
from etl.jobs.arguments import check_arguments, merge_arguments, parse_argv, to_argv
from etl.jobs.definition import JobDefinition, register_job
from etl.jobs.history import ERROR, FAILED, STOPPED, SUCCEEDED, TIMEOUT, RunHistory, RunRecord
from etl.jobs.retry import AttemptError, Retrier
from etl.jobs.signals import stop_on_sigterm
from etl.submit import spark_submit_command, submit_env

SPEC_CONF_ENV = "ETL_SPARK_CONF"  # JSON spark_conf for the YAML-spec child
_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")
_PR_SET_PDEATHSIG = 1


def run_log_path(run_id: str) -> Path:
    """Where an attempt's output is kept."""
    return etl_home() / "logs" / "runs" / f"{run_id}.log"


@dataclass(frozen=True)
class RunEvent:
    """Progress of a run, for a caller to print: ``started``, ``running``, ``finished`` or ``retrying``."""

    kind: str
    record: RunRecord
    delay: float | None = None  # retrying: seconds until the next attempt
    next_record: RunRecord | None = None  # retrying: the next attempt's row


@dataclass
class RunOutcome:
    """Every attempt of one run, first attempt first."""

    attempts: list[RunRecord] = field(default_factory=list)

    @property
    def final(self) -> RunRecord:
        return self.attempts[-1]

    @property
    def state(self) -> str:
        return self.final.state

    @property
    def succeeded(self) -> bool:
        return self.final.state == SUCCEEDED

    @property
    def run_id(self) -> str:
        """The first attempt's id (Glue's JobRunId of the run as started)."""
        return self.attempts[0].id


@dataclass(frozen=True)
class _Attempt:
    state: str
    error: AttemptError | None = None
    message: str | None = None


class _Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """SIGTERM reached the runner."""


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _child_setup(parent: int) -> Callable[[], None]:
    """Runs in the child before exec: die with the runner (Linux)."""

    def setup() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the runner died before prctl took effect
                os._exit(1)

    return setup


def resolve_master(definition: JobDefinition, master: str | None) -> str | None:
    """``--master`` beats the definition's ``spark_master``, which beats ``$ETL_SPARK_MASTER``."""
    return master or definition.spark_master or os.environ.get("ETL_SPARK_MASTER") or None


def attempt_command(definition: JobDefinition, argv: Sequence[str], master: str | None) -> list[str]:
    """The command line of one attempt (see the module docs)."""
    if definition.spec is not None:
        return [sys.executable, "-m", "etl.jobs.runner", "--spec", definition.spec, *argv]
    assert definition.script is not None
    if definition.type == "pythonshell":
        return [sys.executable, definition.script, *argv]
    return spark_submit_command(definition.script, argv, master=master, conf=definition.spark_conf)


def _child_env(definition: JobDefinition, record: RunRecord, catalog: Catalog, master: str | None) -> dict[str, str]:
    extra = {
        "ETL_CATALOG_URL": catalog.url,
        "ETL_JOB_NAME": record.job_name,
        "ETL_JOB_RUN_ID": record.id,
        "PYTHONUNBUFFERED": "1",
    }
    if master:
        extra["ETL_SPARK_MASTER"] = master
    if (master is None or master.startswith("local")) and "SPARK_LOCAL_IP" not in os.environ:
        extra["SPARK_LOCAL_IP"] = "127.0.0.1"  # local mode talks to itself, as etl.session does
    if definition.spec is not None:
        extra[SPEC_CONF_ENV] = json.dumps(definition.spark_conf)
    return submit_env(extra)


def error_from_output(lines: Sequence[str], returncode: int) -> AttemptError:
    """The error of a failed attempt: the last Python exception in its output, else the exit status."""
    start = max((i for i, line in enumerate(lines) if line.strip() == _TRACEBACK), default=None)
    if start is not None:
        for line in lines[start + 1 :]:
            if not line or line[0].isspace():
                continue
            match = _EXCEPTION_LINE.match(line.rstrip())
            if match:
                name, message = match.group(1), (match.group(2) or "").strip()
                return AttemptError.failure(name, message or name)
    if returncode < 0:
        try:
            how = f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exited with code {returncode}"
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return AttemptError.failure(None, f"the job process {how}" + (f"; last output: {last[:500]}" if last else ""))


def _error_message(error: AttemptError) -> str:
    exception = max((n for n in error.names if not n.startswith("States.") and n != "JobError"), key=len, default=None)
    return f"{exception}: {error.message}" if exception and error.message != exception else error.message


def _pump(stream: IO[bytes], log_path: Path, echo: IO[str] | None, tail: deque[str]) -> None:
    with open(log_path, "ab") as log:
        for raw in iter(stream.readline, b""):
            log.write(raw)
            log.flush()
            text = raw.decode(errors="replace")
            tail.append(text.rstrip("\n"))
            if echo is not None:
                with contextlib.suppress(ValueError, OSError):
                    echo.write(text)
                    echo.flush()


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the attempt's process group, then SIGKILL what is left after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class _Supervisor:
    """Runs the attempts of one run and keeps its history rows current."""

    def __init__(
        self,
        definition: JobDefinition,
        catalog: Catalog,
        history: RunHistory,
        *,
        master: str | None,
        timeout_minutes: float,
        echo: IO[str] | None,
        on_event: Callable[[RunEvent], None] | None,
        heartbeat_seconds: float,
        kill_grace_seconds: float,
        cwd: str | Path | None,
    ) -> None:
        self.definition = definition
        self.catalog = catalog
        self.history = history
        self.master = master
        self.timeout_seconds = timeout_minutes * 60.0
        self.timeout_minutes = timeout_minutes
        self.echo = echo
        self.on_event = on_event or (lambda _event: None)
        self.heartbeat_seconds = heartbeat_seconds
        self.kill_grace_seconds = kill_grace_seconds
        self.cwd = cwd

    def attempt(self, record: RunRecord, arguments: Mapping[str, str]) -> _Attempt:
        argv = to_argv({"JOB_NAME": record.job_name, "JOB_RUN_ID": record.id, **arguments})
        command = attempt_command(self.definition, argv, self.master)
        log_path = run_log_path(record.id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
        try:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_child_env(self.definition, record, self.catalog, self.master),
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_child_setup(os.getpid()),  # noqa: PLW1509
            )
        except OSError as exc:
            return _Attempt(ERROR, message=f"could not start {command[0]}: {exc}")
        tail: deque[str] = deque(maxlen=400)
        assert proc.stdout is not None
        pump = threading.Thread(target=_pump, args=(proc.stdout, log_path, self.echo, tail), daemon=True)
        pump.start()
        try:
            try:
                running = self.history.mark_running(record.id)
            except JobError as exc:
                return _Attempt(ERROR, message=str(exc))
            self.on_event(RunEvent("running", running))
            outcome = self._wait(proc, record.id)
        finally:
            if proc.poll() is None:  # whatever went wrong here, the job does not outlive it
                _kill_group(proc, self.kill_grace_seconds)
            pump.join(timeout=10)
        if outcome is not None:
            return outcome
        if proc.returncode == 0:
            return _Attempt(SUCCEEDED)
        error = error_from_output(list(tail), proc.returncode)
        return _Attempt(FAILED, error, _error_message(error))

    def _wait(self, proc: subprocess.Popen[bytes], run_id: str) -> _Attempt | None:
        """Wait for the process; returns an outcome only when it was killed (timeout, stop)."""
        started = time.monotonic()
        beat = started
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now - started >= self.timeout_seconds:
                    _kill_group(proc, self.kill_grace_seconds)
                    message = (
                        f"Job run timed out after {self.timeout_minutes:g} minute(s); "
                        f"its process group {proc.pid} was killed"
                    )
                    return _Attempt(TIMEOUT, AttemptError.timeout(message), message)
                if now - beat >= self.heartbeat_seconds:
                    self.history.heartbeat(run_id)
                    beat = now
                time.sleep(0.1)
        except (KeyboardInterrupt, _Stop) as exc:
            _kill_group(proc, self.kill_grace_seconds)
            how = str(exc) if isinstance(exc, _Stop) else "stopped by Ctrl-C (SIGINT)"
            return _Attempt(STOPPED, message=f"Job run {how}; its process group {proc.pid} was killed")
        return None

    def sleep(self, seconds: float, run_id: str) -> bool:
        """Wait ``seconds`` before a retry, heartbeating; False when stopped meanwhile."""
        end = time.monotonic() + seconds
        beat = time.monotonic()
        try:
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(left, 0.1))
                if time.monotonic() - beat >= self.heartbeat_seconds:
                    self.history.heartbeat(run_id)
                    beat = time.monotonic()
        except (KeyboardInterrupt, _Stop):
            return False
        return True


def run_job(
    definition: JobDefinition,
    run_args: Mapping[str, Any] | None = None,
    *,
    master: str | None = None,
    catalog: Catalog | None = None,
    timeout_minutes: float | None = None,
    workflow_run_id: str | None = None,
    predecessor_runs: Sequence[Mapping[str, Any]] = (),
    echo: IO[str] | None = None,
    on_event: Callable[[RunEvent], None] | None = None,
    rng: random.Random | None = None,
    heartbeat_seconds: float = 5.0,
    kill_grace_seconds: float = 5.0,
    cwd: str | Path | None = None,
) -> RunOutcome:
    """Run ``definition`` to completion: attempts, retries, timeout; every attempt is a history row.

    Args:
        definition: the job.
        run_args: this run's arguments (Glue: StartJobRun Arguments), with or without ``--``.
        master: Spark master URL for this run (beats the definition's ``spark_master``).
        catalog: the catalog holding history (default: ``$ETL_CATALOG_URL`` or the home's).
        timeout_minutes: this run's timeout (Glue: StartJobRun Timeout), default the definition's.
        workflow_run_id, predecessor_runs: recorded with the run when a workflow starts it.
        echo: a stream to copy the job's output to (it always goes to the run's log file).
        on_event: called as the run progresses (see :class:`RunEvent`).
        rng: random source for FULL jitter.
        heartbeat_seconds, kill_grace_seconds: heartbeat period; SIGTERM-to-SIGKILL grace on a kill.
        cwd: the job process's working directory (default: this one).

    Returns:
        Every attempt; ``outcome.final.state`` is the run's result.

    Raises:
        ConfigError: a run argument is invalid or reserved.
        ConcurrentRunsExceededError: the job already has ``max_concurrent_runs`` active runs.
    """
    catalog = catalog or Catalog()
    arguments = merge_arguments(
        definition.default_arguments, check_arguments(run_args, "run arguments"), definition.non_overridable_arguments
    )
    timeout = timeout_minutes if timeout_minutes is not None else definition.timeout
    if timeout <= 0:
        raise JobError(f"timeout must be a positive number of minutes, got {timeout}")
    register_job(catalog, definition)
    history = RunHistory(catalog)
    record = history.start_run(
        definition.name,
        arguments=arguments,
        max_concurrent_runs=definition.max_concurrent_runs,
        timeout_minutes=timeout,
        workflow_run_id=workflow_run_id,
        predecessor_runs=predecessor_runs,
    )
    supervisor = _Supervisor(
        definition,
        catalog,
        history,
        master=resolve_master(definition, master),
        timeout_minutes=timeout,
        echo=echo,
        on_event=on_event,
        heartbeat_seconds=heartbeat_seconds,
        kill_grace_seconds=kill_grace_seconds,
        cwd=cwd,
    )
    notify = on_event or (lambda _event: None)
    retrier = Retrier(definition.policies(), rng or random.Random())
    outcome = RunOutcome()
    with stop_on_sigterm(_Stop):
        notify(RunEvent("started", record))
        while True:
            try:
                result = supervisor.attempt(record, arguments)
            except BaseException as exc:  # never leave the row active, whatever went wrong here
                state = STOPPED if isinstance(exc, KeyboardInterrupt | _Stop) else ERROR
                outcome.attempts.append(history.finish(record.id, state, error_message=f"runner failed: {exc!r}"))
                notify(RunEvent("finished", outcome.final))
                if state == ERROR:
                    raise
                return outcome
            delay = retrier.next_delay(result.error) if result.error is not None else None
            if delay is None:
                outcome.attempts.append(history.finish(record.id, result.state, error_message=result.message))
                notify(RunEvent("finished", outcome.final))
                return outcome
            nxt = history.retry(record.id, result.state, error_message=result.message)
            outcome.attempts.append(history.get(record.id, reap=False))
            notify(RunEvent("finished", outcome.final))
            notify(RunEvent("retrying", outcome.final, delay=delay, next_record=nxt))
            if not supervisor.sleep(delay, nxt.id):
                outcome.attempts.append(
                    history.finish(nxt.id, STOPPED, error_message="Job run stopped while waiting to retry")
                )
                notify(RunEvent("finished", outcome.final))
                return outcome
            record = nxt


# ----- the child process of a YAML job spec ------------------------------------------------
def _record(run_id: str, results: Mapping[str, Any]) -> None:
    """Store what a spec run reports: ``data_quality`` and ``bookmark`` in their columns, the rest as metrics."""
    results = dict(results)
    data_quality = results.pop("data_quality", None)
    bookmark = results.pop("bookmark", None)
    RunHistory(Catalog()).record_results(run_id, metrics=results, data_quality=data_quality, bookmark=bookmark)


def _run_spec_file(path: str, args: dict[str, str], run_id: str, job_name: str) -> None:
    """Run the spec at ``path`` in this process (the SparkSession is already built)."""
    from etl.jobs import spec as spec_module

    try:
        from etl.jobs.spec_runner import run_spec
    except ImportError:
        run_spec = None  # type: ignore[assignment]
    if run_spec is None or not hasattr(spec_module, "load_spec"):
        # the one-call form: etl.jobs.spec.run_spec(path, args, run_id) -> results
        _record(run_id, spec_module.run_spec(path, args, run_id) or {})  # type: ignore[attr-defined]
        return
    # load_spec(path, args), then spec_runner.run_spec(spec, glue_ctx, args, metrics=...) between
    # Job.init and Job.commit, so the spec's sources are bookmarked and the commit is the run's success
    from etl.context import GlueContext
    from etl.jobs.job import Job

    spec = spec_module.load_spec(path, args)
    glue_ctx = GlueContext()
    job = Job(glue_ctx)
    job.init(job_name, args)
    metrics: dict[str, Any] = {}
    try:
        run_spec(spec, glue_ctx, args, metrics=metrics)
    finally:
        _record(run_id, metrics)  # a failed run keeps the part it did
    job.commit()


def spec_main(argv: Sequence[str] | None = None) -> int:
    """``python -m etl.jobs.runner --spec PATH --JOB_NAME N --JOB_RUN_ID R [--k v ...]``.

    Builds the SparkSession (``$ETL_SPARK_MASTER``, ``$ETL_SPARK_CONF``) and runs the spec with
    ``etl.jobs.spec.load_spec`` and ``etl.jobs.spec_runner.run_spec`` between ``Job.init`` and
    ``Job.commit`` (or, without those, ``etl.jobs.spec.run_spec(path, args, run_id)``). What the spec
    reports is stored with the run. ``args`` holds every argument by name without dashes,
    ``JOB_NAME`` and ``JOB_RUN_ID`` included.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[0] != "--spec":
        print(
            "usage: python -m etl.jobs.runner --spec PATH --JOB_NAME NAME --JOB_RUN_ID ID [--k v ...]", file=sys.stderr
        )
        return 2
    path, args = argv[1], parse_argv(argv[2:])
    run_id, job_name = args.get("JOB_RUN_ID"), args.get("JOB_NAME")
    if not run_id or not job_name:
        raise JobError("a job spec run needs --JOB_NAME and --JOB_RUN_ID")
    from etl.session import get_session

    get_session(
        job_name, master=os.environ.get("ETL_SPARK_MASTER"), conf=json.loads(os.environ.get(SPEC_CONF_ENV) or "{}")
    )
    _run_spec_file(path, args, run_id, job_name)
    return 0


if __name__ == "__main__":
    sys.exit(spec_main())
