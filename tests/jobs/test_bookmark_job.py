"""``jobs/bookmarked_copy.py`` with bookmarks enabled, three runs:

1. two input files: both copied;
2. a third file added, and the script raises after reading it: the run is FAILED in the
   catalog, nothing is written and the bookmark does not move;
3. the same again without the failure: only the third file is read and copied, and the two
   files skipped because of the bookmark are reported (stdout, log, run row).

The failing run is a real ``spark-submit`` process: its uncaught exception is recorded by the
process's exit hooks, which only a process that really ends exercises. The successful runs around
it execute the unchanged script in this test session's Spark, as spark-submit's driver would (its
arguments, ETL_HOME): tests/e2e/test_standalone_cluster.py runs the same script successfully twice
through ``etl run`` and ``spark-submit``, bookmarked, and checks the console and the bookmark there.
"""

from __future__ import annotations

import logging
import runpy
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session
from subprocess_jvm import DRIVER_ENV

from etl.catalog import Catalog
from etl.catalog.job_models import BookmarkFileRow, JobRunRow
from etl.submit import spark_submit_command, submit_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "jobs" / "bookmarked_copy.py"


def write_csv(path: Path, ids: range) -> None:
    path.write_text("order_id,amount\n" + "".join(f"{i},{i * 1.5}\n" for i in ids))


def job_args(root: Path, *extra: str) -> list[str]:
    return [
        "--JOB_NAME",
        "copy",
        "--input_path",
        str(root / "in"),
        "--output_path",
        str(root / "out"),
        "--job-bookmark-option",
        "job-bookmark-enable",
        *extra,
    ]


def submit(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = spark_submit_command(
        JOB,
        job_args(root, *extra),
        master="local[1]",
        conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
    )
    env = submit_env({"ETL_HOME": str(root / "home"), **DRIVER_ENV})
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=600, check=False)


def run_here(root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """Runs the script as ``__main__`` in this session's Spark with spark-submit's argv and the
    workspace's ETL_HOME; returns what it printed."""
    with monkeypatch.context() as m:
        m.setenv("ETL_HOME", str(root / "home"))
        m.delenv("ETL_CATALOG_URL", raising=False)
        m.setattr(sys, "argv", [str(JOB), *job_args(root)])
        m.setattr(sys, "excepthook", sys.excepthook)  # Job.init installs its own for a script's process
        capsys.readouterr()
        runpy.run_path(str(JOB), run_name="__main__")
        return capsys.readouterr().out


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-4000:]}"


def run_id(stdout: str) -> str:
    line = next(line for line in stdout.splitlines() if line.startswith("run id:"))
    return line.split()[-1]


def output_ids(root: Path) -> list[int]:
    return sorted(pq.read_table(root / "out").column("order_id").to_pylist())


def test_a_bookmarked_job_copies_only_new_files_and_a_failed_run_moves_nothing(
    tmp_path, spark, monkeypatch, capsys, caplog
):
    (tmp_path / "in").mkdir()
    write_csv(tmp_path / "in" / "day1.csv", range(1, 11))
    write_csv(tmp_path / "in" / "day2.csv", range(11, 21))

    first = run_here(tmp_path, monkeypatch, capsys)
    assert "rows read:     20" in first
    assert "source orders: files read 2, skipped by bookmark 0" in first
    assert output_ids(tmp_path) == list(range(1, 21))

    write_csv(tmp_path / "in" / "day3.csv", range(21, 26))
    failed = submit(tmp_path, "--fail_after_read", "true")
    assert failed.returncode != 0, explain(failed)
    assert "source orders: files read 1, skipped by bookmark 2" in failed.stdout
    assert output_ids(tmp_path) == list(range(1, 21))

    with caplog.at_level(logging.INFO, logger="etl.bookmarks"):
        third = run_here(tmp_path, monkeypatch, capsys)
    assert "rows read:     5" in third
    assert "source orders: files read 1, skipped by bookmark 2" in third
    assert "reads 1 of 3 file(s) (new or changed); 2 skipped by the job bookmark" in caplog.text
    assert output_ids(tmp_path) == list(range(1, 26))  # every row once: nothing copied twice

    catalog = Catalog(f"sqlite:///{tmp_path / 'home' / 'catalog.db'}")
    try:
        with Session(catalog.engine) as session:
            runs = {r.id: r for r in session.query(JobRunRow).filter_by(job_name="copy")}
            files = {Path(f.path).name: f.run_id for f in session.query(BookmarkFileRow).filter_by(job_name="copy")}
    finally:
        catalog.close()
    ids = [run_id(first), run_id(failed.stdout), run_id(third)]
    assert [runs[i].state for i in ids] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert "RuntimeError: failing after the read" in runs[ids[1]].error_message
    assert runs[ids[1]].bookmark["sources"]["orders"] == {
        "files_read": 1,
        "files_skipped": 2,
        "new": 1,
        "changed": 0,
        "reads": 1,
    }
    assert runs[ids[2]].bookmark["committed"] is True
    assert files == {"day1.csv": ids[0], "day2.csv": ids[0], "day3.csv": ids[2]}
