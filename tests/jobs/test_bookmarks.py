"""Job bookmarks on file sources: new, changed and failed files, pause, disable, reset, rewind,
set, sources without transformation_ctx, and the ``etl bookmark`` commands.

Each test has its own catalog database and input folder; reads go through the real
GlueContext -> reader -> bookmark hook path on the session's local Spark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import ANY

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from etl.bookmark_cli import bookmark_app
from etl.catalog import Catalog
from etl.catalog.job_models import BookmarkFileRow, JobRunRow
from etl.context import GlueContext
from etl.errors import ConfigError, JobError
from etl.jobs import bookmarks
from etl.jobs.job import Job

ENABLE, DISABLE, PAUSE = bookmarks.ENABLE, bookmarks.DISABLE, bookmarks.PAUSE


@dataclass
class Env:
    glue: GlueContext
    catalog: Catalog
    input: Path

    def write(self, name: str, ids: list[int]) -> Path:
        path = self.input / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"id": ids, "name": [f"n{i}" for i in ids]}), path)
        return path

    def run_row(self, run_id: str) -> JobRunRow:
        with Session(self.catalog.engine) as session:
            row = session.get(JobRunRow, run_id)
            assert row is not None
            return row

    def recorded(self, job: str = "j") -> dict[str, str]:
        """Recorded file name -> committing run id."""
        with Session(self.catalog.engine) as session:
            rows = session.query(BookmarkFileRow).filter_by(job_name=job).all()
            return {Path(r.path).name: r.run_id for r in rows}


@pytest.fixture
def env(spark, tmp_path: Path) -> Iterator[Env]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield Env(GlueContext(spark, catalog=catalog), catalog, tmp_path / "in")
    bookmarks.activate(None)
    catalog.close()


def start(env: Env, option: str = ENABLE, name: str = "j", **extra: str) -> Job:
    job = Job(env.glue)
    job.init(name, {"JOB_NAME": name, "job_bookmark_option": option, **extra})
    return job


def read_ids(env: Env, ctx: str = "src", path: Path | None = None) -> list[int]:
    frame = env.glue.create_dynamic_frame.from_options(
        "s3",
        {"paths": [str(path or env.input)]},
        format="parquet",
        transformation_ctx=ctx,
    )
    return sorted(r["id"] for r in frame.toDF().collect())


def run(env: Env, option: str = ENABLE, **extra: str) -> tuple[Job, list[int]]:
    """One complete run: init, read, commit."""
    job = start(env, option, **extra)
    ids = read_ids(env)
    job.commit()
    return job, ids


def test_a_rerun_reads_only_new_files(env):
    env.write("a.parquet", [1, 2])
    env.write("b.parquet", [3])
    first, ids = run(env)
    assert ids == [1, 2, 3]
    assert env.recorded() == {"a.parquet": first.run_id, "b.parquet": first.run_id}

    env.write("c.parquet", [4, 5])
    second, ids = run(env)
    assert ids == [4, 5]
    row = env.run_row(second.run_id)
    assert row.state == "SUCCEEDED" and row.end_time is not None
    src = row.bookmark["sources"]["src"]
    assert (src["files_read"], src["files_skipped"], src["new"], src["changed"]) == (1, 2, 1, 0)
    assert row.bookmark["committed"] is True
    assert env.recorded()["c.parquet"] == second.run_id

    third, ids = run(env)  # nothing new: an empty frame with the source's columns, not an error
    assert ids == []
    assert env.run_row(third.run_id).bookmark["sources"]["src"]["files_skipped"] == 3


def test_an_empty_read_keeps_the_schema(env):
    env.write("a.parquet", [1])
    run(env)
    job = start(env)
    frame = env.glue.create_dynamic_frame.from_options(
        "s3",
        {"paths": [str(env.input)]},
        format="parquet",
        transformation_ctx="src",
    ).toDF()
    assert frame.columns == ["id", "name"] and frame.count() == 0
    job.commit()


def test_a_changed_file_is_read_again(env):
    env.write("a.parquet", [1])
    env.write("b.parquet", [2])
    run(env)
    env.write("b.parquet", [2, 3])  # size changes
    job, ids = run(env)
    assert ids == [2, 3]
    src = env.run_row(job.run_id).bookmark["sources"]["src"]
    assert (src["files_read"], src["files_skipped"], src["changed"], src["new"]) == (1, 1, 1, 0)

    a = env.input / "a.parquet"
    stat = a.stat()
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # same size, newer mtime
    _, ids = run(env)
    assert ids == [1]


def test_a_failed_run_processes_its_files_again(env):
    env.write("a.parquet", [1])
    run(env)
    env.write("b.parquet", [2])
    failing = start(env)
    assert read_ids(env) == [2]
    failing._at_exit()  # what the interpreter does when the script raises before job.commit()
    row = env.run_row(failing.run_id)
    assert row.state == "FAILED" and "without job.commit()" in row.error_message
    assert row.bookmark["sources"]["src"]["files_read"] == 1 and row.bookmark["committed"] is False
    assert "b.parquet" not in env.recorded()
    assert bookmarks.active() is None

    _, ids = run(env)
    assert ids == [2]


def test_an_uncaught_exception_is_the_failure_message(env, monkeypatch):
    from etl.jobs import job as job_module

    env.write("a.parquet", [1])
    failing = start(env)
    read_ids(env)
    monkeypatch.setattr(job_module, "_uncaught", [RuntimeError("disk full")])
    failing._at_exit()
    row = env.run_row(failing.run_id)
    assert (row.state, row.error_message) == ("FAILED", "RuntimeError: disk full")
    assert env.recorded() == {}


def test_commit_after_the_run_was_stopped_records_nothing(env):
    env.write("a.parquet", [1])
    job = start(env)
    read_ids(env)
    assert bookmarks.fail_run(env.catalog.engine, job.run_id, "stopped by the runner", state="STOPPED")
    with pytest.raises(JobError, match="STOPPED"):
        job.commit()
    assert env.run_row(job.run_id).state == "STOPPED"
    assert env.recorded() == {}
    job.fail("cleanup")  # releases the active bookmark; the STOPPED state stays
    assert env.run_row(job.run_id).state == "STOPPED"


def test_pause_reads_new_files_without_recording_them(env):
    env.write("a.parquet", [1])
    run(env)
    env.write("b.parquet", [2])
    paused, ids = run(env, PAUSE)
    assert ids == [2]
    row = env.run_row(paused.run_id)
    assert row.state == "SUCCEEDED" and row.bookmark["committed"] is False
    assert row.bookmark["sources"]["src"]["files_skipped"] == 1
    assert "b.parquet" not in env.recorded()
    _, ids = run(env)  # the paused run did not advance the bookmark
    assert ids == [2]


def test_pause_with_from_and_to_reads_what_the_runs_between_committed(env):
    env.write("a.parquet", [1])
    r1, _ = run(env)
    env.write("b.parquet", [2])
    r2, _ = run(env)
    env.write("c.parquet", [3])
    r3, _ = run(env)
    env.write("d.parquet", [4])  # never committed: later than any "to", so never read by a window

    window, ids = run(env, PAUSE, job_bookmark_from=r1.run_id, job_bookmark_to=r2.run_id)
    assert ids == [2]
    src = env.run_row(window.run_id).bookmark["sources"]["src"]
    assert (src["files_read"], src["files_skipped"]) == (1, 3)
    _, ids = run(env, PAUSE, job_bookmark_from=r1.run_id, job_bookmark_to=r3.run_id)
    assert ids == [2, 3]
    _, ids = run(env, PAUSE, job_bookmark_from=r2.run_id, job_bookmark_to=r2.run_id)
    assert ids == []
    assert env.recorded() == {"a.parquet": r1.run_id, "b.parquet": r2.run_id, "c.parquet": r3.run_id}

    with pytest.raises(ConfigError, match="give both"):
        start(env, PAUSE, job_bookmark_from=r1.run_id)
    with pytest.raises(ConfigError, match="later than"):
        start(env, PAUSE, job_bookmark_from=r3.run_id, job_bookmark_to=r1.run_id)
    with pytest.raises(ConfigError, match="not found"):
        start(env, PAUSE, job_bookmark_from="jr_nope", job_bookmark_to=r1.run_id)


def test_disable_reads_everything_and_records_nothing(env):
    env.write("a.parquet", [1])
    run(env)
    env.write("b.parquet", [2])
    job, ids = run(env, DISABLE)
    assert ids == [1, 2]
    assert env.run_row(job.run_id).state == "SUCCEEDED"
    assert "b.parquet" not in env.recorded()


def test_an_unknown_option_is_refused_before_a_run_starts(env):
    with pytest.raises(ConfigError, match="job-bookmark-option"):
        start(env, "job-bookmark-on")
    with Session(env.catalog.engine) as session:
        assert session.query(JobRunRow).count() == 0


def test_sources_without_transformation_ctx_are_not_bookmarked(env):
    env.write("a.parquet", [1])
    run(env)
    job = start(env)
    assert read_ids(env, ctx="") == [1]
    assert read_ids(env, ctx="src") == []
    job.commit()
    report = env.run_row(job.run_id).bookmark
    assert report["unbookmarked_reads"] == 1 and list(report["sources"]) == ["src"]


def test_sources_are_kept_apart_by_transformation_ctx(env):
    env.write("a.parquet", [1])
    job = start(env)
    assert read_ids(env, ctx="one") == [1]
    job.commit()
    job = start(env)
    assert read_ids(env, ctx="one") == []
    assert read_ids(env, ctx="two") == [1]
    job.commit()


def test_partition_columns_survive_the_file_filter(env):
    env.write("year=2023/a.parquet", [1])
    run(env)
    env.write("year=2024/b.parquet", [2])
    job = start(env)
    frame = env.glue.create_dynamic_frame.from_options(
        "s3",
        {"paths": [str(env.input)]},
        format="parquet",
        transformation_ctx="src",
    ).toDF()
    assert [(r["id"], r["year"]) for r in frame.collect()] == [(2, 2024)]
    job.commit()


def test_catalog_table_reads_are_bookmarked(env):
    env.write("year=2023/a.parquet", [1])
    env.catalog.create_database(DatabaseInput={"Name": "db"})
    env.catalog.create_table(
        DatabaseName="db",
        TableInput={
            "Name": "t",
            "StorageDescriptor": {
                "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "name", "Type": "string"}],
                "Location": str(env.input),
            },
            "PartitionKeys": [{"Name": "year", "Type": "int"}],
            "Parameters": {"classification": "parquet"},
        },
    )
    env.catalog.create_partition(
        "db", "t", {"Values": ["2023"], "StorageDescriptor": {"Location": str(env.input / "year=2023")}}
    )

    def read() -> list[tuple[int, int]]:
        frame = env.glue.create_dynamic_frame.from_catalog("db", "t", transformation_ctx="table").toDF()
        return sorted((r["id"], r["year"]) for r in frame.collect())

    job = start(env)
    assert read() == [(1, 2023)]
    job.commit()
    env.write("year=2023/b.parquet", [2])
    job = start(env)
    assert read() == [(2, 2023)]
    job.commit()
    assert env.recorded() == {"a.parquet": ANY, "b.parquet": job.run_id}


def test_plain_subfolders_count_only_with_recurse(env):
    env.write("a.parquet", [1])
    env.write("late/b.parquet", [2])
    job = start(env)
    assert read_ids(env) == [1]  # as Spark: a plain sub-folder is not read without recurse
    job.commit()
    job = start(env)
    frame = env.glue.create_dynamic_frame.from_options(
        "s3",
        {"paths": [str(env.input)], "recurse": True},
        format="parquet",
        transformation_ctx="src",
    )
    assert sorted(r["id"] for r in frame.toDF().collect()) == [2]
    job.commit()


def test_reset_forgets_everything(env):
    env.write("a.parquet", [1])
    run(env)
    assert bookmarks.reset(env.catalog.engine, "j") == 1
    _, ids = run(env)
    assert ids == [1]


def test_rewind_drops_what_later_runs_committed(env):
    env.write("a.parquet", [1])
    r1, _ = run(env)
    env.write("b.parquet", [2])
    run(env)
    env.write("c.parquet", [3])
    run(env)
    assert bookmarks.rewind(env.catalog.engine, "j", r1.run_id) == 2
    assert env.recorded() == {"a.parquet": r1.run_id}
    _, ids = run(env)
    assert ids == [2, 3]


def test_rewind_to_a_failed_run_is_the_state_it_started_from(env):
    env.write("a.parquet", [1])
    r1, _ = run(env)
    failing = start(env)
    failing.fail("boom")
    env.write("b.parquet", [2])
    run(env)
    assert bookmarks.rewind(env.catalog.engine, "j", failing.run_id) == 1
    assert env.recorded() == {"a.parquet": r1.run_id}
    with pytest.raises(ConfigError, match="belongs to job"):
        bookmarks.rewind(env.catalog.engine, "other", r1.run_id)


def test_a_run_started_by_the_runner_is_joined_not_created(env):
    env.write("a.parquet", [1])
    when = datetime.now(UTC)
    with Session(env.catalog.engine) as session, session.begin():
        session.add(
            JobRunRow(
                id="jr_runner",
                job_name="j",
                attempt=1,
                state="STARTING",
                arguments={},
                start_time=when,
                predecessor_runs=[],
                metrics={},
                data_quality=[],
                bookmark={},
            )
        )
    job = start(env, JOB_RUN_ID="jr_runner")
    assert job.run_id == "jr_runner" and not job.owns_run
    assert read_ids(env) == [1]
    job.commit()
    row = env.run_row("jr_runner")
    assert (row.state, row.attempt) == ("SUCCEEDED", 1)
    assert env.recorded() == {"a.parquet": "jr_runner"}
    # the process then exits non-zero: the runner marks it FAILED and the bookmark goes back
    assert bookmarks.fail_run(env.catalog.engine, "jr_runner", "exit 1 after commit", only_if_active=False)
    assert env.recorded() == {}
    assert env.run_row("jr_runner").bookmark["revoked_files"] == 1
    with pytest.raises(JobError, match="already ended"):
        start(env, JOB_RUN_ID="jr_runner")


def test_a_killed_run_is_marked_failed_by_the_next_init(env):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    env.write("a.parquet", [1])
    job = start(env)
    read_ids(env)
    with Session(env.catalog.engine) as session, session.begin():
        session.get(JobRunRow, job.run_id).pid = int(dead.stdout)  # as if the process had been killed
    bookmarks.activate(None)
    next_job, ids = run(env)
    assert ids == [1]
    killed = env.run_row(job.run_id)
    assert killed.state == "FAILED" and f"pid {int(dead.stdout)}" in killed.error_message
    assert env.recorded() == {"a.parquet": next_job.run_id}
    job._committed = True  # the "killed" object must not act at interpreter exit


def test_set_records_files_modified_before_a_time(env):
    old = env.write("old.parquet", [1])
    new = env.write("new.parquet", [2])
    os.utime(old, (1_700_000_000, 1_700_000_000))  # 2023-11-14
    os.utime(new, (1_800_000_000, 1_800_000_000))  # 2027-01-15
    count, marker = bookmarks.mark_processed(
        env.catalog.engine, "j", "src", [str(env.input)], datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert count == 1 and marker.startswith("set_")
    _, ids = run(env)
    assert ids == [2]


# ----- the etl bookmark commands ---------------------------------------------------------------------
def cli(env: Env, *args: str):
    result = CliRunner().invoke(bookmark_app, [*args, "--catalog", env.catalog.url])
    return result


def test_cli_show_reset_rewind_and_set(env):
    env.write("a.parquet", [1])
    r1, _ = run(env)
    env.write("b.parquet", [2])
    r2, _ = run(env)

    shown = cli(env, "show", "j")
    assert shown.exit_code == 0, shown.output
    assert "src" in shown.output
    listed = cli(env, "show", "j", "--files", "--json")
    assert listed.exit_code == 0, listed.output
    out = json.loads(listed.output)
    assert out["Sources"][0]["TransformationCtx"] == "src"
    assert (out["Sources"][0]["Files"], out["Sources"][0]["LastRunId"]) == (2, r2.run_id)
    assert {Path(f["Path"]).name: f["RunId"] for f in out["Files"]} == {"a.parquet": r1.run_id, "b.parquet": r2.run_id}

    rewound = cli(env, "rewind", "j", "--to-run", r1.run_id)
    assert rewound.exit_code == 0 and "1 file record(s) dropped" in rewound.output
    assert env.recorded() == {"a.parquet": r1.run_id}

    unknown = cli(env, "rewind", "j", "--to-run", "jr_missing")
    assert isinstance(unknown.exception, ConfigError)

    reset = cli(env, "reset", "j")
    assert reset.exit_code == 0 and "1 file record(s) dropped" in reset.output
    assert "no bookmark recorded" in cli(env, "show", "j").output

    set_all = cli(env, "set", "j", "--ctx", "src", "--path", str(env.input), "--files-before", "2999-01-01")
    assert set_all.exit_code == 0 and "2 file(s)" in set_all.output
    _, ids = run(env)
    assert ids == []

    bad_time = cli(env, "set", "j", "--ctx", "src", "--path", str(env.input), "--files-before", "yesterday")
    assert isinstance(bad_time.exception, ConfigError) and "ISO time" in str(bad_time.exception)


def test_cli_is_registered_on_etl():
    from etl.cli import app

    result = CliRunner().invoke(app, ["bookmark", "--help"])
    assert result.exit_code == 0
    for command in ("show", "reset", "rewind", "set"):
        assert command in result.output
