"""``etl workflow run|status|runs|resume|graph`` and ``etl scheduler`` as a user runs them (subprocesses)."""

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

from etl.catalog import Catalog
from etl.jobs.history import RunHistory
from etl.jobs.workflow_store import WorkflowStore

pytestmark = pytest.mark.e2e

ETL = Path(sys.executable).parent / "etl"

STEP = """
    import sys, time
    from pathlib import Path
    argv = sys.argv[1:]
    args = {k[2:]: v for k, v in zip(argv[::2], argv[1::2])}
    Path("out").mkdir(exist_ok=True)
    with open(f"out/{args['JOB_NAME']}.log", "a") as f:
        f.write(args["WORKFLOW_RUN_ID"] + "\\n")
    if args.get("wait_for"):
        Path("out/waiting").write_text("yes")
        while not Path(args["wait_for"]).exists():
            time.sleep(0.05)
    if Path("broken.flag").exists() and args["JOB_NAME"] == "a":
        raise RuntimeError("a is broken")
"""

WORKFLOW = """
    name: pipeline
    nodes:
      jobs: [{job: conf/jobs/a.yaml}, {job: conf/jobs/b.yaml}]
    triggers:
      - {name: start, type: ON_DEMAND, actions: [a]}
      - {name: then, type: CONDITIONAL, conditions: [{job_name: a, state: SUCCEEDED}], actions: [b]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "conf" / "jobs").mkdir(parents=True)
    (tmp_path / "conf" / "workflows").mkdir(parents=True)
    (tmp_path / "conf" / "crawlers").mkdir(parents=True)
    (tmp_path / "jobs" / "step.py").write_text(textwrap.dedent(STEP))
    for name in ("a", "b"):
        body = {"job": {"name": name, "type": "pythonshell", "script": "jobs/step.py"}}
        (tmp_path / "conf" / "jobs" / f"{name}.yaml").write_text(json.dumps(body))
    (tmp_path / "conf" / "workflows" / "pipeline.yaml").write_text(textwrap.dedent(WORKFLOW))
    return tmp_path


@pytest.fixture
def env(project: Path) -> dict[str, str]:
    environ = dict(os.environ)
    environ.update(ETL_HOME=str(project / "home"), ETL_CATALOG_URL=f"sqlite:///{project / 'catalog.db'}")
    environ.pop("ETL_SPARK_MASTER", None)
    return environ


def etl(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ETL), *args], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_run_status_resume_runs_and_graph(project, env):
    (project / "broken.flag").write_text("x")
    run = etl(project, env, "workflow", "run", "pipeline")
    assert run.returncode == 1, run.stderr
    assert "node a FAILED: RuntimeError: a is broken" in run.stdout
    assert "workflow pipeline run wr_" in run.stdout and ": FAILED" in run.stdout

    status = etl(project, env, "workflow", "status", "pipeline")
    assert status.returncode == 0, status.stderr
    assert "nodes: 1 started of 2: 0 succeeded, 1 failed" in status.stdout and "1 not run" in status.stdout
    assert "1 node(s) did not succeed: a FAILED (RuntimeError: a is broken)" in status.stdout
    shape = json.loads(etl(project, env, "workflow", "status", "pipeline", "--json").stdout)["WorkflowRun"]
    assert shape["Status"] == "FAILED" and shape["Statistics"]["FailedActions"] == 1
    assert {n["Name"]: n["State"] for n in shape["Nodes"]} == {"a": "FAILED", "b": "NOT_RUN"}
    first = shape["WorkflowRunId"]

    (project / "broken.flag").unlink()
    resume = etl(project, env, "workflow", "resume", "pipeline")
    assert resume.returncode == 0, resume.stdout + resume.stderr
    assert f"resumed from {first}: re-ran a" in resume.stdout and ": COMPLETED" in resume.stdout
    latest = WorkflowStore(Catalog(env["ETL_CATALOG_URL"])).latest("pipeline")
    assert latest.state == "COMPLETED" and latest.previous_run_id == first
    assert (project / "out" / "b.log").read_text().split() == [latest.id]

    runs = etl(project, env, "workflow", "runs", "pipeline")
    assert first in runs.stdout and latest.id in runs.stdout and "COMPLETED" in runs.stdout

    graph = etl(project, env, "workflow", "graph", "pipeline", "--run", "latest", "-o", "out/pipeline.svg")
    assert graph.returncode == 0, graph.stderr
    assert "trigger start (ON_DEMAND)" in graph.stdout and "job a  SUCCEEDED" in graph.stdout
    assert (project / "out" / "pipeline.svg").read_text().startswith("<svg")
    if not any((Path(p) / "dot").exists() for p in env.get("PATH", "").split(os.pathsep)):
        png = etl(project, env, "workflow", "graph", "pipeline", "-o", "out/pipeline.png")
        assert png.returncode == 2 and "error:" in png.stderr and "needs Graphviz's dot" in png.stderr


def test_an_invalid_spec_is_reported_with_its_file_and_key(project, env):
    (project / "conf" / "workflows" / "bad.yaml").write_text(
        "name: bad\nnodes: {jobs: [{job: conf/jobs/a.yaml}]}\n"
        "triggers: [{name: go, type: ON_DEMAND, actions: [a, ghost]}]\n"
    )
    result = etl(project, env, "workflow", "run", "bad")
    assert result.returncode == 2
    assert "bad.yaml: triggers[0] (go).actions[1]: unknown node 'ghost' (nodes: a)" in result.stderr
    missing = etl(project, env, "workflow", "status", "wr_nope")
    assert missing.returncode == 2 and "workflow run wr_nope not found" in missing.stderr


def test_sigterm_stops_the_run_and_starts_nothing_more(project, env):
    (project / "conf" / "jobs" / "a.yaml").write_text(
        json.dumps(
            {
                "job": {
                    "name": "a",
                    "type": "pythonshell",
                    "script": "jobs/step.py",
                    "default_arguments": {"wait_for": "release"},
                }
            }
        )
    )
    proc = subprocess.Popen(
        [str(ETL), "workflow", "run", "pipeline"], cwd=project, env=env, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (project / "out" / "waiting").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "job a never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    catalog = Catalog(env["ETL_CATALOG_URL"])
    record = WorkflowStore(catalog).latest("pipeline")
    assert record.state == "STOPPED" and "stopped while a ran" in (record.error_message or "")
    assert {n.node_name: n.state for n in record.nodes} == {"a": "STOPPED", "b": "NOT_RUN"}
    assert RunHistory(catalog).get(record.node("a").run_id).state == "STOPPED"
    assert not (project / "out" / "b.log").exists()


def test_scheduler_once_runs_what_is_due_and_not_twice(project, env):
    (project / "conf" / "workflows" / "nightly.yaml").write_text(
        "name: nightly\nnodes: {jobs: [{job: conf/jobs/b.yaml}]}\n"
        'triggers: [{name: at_six, type: SCHEDULED, schedule: "cron(0 6 * * ? *)", actions: [b]}]\n'
    )
    args = ("scheduler", "--once", "--at", "2025-03-10T06:00:20Z", "--interval", "60")
    first = etl(project, env, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "scheduled workflow nightly: cron(0 6 * * ? *)" in first.stdout
    assert "started workflow nightly (due 2025-03-10 06:00:00): run wr_" in first.stdout
    assert "workflow nightly run wr_" in first.stdout and "ended COMPLETED" in first.stdout
    second = etl(project, env, *args)
    assert second.returncode == 0 and "skipped workflow nightly" in second.stdout and "already started" in second.stdout
    quiet = etl(project, env, "scheduler", "--once", "--at", "2025-03-10T07:00:00Z")
    assert quiet.returncode == 0 and "started" not in quiet.stdout
    assert len(WorkflowStore(Catalog(env["ETL_CATALOG_URL"])).list("nightly")) == 1
