"""Run history on SQLite and PostgreSQL: states, retries, concurrency limits across processes,
stale runs, and the rule that a run that did not succeed never keeps bookmark files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from etl.catalog import Catalog
from etl.catalog.job_models import BookmarkFileRow, JobRunRow
from etl.errors import ConcurrentRunsExceededError, EntityNotFoundError, JobError
from etl.jobs.history import ABANDONED, HOST, RunHistory, pid_alive

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from pg_server import PostgresServer, PostgresUnavailable  # noqa: E402


@pytest.fixture(scope="module")
def pg_database() -> Iterator[tuple[PostgresServer, str]]:
    try:
        server = PostgresServer.from_environment()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is required for the run-history tests:\n{exc}", pytrace=False)
    try:
        url = server.create_database("etl_jobs_history")
        try:
            yield server, url
        finally:
            server.drop_database(url)
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    server, database = request.getfixturevalue("pg_database")
    url = server.create_schema(database)
    try:
        yield url
    finally:
        server.drop_schema(url)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog(catalog_url)
    yield cat
    cat.close()


@pytest.fixture
def history(catalog: Catalog) -> RunHistory:
    return RunHistory(catalog)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    return proc.pid


def set_row(catalog: Catalog, run_id: str, **values) -> None:
    with catalog._session() as s:
        s.execute(update(JobRunRow).where(JobRunRow.id == run_id).values(**values))


def test_a_run_goes_starting_running_succeeded(history):
    started = history.start_run("j", arguments={"input": "x"}, timeout_minutes=5)
    assert (started.state, started.attempt, started.previous_run_id) == ("STARTING", 0, None)
    assert started.id.startswith("jr_") and started.pid == os.getpid() and started.host == HOST
    running = history.mark_running(started.id)
    assert running.state == "RUNNING"
    history.record_results(started.id, metrics={"rows_read": {"orders": 10}}, data_quality=[{"rule": "a"}])
    history.record_results(
        started.id,
        metrics={"rows_written": {"out": 9}},
        data_quality=[{"rule": "b"}],
        bookmark={"orders": {"files_read": 2}},
    )
    done = history.finish(started.id, "SUCCEEDED", metrics={"seconds": 1.5})
    assert done.state == "SUCCEEDED" and done.end_time is not None and done.end_time >= done.start_time
    assert done.duration_seconds == pytest.approx((done.end_time - done.start_time).total_seconds())
    assert done.metrics == {"rows_read": {"orders": 10}, "rows_written": {"out": 9}, "seconds": 1.5}
    assert done.data_quality == [{"rule": "a"}, {"rule": "b"}]
    assert done.bookmark == {"orders": {"files_read": 2}}
    assert done.arguments == {"input": "x"} and done.timeout_minutes == 5
    assert history.get(started.id) == done
    shape = done.glue_shape()
    assert shape["Id"] == started.id and shape["JobRunState"] == "SUCCEEDED" and shape["Metrics"] == done.metrics


def test_finish_needs_a_final_state_and_an_existing_run(history):
    run = history.start_run("j", arguments={})
    with pytest.raises(JobError, match="RUNNING is not a final state"):
        history.finish(run.id, "RUNNING")
    with pytest.raises(EntityNotFoundError, match="jr_missing"):
        history.get("jr_missing")


def test_retry_ends_the_attempt_and_links_the_next(history):
    first = history.start_run("j", arguments={"a": "1"}, timeout_minutes=2)
    history.mark_running(first.id)
    second = history.retry(first.id, "FAILED", error_message="ValueError: boom")
    assert (second.attempt, second.previous_run_id, second.state) == (1, first.id, "STARTING")
    assert second.arguments == {"a": "1"} and second.timeout_minutes == 2
    failed = history.get(first.id)
    assert failed.state == "FAILED" and failed.error_message == "ValueError: boom" and failed.end_time
    third = history.retry(second.id, "TIMEOUT", error_message="timed out")
    history.finish(third.id, "SUCCEEDED")
    chain = history.attempts(second.id)
    assert [(r.attempt, r.state) for r in chain] == [(0, "FAILED"), (1, "TIMEOUT"), (2, "SUCCEEDED")]
    assert [r.previous_run_id for r in chain] == [None, first.id, second.id]


def test_list_is_per_job_newest_first(history):
    ids = []
    for _ in range(3):
        run = history.start_run("a", arguments={}, max_concurrent_runs=5)
        history.finish(run.id, "SUCCEEDED")
        ids.append(run.id)
        time.sleep(0.01)
    other = history.start_run("b", arguments={})
    assert [r.id for r in history.list("a")] == ids[::-1]
    assert [r.id for r in history.list("a", limit=2)] == ids[:0:-1]
    assert history.list("b")[0].id == other.id
    assert {r.id for r in history.list()} == {*ids, other.id}
    assert history.list("nobody") == []


def test_concurrency_limit_refuses_naming_the_active_runs(history):
    first = history.start_run("j", arguments={}, max_concurrent_runs=1)
    with pytest.raises(ConcurrentRunsExceededError) as info:
        history.start_run("j", arguments={}, max_concurrent_runs=1)
    message = str(info.value)
    assert info.value.run_ids == [first.id]
    assert "max_concurrent_runs is 1" in message and first.id in message and f"pid {os.getpid()}" in message
    history.start_run("other", arguments={}, max_concurrent_runs=1)  # per job
    second = history.start_run("j", arguments={}, max_concurrent_runs=2)
    with pytest.raises(ConcurrentRunsExceededError) as info:
        history.start_run("j", arguments={}, max_concurrent_runs=2)
    assert sorted(info.value.run_ids) == sorted([first.id, second.id])
    history.finish(first.id, "FAILED")
    history.start_run("j", arguments={}, max_concurrent_runs=2)  # a finished run frees its slot


def test_a_retry_keeps_the_slot_while_it_waits(history):
    first = history.start_run("j", arguments={}, max_concurrent_runs=1)
    nxt = history.retry(first.id, "FAILED", error_message="x")
    with pytest.raises(ConcurrentRunsExceededError) as info:
        history.start_run("j", arguments={}, max_concurrent_runs=1)
    assert info.value.run_ids == [nxt.id]


def test_a_run_whose_process_is_gone_is_marked_error_and_does_not_count(catalog, history):
    run = history.start_run("j", arguments={}, max_concurrent_runs=1)
    history.mark_running(run.id)
    pid = dead_pid()
    set_row(catalog, run.id, pid=pid)
    replacement = history.start_run("j", arguments={}, max_concurrent_runs=1)  # the dead run does not count
    stale = history.get(run.id)
    assert stale.state == "ERROR" and stale.end_time is not None
    assert stale.error_message.startswith(ABANDONED) and f"process {pid} on {HOST} is gone" in stale.error_message
    assert history.get(replacement.id).state == "STARTING"


def test_reading_history_reaps_dead_runs(catalog, history):
    run = history.start_run("j", arguments={})
    set_row(catalog, run.id, pid=dead_pid())
    listed = history.list("j")
    assert listed[0].state == "ERROR" and "is gone" in listed[0].error_message
    assert history.reap_stale() == []


def test_other_hosts_are_judged_by_their_heartbeat(catalog):
    history = RunHistory(catalog, stale_after=60)
    old = datetime.now(UTC) - timedelta(minutes=10)
    beating = history.start_run("j", arguments={}, max_concurrent_runs=3)
    silent = history.start_run("j", arguments={}, max_concurrent_runs=3)
    fresh = history.start_run("j", arguments={}, max_concurrent_runs=3)
    # heartbeated, but not for 10 minutes
    set_row(catalog, beating.id, host="elsewhere", pid=1, start_time=old - timedelta(minutes=5), heartbeat_time=old)
    # never heartbeated (a plain spark-submit's row): only its own host can judge it
    set_row(catalog, silent.id, host="elsewhere", pid=1, start_time=old, heartbeat_time=old)
    set_row(catalog, fresh.id, host="elsewhere", pid=1, start_time=old, heartbeat_time=datetime.now(UTC))
    reaped = history.reap_stale("j")
    assert [r.id for r in reaped] == [beating.id]
    assert "no heartbeat from process 1 on elsewhere" in history.get(beating.id).error_message
    assert history.get(silent.id).state == history.get(fresh.id).state == "STARTING"


def test_heartbeat_moves_only_active_runs(catalog, history):
    run = history.start_run("j", arguments={})
    before = history.get(run.id).heartbeat_time
    time.sleep(0.02)
    history.heartbeat(run.id)
    after = history.get(run.id).heartbeat_time
    assert after > before
    history.finish(run.id, "SUCCEEDED")
    history.heartbeat(run.id)
    assert history.get(run.id).heartbeat_time == after


def add_bookmark_file(catalog: Catalog, run_id: str, path: str) -> None:
    with catalog._session() as s:
        s.add(
            BookmarkFileRow(
                job_name="j",
                transformation_ctx="src",
                path=path,
                size=1,
                mtime=1.0,
                run_id=run_id,
                commit_time=datetime.now(UTC),
            )
        )


def bookmark_paths(catalog: Catalog) -> list[str]:
    with catalog._session() as s:
        return sorted(s.scalars(select(BookmarkFileRow.path)))


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "STOPPED", "ERROR"])
def test_a_run_that_did_not_succeed_drops_its_bookmark_files(catalog, history, state):
    kept = history.start_run("j", arguments={}, max_concurrent_runs=2)
    add_bookmark_file(catalog, kept.id, "/data/a.csv")
    history.finish(kept.id, "SUCCEEDED")
    failed = history.start_run("j", arguments={}, max_concurrent_runs=2)
    add_bookmark_file(catalog, failed.id, "/data/b.csv")
    record = history.finish(failed.id, state, error_message="x")
    assert bookmark_paths(catalog) == ["/data/a.csv"]
    assert record.bookmark == {"committed": False, "revoked_files": 1}


def test_the_process_outcome_wins_over_a_commit_it_made(catalog, history):
    run = history.start_run("j", arguments={})
    history.mark_running(run.id)
    add_bookmark_file(catalog, run.id, "/data/a.csv")
    set_row(catalog, run.id, state="SUCCEEDED", end_time=datetime.now(UTC))  # Job.commit in the job's process
    record = history.finish(run.id, "FAILED", error_message="the job process exited with code 1")
    assert record.state == "FAILED" and record.error_message == "the job process exited with code 1"
    assert bookmark_paths(catalog) == []


def test_a_failure_the_job_recorded_stands_even_if_its_process_exits_0(catalog, history):
    run = history.start_run("j", arguments={})
    set_row(catalog, run.id, state="FAILED", error_message="ValueError: bad input", end_time=datetime.now(UTC))
    record = history.finish(run.id, "SUCCEEDED")
    assert (record.state, record.error_message) == ("FAILED", "ValueError: bad input")
    same = history.finish(run.id, "FAILED", error_message="exit code 1")
    assert same.error_message == "ValueError: bad input"  # the job's own message is kept


def test_an_abandoned_run_takes_its_real_outcome(catalog, history):
    run = history.start_run("j", arguments={})
    set_row(catalog, run.id, pid=dead_pid())
    assert history.get(run.id).state == "ERROR"
    assert history.finish(run.id, "SUCCEEDED").state == "SUCCEEDED"


RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from etl.catalog import Catalog
    from etl.errors import ConcurrentRunsExceededError
    from etl.jobs.history import RunHistory
    url, go, done, limit = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    history = RunHistory(Catalog(url))
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    try:
        run = history.start_run("race", arguments={}, max_concurrent_runs=limit)
        print("started", run.id, flush=True)
    except ConcurrentRunsExceededError as exc:
        print("refused", exc, flush=True)
    while not done.exists():  # stay alive: a run whose process is gone would not count
        time.sleep(0.05)
""")


@pytest.mark.e2e
@pytest.mark.parametrize("limit", [1, 2])
def test_concurrent_starts_from_several_processes_respect_the_limit(catalog, catalog_url, tmp_path, limit):
    go, done = tmp_path / "go", tmp_path / "done"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, catalog_url, str(go), str(done), str(limit)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for racer in racers:
            assert racer.stdout.readline().strip() == "ready", racer.stderr.read()
        go.touch()
        lines = [racer.stdout.readline().strip() for racer in racers]
    finally:
        done.touch()
        for racer in racers:
            racer.wait(timeout=60)
    started = [line.split()[1] for line in lines if line.startswith("started")]
    refused = [line for line in lines if line.startswith("refused")]
    assert len(started) == limit and len(refused) == 4 - limit, lines
    assert all(f"max_concurrent_runs is {limit}" in line for line in refused)
    with catalog._session() as s:
        rows = s.scalars(select(JobRunRow.id).where(JobRunRow.job_name == "race")).all()
    assert sorted(rows) == sorted(started)
