"""``jobs/bookmarked_copy.py`` under plain ``spark-submit``, bookmarks enabled, three runs:

1. two input files: both copied;
2. a third file added, and the script raises after reading it: the run is FAILED in the
   catalog, nothing is written and the bookmark does not move;
3. the same again without the failure: only the third file is read and copied, and the two
   files skipped because of the bookmark are reported (stdout, stderr log, run row).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session

from etl.catalog import Catalog
from etl.catalog.job_models import BookmarkFileRow, JobRunRow
from etl.submit import spark_submit_command, submit_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "jobs" / "bookmarked_copy.py"


def write_csv(path: Path, ids: range) -> None:
    path.write_text("order_id,amount\n" + "".join(f"{i},{i * 1.5}\n" for i in ids))


def submit(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = spark_submit_command(
        JOB,
        [
            "--JOB_NAME",
            "copy",
            "--input_path",
            str(root / "in"),
            "--output_path",
            str(root / "out"),
            "--job-bookmark-option",
            "job-bookmark-enable",
            *extra,
        ],
        master="local[1]",
        conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
    )
    env = submit_env({"ETL_HOME": str(root / "home")})
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=600, check=False)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-4000:]}"


def run_id(proc: subprocess.CompletedProcess[str]) -> str:
    line = next(line for line in proc.stdout.splitlines() if line.startswith("run id:"))
    return line.split()[-1]


def output_ids(root: Path) -> list[int]:
    return sorted(pq.read_table(root / "out").column("order_id").to_pylist())


def test_a_bookmarked_job_copies_only_new_files_and_a_failed_run_moves_nothing(tmp_path):
    (tmp_path / "in").mkdir()
    write_csv(tmp_path / "in" / "day1.csv", range(1, 11))
    write_csv(tmp_path / "in" / "day2.csv", range(11, 21))

    first = submit(tmp_path)
    assert first.returncode == 0, explain(first)
    assert "rows read:     20" in first.stdout
    assert "source orders: files read 2, skipped by bookmark 0" in first.stdout
    assert output_ids(tmp_path) == list(range(1, 21))

    write_csv(tmp_path / "in" / "day3.csv", range(21, 26))
    failed = submit(tmp_path, "--fail_after_read", "true")
    assert failed.returncode != 0, explain(failed)
    assert "source orders: files read 1, skipped by bookmark 2" in failed.stdout
    assert output_ids(tmp_path) == list(range(1, 21))

    third = submit(tmp_path)
    assert third.returncode == 0, explain(third)
    assert "rows read:     5" in third.stdout
    assert "source orders: files read 1, skipped by bookmark 2" in third.stdout
    # spark-submit's PythonRunner merges the driver's stderr (the log) into its stdout
    assert "reads 1 of 3 file(s) (new or changed); 2 skipped by the job bookmark" in third.stdout + third.stderr
    assert output_ids(tmp_path) == list(range(1, 26))  # every row once: nothing copied twice

    catalog = Catalog(f"sqlite:///{tmp_path / 'home' / 'catalog.db'}")
    try:
        with Session(catalog.engine) as session:
            runs = {r.id: r for r in session.query(JobRunRow).filter_by(job_name="copy")}
            files = {Path(f.path).name: f.run_id for f in session.query(BookmarkFileRow).filter_by(job_name="copy")}
    finally:
        catalog.close()
    ids = [run_id(first), run_id(failed), run_id(third)]
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
