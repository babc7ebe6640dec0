"""A job on a real Spark standalone cluster: a master and two workers on loopback, started from the
installed Spark distribution (``spark-class``), as a user's own cluster would be.

The bookmarked ``jobs/bookmarked_copy.py`` runs on it twice, once through ``etl run --master
spark://...`` and once through ``spark-submit --master spark://...``. Its executors run on the
workers (their work folders hold the application's executor logs), while the catalog database,
run history and bookmarks stay with the driver: both runs are recorded, and the second reads only
the file added after the first (tests/jobs/test_bookmark_job.py relies on these two runs for the
console output and the recorded files of successful bookmarked runs of this script).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session
from subprocess_jvm import DAEMON_ENV, DRIVER_ENV

from etl.catalog import Catalog
from etl.catalog.job_models import BookmarkFileRow
from etl.jobs.history import RunHistory
from etl.submit import spark_home, spark_submit_command, submit_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "jobs" / "bookmarked_copy.py"
ETL = Path(sys.executable).parent / "etl"
WORKERS = 2
START_TIMEOUT = 120.0


@dataclass
class Cluster:
    url: str
    ui: str
    work_dirs: list[Path]
    logs: Path

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=5) as response:
            return json.load(response)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    spark_class = Path(spark_home()) / "bin" / "spark-class"
    with log.open("w") as out:
        return subprocess.Popen(
            [str(spark_class), *args], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def wait_for(cluster: Cluster, ready, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if ready(cluster.state()):
                return
        except OSError:
            pass
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(cluster.logs.glob("*.log")))
    raise AssertionError(f"standalone cluster: {what} within {START_TIMEOUT}s\n{logs}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    logs = root / "logs"
    logs.mkdir()
    env = submit_env({"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(logs), "SPARK_NO_DAEMONIZE": "1"})
    env.update(DAEMON_ENV)
    port, ui_port = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    master_args = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
    processes = [daemon([*master_args, "--port", str(port), "--webui-port", str(ui_port)], logs / "master.log", env)]
    work_dirs = [root / f"worker{i}" for i in range(WORKERS)]
    found = Cluster(url, f"http://127.0.0.1:{ui_port}", work_dirs, logs)
    try:
        wait_for(found, lambda s: s.get("status") == "ALIVE", "the master did not come up")
        for i, work in enumerate(work_dirs):
            worker_args = ["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1"]
            worker_args += ["--memory", "1g", "--webui-port", str(free_port()), "--work-dir", str(work)]
            processes.append(daemon(worker_args, logs / f"worker{i}.log", env))
        wait_for(found, lambda s: s.get("aliveworkers") == WORKERS, f"{WORKERS} workers did not register")
        yield found
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def write_csv(path: Path, ids: range) -> None:
    path.write_text("order_id,amount\n" + "".join(f"{i},{i * 1.5}\n" for i in ids))


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-4000:]}"


def run_id(proc: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in proc.stdout.splitlines() if line.startswith("run id:")).split()[-1]


def test_a_job_runs_on_the_cluster_with_etl_run_and_spark_submit(cluster: Cluster, tmp_path: Path) -> None:
    data, out, home = tmp_path / "in", tmp_path / "out", tmp_path / "home"
    data.mkdir()
    write_csv(data / "day1.csv", range(1, 11))
    write_csv(data / "day2.csv", range(11, 21))
    env = submit_env({"ETL_HOME": str(home), **DRIVER_ENV})  # the drivers' JVM, see subprocess_jvm.py
    job_args = {"input_path": str(data), "output_path": str(out), "job-bookmark-option": "job-bookmark-enable"}

    # 1. etl run --master spark://...: the runner records the run and supervises spark-submit
    cli = [str(ETL), "run", str(JOB), "--job", "cluster_copy", "--master", cluster.url]
    cli += [x for k, v in job_args.items() for x in ("--arg", f"{k}={v}")]
    first = subprocess.run(cli, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False)
    assert first.returncode == 0, explain(first)
    assert "final state: SUCCEEDED" in first.stdout
    assert "source orders: files read 2, skipped by bookmark 0" in first.stderr

    # 2. spark-submit --master spark://... of the same script: only the new file is read
    write_csv(data / "day3.csv", range(21, 26))
    argv = ["--JOB_NAME", "cluster_copy", *[x for k, v in job_args.items() for x in (f"--{k}", v)]]
    command = spark_submit_command(JOB, argv, master=cluster.url, conf={"spark.ui.enabled": "false"})
    second = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False)
    assert second.returncode == 0, explain(second)
    assert "rows read:     5" in second.stdout
    assert "source orders: files read 1, skipped by bookmark 2" in second.stdout
    # spark-submit's PythonRunner merges the driver's stderr (the log) into its stdout
    assert "reads 1 of 3 file(s) (new or changed); 2 skipped by the job bookmark" in second.stdout + second.stderr
    assert sorted(pq.read_table(out).column("order_id").to_pylist()) == list(range(1, 26))

    # The executors ran on the workers: both applications completed on the master, and each
    # worker's work folder holds executor folders of them.
    completed = {a["id"] for a in cluster.state()["completedapps"]}
    assert len(completed) == 2, completed
    for work in cluster.work_dirs:
        assert {p.parent.name for p in work.glob("app-*/*") if p.is_dir()} == completed, work

    # The driver kept the history and the bookmark: two successful runs, three files recorded.
    history = RunHistory(Catalog(f"sqlite:///{home / 'catalog.db'}"))
    runs = history.list("cluster_copy")
    assert [r.state for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert run_id(second) == runs[0].id
    assert runs[0].bookmark["sources"]["orders"]["files_skipped"] == 2
    assert runs[1].bookmark["sources"]["orders"]["files_read"] == 2
    assert runs[0].bookmark["committed"] is True
    with Session(history.catalog.engine) as session:
        files = {Path(f.path).name: f.run_id for f in session.query(BookmarkFileRow).filter_by(job_name="cluster_copy")}
    assert files == {"day1.csv": runs[1].id, "day2.csv": runs[1].id, "day3.csv": runs[0].id}
