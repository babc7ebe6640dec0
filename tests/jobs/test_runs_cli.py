"""``etl run``, ``etl runs`` and ``etl run-status`` as a user runs them (subprocesses of the console script)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from etl.catalog import Catalog
from etl.jobs.history import RunHistory

pytestmark = pytest.mark.e2e

ETL = Path(sys.executable).parent / "etl"

FLAKY = """
    import sys
    from pathlib import Path
    from etl.catalog import Catalog
    from etl.jobs.args import getResolvedOptions
    from etl.jobs.history import RunHistory
    args = getResolvedOptions(sys.argv, ["JOB_NAME", "counter"])
    counter = Path(args["counter"])
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    if n < 2:
        raise ValueError(f"boom {n}")
    RunHistory(Catalog()).record_results(
        args["JOB_RUN_ID"], metrics={"rows_read": {"orders": 7}, "rows_written": {"clean": 5}},
        data_quality=[{"rule": "IsUnique order_id", "action": "fail", "outcome": "PASS"}])
    print("done on attempt", n)
"""

WAITER = """
    import os, sys, time
    from pathlib import Path
    Path(sys.argv[sys.argv.index("--pidfile") + 1]).write_text(str(os.getpid()))
    release = Path(sys.argv[sys.argv.index("--release") + 1])
    while not release.exists():
        time.sleep(0.05)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: jobs/ scripts and conf/jobs/ definitions."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "conf" / "jobs").mkdir(parents=True)
    (tmp_path / "jobs" / "flaky.py").write_text(textwrap.dedent(FLAKY))
    (tmp_path / "jobs" / "waiter.py").write_text(textwrap.dedent(WAITER))
    (tmp_path / "jobs" / "broken.py").write_text("import sys\nprint('cannot go on')\nsys.exit(5)\n")
    (tmp_path / "conf" / "jobs" / "flaky.yaml").write_text(
        textwrap.dedent("""
        job:
          type: pythonshell
          script: jobs/flaky.py
          retry:
            - error_equals: [ValueError]
              interval_seconds: 0.2
              backoff_rate: 1.5
    """)
    )
    (tmp_path / "conf" / "jobs" / "waiter.yaml").write_text(
        "job:\n  type: pythonshell\n  script: jobs/waiter.py\n  max_concurrent_runs: 1\n"
    )
    (tmp_path / "conf" / "jobs" / "broken.yaml").write_text("job:\n  type: pythonshell\n  script: jobs/broken.py\n")
    (tmp_path / "home").mkdir()
    history(tmp_path).catalog.close()  # migrated once here, not by several processes at the same time
    return tmp_path


def env_for(project: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["ETL_HOME"] = str(project / "home")
    env.pop("ETL_CATALOG_URL", None)
    return env


def etl(project: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ETL), *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=env_for(project),
        timeout=timeout,
        check=False,
    )


def start_etl(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ETL), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project, env=env_for(project)
    )


def explain(proc) -> str:  # type: ignore[no-untyped-def]
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-3000:]}"


def history(project: Path) -> RunHistory:
    return RunHistory(Catalog(f"sqlite:///{project / 'home' / 'catalog.db'}"))


def wait_running(project: Path, job: str, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    runs = history(project)
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            running = [r for r in runs.list(job) if r.state == "RUNNING"]
            if running:
                return running[0]
            time.sleep(0.2)
        raise AssertionError(f"no RUNNING run of {job}")
    finally:
        runs.catalog.close()


def test_run_retries_then_runs_and_run_status_show_every_attempt(project):
    proc = etl(project, "run", "conf/jobs/flaky.yaml", "--arg", f"counter={project / 'count'}")
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout
    first = re.search(r"^run (jr_\w+): job flaky attempt 0 STARTING$", out, re.MULTILINE)
    assert first, explain(proc)
    run_id = first.group(1)
    assert re.search(rf"^run {run_id}: attempt 0 FAILED after [\d.]+s: ValueError: boom 0$", out, re.MULTILINE), out
    assert re.search(r"^run jr_\w+: retrying in 0.20s as attempt 1, run jr_\w+$", out, re.MULTILINE), out
    assert re.search(r"^run jr_\w+: retrying in 0.30s as attempt 2, run jr_\w+$", out, re.MULTILINE), out
    assert re.search(r"^run jr_\w+: attempt 2 SUCCEEDED after [\d.]+s$", out, re.MULTILINE), out
    assert re.search(
        rf"^final state: SUCCEEDED \(run {run_id}, 3 attempt\(s\), last attempt jr_\w+\)$", out, re.MULTILINE
    ), out
    assert "ValueError: boom 1" in proc.stderr and "done on attempt 2" in proc.stderr  # the job's own output

    listed = etl(project, "runs", "flaky", "--json")
    assert listed.returncode == 0, explain(listed)
    runs = json.loads(listed.stdout)["JobRuns"]
    assert [(r["Attempt"], r["JobRunState"]) for r in runs] == [(2, "SUCCEEDED"), (1, "FAILED"), (0, "FAILED")]
    assert runs[2]["Id"] == run_id and runs[1]["PreviousRunId"] == run_id
    assert runs[0]["Arguments"] == {"counter": str(project / "count")}
    last_id = runs[0]["Id"]

    table = etl(project, "runs")
    assert table.returncode == 0, explain(table)
    for r in runs:
        assert r["Id"] in table.stdout
    assert "ValueError: boom 0" in table.stdout and "SUCCEEDED" in table.stdout
    assert len(json.loads(etl(project, "runs", "--limit", "1", "--json").stdout)["JobRuns"]) == 1

    status = etl(project, "run-status", last_id, "--json")
    assert status.returncode == 0, explain(status)
    shown = json.loads(status.stdout)["JobRun"]
    assert shown["Id"] == last_id and shown["JobRunState"] == "SUCCEEDED" and shown["Attempt"] == 2
    assert shown["Metrics"] == {"rows_read": {"orders": 7}, "rows_written": {"clean": 5}}
    assert shown["DataQuality"] == [{"rule": "IsUnique order_id", "action": "fail", "outcome": "PASS"}]
    assert [a["JobRunState"] for a in shown["Attempts"]] == ["FAILED", "FAILED", "SUCCEEDED"]
    for key in ("StartedOn", "CompletedOn", "DurationSeconds", "Timeout", "Arguments", "Bookmark", "Pid", "Host"):
        assert key in shown
    assert Path(shown["LogFile"]).read_text().count("done on attempt 2") == 1

    text = etl(project, "run-status", run_id)
    assert text.returncode == 0, explain(text)
    assert "JobRunState: FAILED" in text.stdout and "ErrorMessage: ValueError: boom 0" in text.stdout
    assert f"Attempts: {run_id} (attempt 0, FAILED) -> " in text.stdout
    assert "Metrics: {}" in text.stdout and "DataQuality: []" in text.stdout


def test_failures_and_bad_input_give_clear_errors_and_exit_codes(project):
    failed = etl(project, "run", "conf/jobs/broken.yaml")
    assert failed.returncode == 1, explain(failed)
    assert "final state: FAILED" in failed.stdout
    assert "the job process exited with code 5; last output: cannot go on" in failed.stdout

    reserved = etl(project, "run", "conf/jobs/broken.yaml", "--arg", "JOB_RUN_ID=jr_x")
    assert reserved.returncode == 2, explain(reserved)
    assert "--arg 'JOB_RUN_ID=jr_x': --JOB_RUN_ID is reserved" in reserved.stderr

    (project / "conf" / "jobs" / "typo.yaml").write_text("job:\n  script: jobs/broken.py\n  max_retrys: 2\n")
    typo = etl(project, "run", "conf/jobs/typo.yaml")
    assert typo.returncode == 2, explain(typo)
    assert "conf/jobs/typo.yaml: job.max_retrys: Extra inputs are not permitted" in typo.stderr

    unknown = etl(project, "run-status", "jr_nope")
    assert unknown.returncode == 2 and "job run jr_nope not found" in unknown.stderr, explain(unknown)
    # only the one real run is in the history
    assert [r.state for r in history(project).list()] == ["FAILED"]


def test_a_second_concurrent_run_is_refused(project):
    release, pidfile = project / "release", project / "pid"
    first = start_etl(project, "run", "waiter", "--arg", f"release={release}", "--arg", f"pidfile={pidfile}")
    try:
        running = wait_running(project, "waiter")
        second = etl(
            project,
            "run",
            "conf/jobs/waiter.yaml",
            "--arg",
            f"release={release}",
            "--arg",
            f"pidfile={project / 'pid2'}",
        )
        assert second.returncode == 2, explain(second)
        assert f"job waiter: max_concurrent_runs is 1 and 1 run(s) are active: {running.id} (RUNNING" in second.stderr
        assert not (project / "pid2").exists()
    finally:
        release.touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, f"{out}\n{err}"
    assert f"final state: SUCCEEDED (run {running.id}" in out


def test_a_job_killed_mid_run_is_recorded_as_failed(project):
    pidfile = project / "pid"
    runner = start_etl(project, "run", "waiter", "--arg", f"release={project / 'never'}", "--arg", f"pidfile={pidfile}")
    running = wait_running(project, "waiter")
    end = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < end:
        time.sleep(0.1)
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1, f"{out}\n{err}"
    assert f"run {running.id}: attempt 0 FAILED" in out and "killed by signal SIGKILL" in out
    record = history(project).get(running.id)
    assert record.state == "FAILED" and record.error_message == "the job process killed by signal SIGKILL"
