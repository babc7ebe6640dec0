"""``run_job``: definitions from conf/jobs, attempts as processes, retries, timeouts, stops,
concurrency across processes, and one spark-submit run. Jobs are small pythonshell scripts
(no Spark) except the one spark-submit test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from subprocess_jvm import DRIVER_ENV

from etl.catalog import Catalog
from etl.errors import ConcurrentRunsExceededError, ConfigError
from etl.jobs.definition import (
    JobDefinition,
    load_job_file,
    register_job,
    registered_job,
    registered_jobs,
    resolve_job,
)
from etl.jobs.history import RunHistory, pid_alive
from etl.jobs.runner import error_from_output, run_job, run_log_path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ETL_CATALOG_URL", raising=False)
    monkeypatch.delenv("ETL_SPARK_MASTER", raising=False)
    return tmp_path / "home"


@pytest.fixture
def catalog(home: Path, tmp_path: Path) -> Catalog:
    cat = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield cat
    cat.close()


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def shell_job(path: str, **fields) -> JobDefinition:
    return JobDefinition(name=fields.pop("name", Path(path).stem), type="pythonshell", script=path, **fields)


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ----- definitions ------------------------------------------------------------------------------
def test_a_job_file_with_spec_keys_is_a_yaml_job(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "clean_orders.yaml"
    path.write_text(
        "job:\n  timeout: 30\n  MaxConcurrentRuns: 2\n  spark_conf: {spark.sql.shuffle.partitions: 4}\n"
        "sources: {}\nsteps: []\n"
    )
    definition = load_job_file(path)
    assert definition.name == "clean_orders" and definition.spec == str(path.resolve()) and definition.script is None
    assert (definition.type, definition.timeout, definition.max_concurrent_runs) == ("glueetl", 30, 2)
    assert definition.spark_conf == {"spark.sql.shuffle.partitions": "4"}


def test_a_script_job_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "x.py").write_text("")
    path = tmp_path / "x.yaml"
    path.write_text("job:\n  name: xjob\n  type: pythonshell\n  script: jobs/x.py\n  max_retries: 2\n")
    definition = load_job_file(path)
    assert definition.script == str((tmp_path / "jobs" / "x.py").resolve())
    assert definition.timeout == 2880 and definition.max_concurrent_runs == 1
    assert [p.error_equals for p in definition.policies()] == [["States.TaskFailed"]]
    assert definition.policies()[0].max_attempts == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("job:\n  script: missing.py\n", "job.script: missing.py does not exist"),
        ("job:\n  script: x.py\nsources: {}\n", "a file is either a script job's definition or a YAML job spec"),
        ("job:\n  type: pythonshell\n", "exactly one of script"),
        ("job:\n  type: pythonshell\nsources: {}\n", "its type must be glueetl"),
        ("job:\n  type: spark\n  script: x.py\n", "job.type"),
        ("job:\n  script: x.py\n  timeout: 0\n", "job.timeout"),
        ("job:\n  script: x.py\n  max_retries: 1\n  retry: [{error_equals: [States.ALL]}]\n", "not both"),
        ("job:\n  script: x.py\n  retry: [{error_equals: [States.ALL]}, {error_equals: [X]}]\n", "must be the last"),
        ("job:\n  script: x.py\n  colour: blue\n", "job.colour: Extra inputs are not permitted"),
        ("job:\n  name: bad name!\n  script: x.py\n", "job name 'bad name!' is invalid"),
        ("job: [1]\n", "job: expected a mapping"),
        ("job:\n  script: [x\n", "not valid YAML"),
    ],
)
def test_invalid_job_files_name_the_file_and_key(tmp_path, monkeypatch, text, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.py").write_text("")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_job_file(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_resolving_what_etl_run_was_given(tmp_path, monkeypatch, catalog):
    monkeypatch.chdir(tmp_path)
    conf = tmp_path / "conf" / "jobs"
    conf.mkdir(parents=True)
    (tmp_path / "jobs").mkdir()
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / "jobs" / name).write_text("")
    (conf / "a.yaml").write_text("job:\n  type: pythonshell\n  script: jobs/a.py\n  max_retries: 3\n")
    (conf / "b1.yaml").write_text("job:\n  script: jobs/b.py\n")
    (conf / "b2.yaml").write_text("job:\n  script: jobs/b.py\n")
    # a script named by a definition in conf/jobs gets that definition
    assert resolve_job("jobs/a.py").max_retries == 3 and resolve_job("jobs/a.py").type == "pythonshell"
    # a script without one runs as a glueetl job named after it
    plain = resolve_job("jobs/c.py")
    assert (plain.name, plain.type, plain.max_retries) == ("c", "glueetl", 0)
    assert resolve_job("jobs/c.py", job_name="renamed").name == "renamed"
    # two definitions for one script: say so, and let --job choose
    with pytest.raises(ConfigError, match="b1 .*b2 .*choose one with --job NAME"):
        resolve_job("jobs/b.py")
    assert resolve_job("jobs/b.py", job_name="b2").name == "b2"
    # a job name: conf/jobs first, then the catalog
    assert resolve_job("a").script == str((tmp_path / "jobs" / "a.py").resolve())
    register_job(catalog, JobDefinition(name="registered", script=str(tmp_path / "jobs" / "c.py")))
    assert resolve_job("registered", catalog=catalog).name == "registered"
    assert registered_jobs(catalog) == ["registered"]
    with pytest.raises(ConfigError, match="nope: not a job file"):
        resolve_job("nope", catalog=catalog)
    with pytest.raises(ConfigError, match="script not found"):
        resolve_job("jobs/missing.py")


def test_register_updates_the_definition(catalog, tmp_path):
    path = script(tmp_path, "j.py", "")
    register_job(catalog, shell_job(path, name="j"))
    register_job(catalog, shell_job(path, name="j", max_concurrent_runs=3))
    assert registered_job(catalog, "j").max_concurrent_runs == 3
    assert registered_job(catalog, "unknown") is None


def test_error_from_output():
    traceback_lines = [
        "noise",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "    raise ValueError('boom')",
        "    ^^^^^^^^^^",
        "ValueError: boom",
        "more output",
    ]
    error = error_from_output(traceback_lines, 1)
    assert {"ValueError", "States.TaskFailed"} <= error.names and error.message == "boom"
    chained = [
        *traceback_lines,
        "During handling ...",
        "Traceback (most recent call last):",
        "  File ...",
        "pyspark.errors.exceptions.captured.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] t",
    ]
    error = error_from_output(chained, 1)
    assert "AnalysisException" in error.names and error.message == "[TABLE_OR_VIEW_NOT_FOUND] t"
    plain = error_from_output(["starting", "giving up", ""], 3)
    assert "JobError" in plain.names and plain.message == "the job process exited with code 3; last output: giving up"
    killed = error_from_output([], -9)
    assert killed.message == "the job process killed by signal SIGKILL"


# ----- running ----------------------------------------------------------------------------------
FLAKY = """
    import sys
    from pathlib import Path
    counter = Path(sys.argv[sys.argv.index("--counter") + 1])
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    if n < 2:
        raise ValueError(f"boom {n}")
    print("succeeded on attempt", n)
"""


@pytest.mark.e2e
def test_a_job_that_fails_twice_then_succeeds_has_three_attempts(tmp_path, catalog):
    job = shell_job(script(tmp_path, "flaky.py", FLAKY), max_retries=2)
    events = []
    outcome = run_job(job, {"counter": str(tmp_path / "count")}, catalog=catalog, on_event=events.append)
    assert outcome.succeeded and outcome.state == "SUCCEEDED"
    attempts = outcome.attempts
    assert [(a.attempt, a.state) for a in attempts] == [(0, "FAILED"), (1, "FAILED"), (2, "SUCCEEDED")]
    assert [a.previous_run_id for a in attempts] == [None, attempts[0].id, attempts[1].id]
    assert [a.error_message for a in attempts] == ["ValueError: boom 0", "ValueError: boom 1", None]
    assert outcome.run_id == attempts[0].id
    stored = RunHistory(catalog).list("flaky")
    assert [r.id for r in stored] == [a.id for a in reversed(attempts)]
    assert all(r.end_time and r.duration_seconds is not None for r in stored)
    # Glue's max_retries waits 1 s between attempts
    assert (attempts[1].start_time - attempts[0].end_time).total_seconds() >= 1.0
    assert [e.kind for e in events] == [
        "started",
        "running",
        "finished",
        "retrying",
        "running",
        "finished",
        "retrying",
        "running",
        "finished",
    ]
    assert "succeeded on attempt 2" in run_log_path(attempts[2].id).read_text()
    assert "ValueError: boom 0" in run_log_path(attempts[0].id).read_text()


@pytest.mark.e2e
def test_retries_stop_when_the_policy_is_exhausted(tmp_path, catalog):
    job = shell_job(
        script(tmp_path, "fails.py", "raise RuntimeError('always')\n"),
        retry=[{"error_equals": ["RuntimeError"], "interval_seconds": 0.1, "max_attempts": 1}],
    )
    outcome = run_job(job, catalog=catalog)
    assert [(a.attempt, a.state) for a in outcome.attempts] == [(0, "FAILED"), (1, "FAILED")]
    assert not outcome.succeeded


@pytest.mark.e2e
def test_an_error_no_policy_names_is_not_retried(tmp_path, catalog):
    job = shell_job(
        script(tmp_path, "fails.py", "import sys\nprint('bad input')\nsys.exit(4)\n"),
        retry=[{"error_equals": ["ConnectionError"], "interval_seconds": 0}],
    )
    outcome = run_job(job, catalog=catalog)
    assert len(outcome.attempts) == 1 and outcome.state == "FAILED"
    assert outcome.final.error_message == "the job process exited with code 4; last output: bad input"


ECHO_ARGS = """
    import json, os, sys
    from etl.catalog import Catalog
    from etl.jobs.args import getResolvedOptions
    from etl.jobs.history import RunHistory
    args = getResolvedOptions(sys.argv, ["JOB_NAME", "a", "b", "c"])
    run_id = args["JOB_RUN_ID"]  # a reserved name Glue passes; scripts get it without asking
    json.dump({"argv": sys.argv[1:], "args": args, "catalog": os.environ["ETL_CATALOG_URL"],
               "env_run_id": os.environ["ETL_JOB_RUN_ID"], "master": os.environ.get("ETL_SPARK_MASTER")},
              open(os.environ["OUT"], "w"))
    RunHistory(Catalog()).record_results(run_id, metrics={"rows_written": {"out": 42}},
                                         data_quality=[{"rule": "IsComplete id", "outcome": "PASS"}])
"""


@pytest.mark.e2e
def test_the_job_gets_its_name_run_id_and_merged_arguments(tmp_path, catalog, monkeypatch):
    out = tmp_path / "out.json"
    monkeypatch.setenv("OUT", str(out))
    job = shell_job(
        script(tmp_path, "echo.py", ECHO_ARGS),
        name="echo",
        default_arguments={"a": "default", "b": "default", "c": "default"},
        non_overridable_arguments={"c": "fixed"},
    )
    outcome = run_job(job, {"--b": "run", "c": "run"}, master="local[1]", catalog=catalog)
    assert outcome.succeeded, outcome.final.error_message
    seen = json.loads(out.read_text())
    run_id = outcome.run_id
    assert seen["argv"][:4] == ["--JOB_NAME", "echo", "--JOB_RUN_ID", run_id]
    assert {k: seen["args"][k] for k in ("a", "b", "c")} == {"a": "default", "b": "run", "c": "fixed"}
    assert seen["catalog"] == catalog.url and seen["env_run_id"] == run_id and seen["master"] == "local[1]"
    final = RunHistory(catalog).get(run_id)
    assert final.arguments == {"a": "default", "b": "run", "c": "fixed"}
    assert final.metrics == {"rows_written": {"out": 42}}
    assert final.data_quality == [{"rule": "IsComplete id", "outcome": "PASS"}]


def test_reserved_run_arguments_are_refused_before_anything_runs(tmp_path, catalog):
    job = shell_job(script(tmp_path, "j.py", ""))
    with pytest.raises(ConfigError, match="run arguments: --JOB_NAME is reserved"):
        run_job(job, {"JOB_NAME": "other"}, catalog=catalog)
    assert RunHistory(catalog).list() == []


SLEEPER = """
    import os, subprocess, sys, time
    child = subprocess.Popen(["sleep", "300"])
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{os.getpid()} {child.pid}\\n")
    print("sleeping", flush=True)
    time.sleep(300)
"""


@pytest.mark.e2e
def test_a_timeout_kills_the_process_group_and_records_timeout(tmp_path, catalog, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("PIDS", str(pids))
    job = shell_job(
        script(tmp_path, "sleeper.py", SLEEPER),
        timeout=0.04,  # 2.4 s
        retry=[{"error_equals": ["States.Timeout"], "interval_seconds": 0, "max_attempts": 1}],
    )
    started = time.monotonic()
    outcome = run_job(job, catalog=catalog, kill_grace_seconds=1)
    assert time.monotonic() - started < 60
    assert [(a.attempt, a.state) for a in outcome.attempts] == [(0, "TIMEOUT"), (1, "TIMEOUT")]
    assert all("timed out after 0.04 minute(s)" in a.error_message for a in outcome.attempts)
    assert all(a.duration_seconds >= 2.4 for a in outcome.attempts)
    processes = [int(p) for line in pids.read_text().splitlines() for p in line.split()]
    assert len(processes) == 4
    wait_for(lambda: not any(pid_alive(p) for p in processes), 20, "the job's processes to be gone")


@pytest.mark.e2e
def test_max_retries_does_not_retry_a_timeout(tmp_path, catalog, monkeypatch):
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    job = shell_job(script(tmp_path, "sleeper.py", SLEEPER), timeout=0.02, max_retries=2)
    outcome = run_job(job, catalog=catalog, kill_grace_seconds=1)
    assert [a.state for a in outcome.attempts] == ["TIMEOUT"]


WAITER = """
    import os, sys, time
    from pathlib import Path
    release = Path(os.environ["RELEASE"])
    Path(os.environ["PIDS"]).write_text(str(os.getpid()))
    while not release.exists():
        time.sleep(0.05)
    print("released")
"""

RUNNER = """
    import sys
    from etl.catalog import Catalog
    from etl.jobs.definition import JobDefinition
    from etl.jobs.runner import run_job
    definition = JobDefinition(name="guarded", type="pythonshell", script=sys.argv[2], max_concurrent_runs=1)
    outcome = run_job(definition, catalog=Catalog(sys.argv[1]), heartbeat_seconds=0.5)
    print("final", outcome.run_id, outcome.state, outcome.final.error_message, flush=True)
"""


def start_runner(tmp_path: Path, catalog: Catalog, job_script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(RUNNER), catalog.url, job_script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def running_run(catalog: Catalog, job: str = "guarded"):
    return wait_for(
        lambda: next((r for r in RunHistory(catalog).list(job) if r.state == "RUNNING"), None),
        90,
        "the first run to be RUNNING",
    )


@pytest.mark.e2e
def test_a_second_run_beyond_max_concurrent_runs_is_refused_across_processes(tmp_path, catalog, monkeypatch):
    release, pids = tmp_path / "release", tmp_path / "pids"
    monkeypatch.setenv("RELEASE", str(release))
    monkeypatch.setenv("PIDS", str(pids))
    waiter = script(tmp_path, "waiter.py", WAITER)
    other = start_runner(tmp_path, catalog, waiter)
    try:
        first = running_run(catalog)
        definition = JobDefinition(name="guarded", type="pythonshell", script=waiter, max_concurrent_runs=1)
        with pytest.raises(ConcurrentRunsExceededError) as info:
            run_job(definition, catalog=catalog)
        assert info.value.run_ids == [first.id] and first.id in str(info.value)
        assert [r.id for r in RunHistory(catalog).list("guarded")] == [first.id]  # nothing recorded for it
    finally:
        release.touch()
        out, err = other.communicate(timeout=120)
    assert f"final {first.id} SUCCEEDED" in out, err


@pytest.mark.e2e
def test_sigterm_to_the_runner_stops_the_run_and_its_process(tmp_path, catalog, monkeypatch):
    monkeypatch.setenv("RELEASE", str(tmp_path / "never"))
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    runner = start_runner(tmp_path, catalog, script(tmp_path, "waiter.py", WAITER))
    first = running_run(catalog)
    job_pid = int(wait_for(lambda: (tmp_path / "pids").exists() and (tmp_path / "pids").read_text(), 60, "pid"))
    runner.send_signal(signal.SIGTERM)
    out, err = runner.communicate(timeout=60)
    assert f"final {first.id} STOPPED" in out, err
    stopped = RunHistory(catalog).get(first.id)
    assert stopped.state == "STOPPED" and "stopped by signal SIGTERM" in stopped.error_message
    wait_for(lambda: not pid_alive(job_pid), 20, "the job process to be gone")


@pytest.mark.e2e
def test_a_killed_runner_takes_its_job_along_and_the_run_reads_as_error(tmp_path, catalog, monkeypatch):
    monkeypatch.setenv("RELEASE", str(tmp_path / "never"))
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    runner = start_runner(tmp_path, catalog, script(tmp_path, "waiter.py", WAITER))
    first = running_run(catalog)
    job_pid = int(wait_for(lambda: (tmp_path / "pids").exists() and (tmp_path / "pids").read_text(), 60, "pid"))
    runner.kill()
    runner.wait(timeout=30)
    wait_for(lambda: not pid_alive(job_pid), 20, "the job process to die with its runner")
    abandoned = RunHistory(catalog).get(first.id)
    assert abandoned.state == "ERROR"
    assert f"process {runner.pid}" in abandoned.error_message and "is gone" in abandoned.error_message
    # and the slot is free again
    definition = JobDefinition(name="guarded", type="pythonshell", script=script(tmp_path, "ok.py", ""))
    assert run_job(definition, catalog=catalog).succeeded


COMMITS = """
    import sys
    from etl.jobs.args import getResolvedOptions
    from etl.jobs.job import Job
    args = getResolvedOptions(sys.argv, ["JOB_NAME", "then"])
    job = Job(None)
    job.init(args["JOB_NAME"], args)
    job.commit()
    if args["then"] == "fail":
        sys.exit(3)
"""


@pytest.mark.e2e
def test_job_commit_and_the_runner_agree_on_the_outcome(tmp_path, catalog):
    job = shell_job(script(tmp_path, "commits.py", COMMITS))
    good = run_job(job, {"then": "exit"}, catalog=catalog)
    assert [a.state for a in good.attempts] == ["SUCCEEDED"]
    bad = run_job(job, {"then": "fail"}, catalog=catalog)  # committed, then the process failed
    assert [a.state for a in bad.attempts] == ["FAILED"]
    assert bad.final.error_message == "the job process exited with code 3"


SPARK_SCRIPT = """
    import sys
    from pyspark.sql import SparkSession
    from etl.jobs.args import getResolvedOptions
    args = getResolvedOptions(sys.argv, ["JOB_NAME", "rows"])
    spark = SparkSession.builder.getOrCreate()
    print("master", spark.sparkContext.master, "app", spark.sparkContext.appName)
    print("counted", spark.range(int(args["rows"])).count())
    spark.stop()
"""


@pytest.mark.e2e
def test_a_glueetl_script_runs_with_spark_submit(tmp_path, catalog, monkeypatch):
    for name, value in DRIVER_ENV.items():  # inherited by the spark-submit child, see subprocess_jvm.py
        monkeypatch.setenv(name, value)
    job = JobDefinition(
        name="sparky",
        script=script(tmp_path, "sparky.py", SPARK_SCRIPT),
        spark_conf={"spark.ui.enabled": "false", "spark.app.name": "sparky-app"},
    )
    outcome = run_job(job, {"rows": "1234"}, master="local[1]", catalog=catalog)
    log = run_log_path(outcome.run_id).read_text()
    assert outcome.succeeded, log[-3000:]
    assert "spark-submit --master local[1] --conf spark.ui.enabled=false" in log.splitlines()[0]
    assert "master local[1] app sparky-app" in log and "counted 1234" in log


# ----- the YAML-spec child process (spec_main), with the spec machinery replaced by recorders --------
class _FakeJob:
    calls: list[tuple] = []

    def __init__(self, glue_ctx) -> None:
        self.glue_ctx = glue_ctx

    def init(self, name, args) -> None:
        _FakeJob.calls.append(("init", name, dict(args)))

    def commit(self) -> None:
        _FakeJob.calls.append(("commit",))


@pytest.fixture
def fake_spec_machinery(monkeypatch, catalog):
    import etl.context
    import etl.jobs.job
    import etl.jobs.spec
    import etl.jobs.spec_runner
    import etl.session

    seen: dict = {}
    _FakeJob.calls = []

    def run_spec(spec, glue_ctx, args, *, metrics):
        seen["spec"] = spec
        metrics["sources"] = {"raw": {"rows": 3}}
        metrics["data_quality"] = [{"rule": "not_null_id", "success": True}]
        if args.get("fail") == "yes":
            raise RuntimeError("sink failed")
        metrics["sinks"] = {"out": {"rows": 2}}
        return metrics

    monkeypatch.setattr(
        etl.session, "get_session", lambda app, master=None, conf=None: seen.update(session=(app, master, conf))
    )
    monkeypatch.setattr(etl.jobs.spec, "load_spec", lambda path, args: ("loaded", path, dict(args)))
    monkeypatch.setattr(etl.jobs.spec_runner, "run_spec", run_spec)
    monkeypatch.setattr(etl.context, "GlueContext", lambda: "glue")
    monkeypatch.setattr(etl.jobs.job, "Job", _FakeJob)
    monkeypatch.setenv("ETL_CATALOG_URL", catalog.url)
    monkeypatch.setenv("ETL_SPARK_MASTER", "local[1]")
    monkeypatch.setenv("ETL_SPARK_CONF", json.dumps({"spark.sql.shuffle.partitions": "3"}))
    return seen


def test_spec_main_runs_the_spec_inside_job_init_and_commit(fake_spec_machinery, catalog):
    from etl.jobs.runner import spec_main

    history = RunHistory(catalog)
    run = history.start_run("clean", arguments={})
    assert (
        spec_main(
            [
                "--spec",
                "conf/jobs/clean.yaml",
                "--JOB_NAME",
                "clean",
                "--JOB_RUN_ID",
                run.id,
                "--input_path",
                "in",
                "--job-bookmark-option",
                "job-bookmark-enable",
            ]
        )
        == 0
    )
    args = {"JOB_NAME": "clean", "JOB_RUN_ID": run.id, "input_path": "in", "job-bookmark-option": "job-bookmark-enable"}
    assert fake_spec_machinery["session"] == ("clean", "local[1]", {"spark.sql.shuffle.partitions": "3"})
    assert fake_spec_machinery["spec"] == ("loaded", "conf/jobs/clean.yaml", args)
    assert _FakeJob.calls == [("init", "clean", args), ("commit",)]
    stored = history.get(run.id)
    assert stored.metrics == {"sources": {"raw": {"rows": 3}}, "sinks": {"out": {"rows": 2}}}
    assert stored.data_quality == [{"rule": "not_null_id", "success": True}]


def test_spec_main_keeps_partial_metrics_and_does_not_commit_a_failed_spec(fake_spec_machinery, catalog):
    from etl.jobs.runner import spec_main

    history = RunHistory(catalog)
    run = history.start_run("clean", arguments={})
    with pytest.raises(RuntimeError, match="sink failed"):
        spec_main(["--spec", "x.yaml", "--JOB_NAME", "clean", "--JOB_RUN_ID", run.id, "--fail", "yes"])
    assert [c[0] for c in _FakeJob.calls] == ["init"]
    stored = history.get(run.id)
    assert stored.metrics == {"sources": {"raw": {"rows": 3}}} and len(stored.data_quality) == 1


def test_spec_main_usage(capsys):
    from etl.jobs.runner import spec_main

    assert spec_main(["x.yaml"]) == 2
    assert "usage: python -m etl.jobs.runner --spec PATH" in capsys.readouterr().err
