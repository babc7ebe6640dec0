"""Run history (Glue: JobRun) in the catalog database, shared by every process that runs jobs.

Each attempt of a run is one ``etl_job_runs`` row: ``STARTING`` when inserted, ``RUNNING`` once
its process started, then one of ``SUCCEEDED``, ``FAILED``, ``TIMEOUT``, ``STOPPED`` or ``ERROR``.
A retry is a new row with the next attempt number whose ``previous_run_id`` is the failed one.

Starting a run checks ``max_concurrent_runs`` and inserts the row in one transaction that holds a
per-job lock (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL), so
two processes cannot both take the last slot. A row whose supervising process is gone (its pid is
not alive on this host) or that sent no heartbeat for ``stale_after`` seconds is marked ``ERROR``
the next time history is read or a run starts, so a crash never leaves a run RUNNING forever. A
run that ends in any state but ``SUCCEEDED`` also drops the bookmark files it committed: a failed
run never advances a bookmark.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from etl.catalog import Catalog
from etl.catalog.job_models import BookmarkFileRow, JobRow, JobRunRow
from etl.errors import ConcurrentRunsExceededError, EntityNotFoundError, JobError
from etl.timeutil import as_utc, utc_now

log = logging.getLogger("etl.jobs.history")

STARTING, RUNNING = "STARTING", "RUNNING"
SUCCEEDED, FAILED, TIMEOUT, STOPPED, ERROR = "SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"
ACTIVE_STATES = (STARTING, RUNNING)
FINAL_STATES = (SUCCEEDED, FAILED, TIMEOUT, STOPPED, ERROR)
ABANDONED = "Run abandoned: "  # error-message prefix of runs marked ERROR by stale detection
HOST = socket.gethostname()


def new_run_id() -> str:
    return f"jr_{uuid.uuid4().hex}"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: existence is all we can tell
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass(frozen=True)
class RunRecord:
    """A job run attempt as stored (a detached copy of its row)."""

    id: str
    job_name: str
    attempt: int
    previous_run_id: str | None
    state: str
    arguments: dict[str, Any]
    start_time: datetime
    end_time: datetime | None
    duration_seconds: float | None
    timeout_minutes: float | None
    error_message: str | None
    predecessor_runs: list[Any]
    workflow_run_id: str | None
    pid: int | None
    host: str | None
    heartbeat_time: datetime | None
    metrics: dict[str, Any] = field(default_factory=dict)
    data_quality: list[Any] = field(default_factory=list)
    bookmark: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: JobRunRow) -> RunRecord:
        return cls(
            id=row.id,
            job_name=row.job_name,
            attempt=row.attempt,
            previous_run_id=row.previous_run_id,
            state=row.state,
            arguments=dict(row.arguments or {}),
            start_time=as_utc(row.start_time),  # type: ignore[arg-type]
            end_time=as_utc(row.end_time),
            duration_seconds=row.duration_seconds,
            timeout_minutes=row.timeout_minutes,
            error_message=row.error_message,
            predecessor_runs=list(row.predecessor_runs or []),
            workflow_run_id=row.workflow_run_id,
            pid=row.pid,
            host=row.host,
            heartbeat_time=as_utc(row.heartbeat_time),
            metrics=dict(row.metrics or {}),
            data_quality=list(row.data_quality or []),
            bookmark=dict(row.bookmark or {}),
        )

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def glue_shape(self) -> dict[str, Any]:
        """Glue's JobRun keys (``Id``, ``JobRunState``, ``StartedOn``, ...) plus this project's extras."""
        return {
            "Id": self.id,
            "JobName": self.job_name,
            "Attempt": self.attempt,
            "PreviousRunId": self.previous_run_id,
            "JobRunState": self.state,
            "Arguments": self.arguments,
            "StartedOn": _iso(self.start_time),
            "CompletedOn": _iso(self.end_time),
            "LastHeartbeat": _iso(self.heartbeat_time),
            "ExecutionTime": int(self.duration_seconds) if self.duration_seconds is not None else None,
            "DurationSeconds": self.duration_seconds,
            "Timeout": self.timeout_minutes,
            "ErrorMessage": self.error_message,
            "PredecessorRuns": self.predecessor_runs,
            "WorkflowRunId": self.workflow_run_id,
            "Pid": self.pid,
            "Host": self.host,
            "Metrics": self.metrics,
            "DataQuality": self.data_quality,
            "Bookmark": self.bookmark,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _lock_key(job_name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.blake2b(f"etl_job_runs:{job_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class RunHistory:
    """Job runs in the catalog database.

    Args:
        catalog: the catalog whose database holds the runs.
        stale_after: seconds without a heartbeat after which an active run counts as abandoned,
            whatever host it ran on (the runner heartbeats every few seconds).
    """

    def __init__(self, catalog: Catalog, *, stale_after: float = 600.0) -> None:
        self.catalog = catalog
        self.stale_after = stale_after

    # ----- starting -----------------------------------------------------------------------
    @contextmanager
    def _locked(self, job_name: str) -> Iterator[Session]:
        """A transaction holding the job's start lock until it commits."""
        with self.catalog._session() as s:
            dialect = s.get_bind().dialect.name
            if dialect == "sqlite":
                s.connection().exec_driver_sql("BEGIN IMMEDIATE")  # takes the database write lock now
            elif dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(job_name)})
            else:
                s.execute(select(JobRow.name).where(JobRow.name == job_name).with_for_update())
            yield s

    def start_run(
        self,
        job_name: str,
        *,
        arguments: Mapping[str, str],
        max_concurrent_runs: int = 1,
        timeout_minutes: float | None = None,
        workflow_run_id: str | None = None,
        predecessor_runs: Sequence[Mapping[str, Any]] = (),
    ) -> RunRecord:
        """Insert attempt 0 of a new run as STARTING, unless the job is at its concurrency limit.

        Active runs whose process is gone are marked ERROR first and do not count.

        Raises:
            ConcurrentRunsExceededError: ``max_concurrent_runs`` runs are active; names them.
        """
        now = utc_now()
        with self._locked(job_name) as s:
            active = s.scalars(
                select(JobRunRow)
                .where(JobRunRow.job_name == job_name, JobRunRow.state.in_(ACTIVE_STATES))
                .order_by(JobRunRow.start_time)
            ).all()
            live = []
            for row in active:
                reason = self._stale_reason(row, now)
                if reason:
                    self._abandon(s, row, reason, now)
                else:
                    live.append(row)
            refused = len(live) >= max_concurrent_runs
            if not refused:
                row = JobRunRow(
                    id=new_run_id(),
                    job_name=job_name,
                    attempt=0,
                    previous_run_id=None,
                    state=STARTING,
                    arguments=dict(arguments),
                    start_time=now,
                    timeout_minutes=timeout_minutes,
                    predecessor_runs=[dict(p) for p in predecessor_runs],
                    workflow_run_id=workflow_run_id,
                    pid=os.getpid(),
                    host=HOST,
                    heartbeat_time=now,
                    metrics={},
                    data_quality=[],
                    bookmark={},
                )
                s.add(row)
                s.flush()
                record = RunRecord.from_row(row)
            else:
                ids = [r.id for r in live]
                details = [
                    f"{r.id} ({r.state} since {_iso(as_utc(r.start_time))}, pid {r.pid} on {r.host})" for r in live
                ]
        if refused:
            raise ConcurrentRunsExceededError(job_name, max_concurrent_runs, ids, details)
        return record

    def mark_running(self, run_id: str) -> RunRecord:
        """STARTING -> RUNNING when the attempt's process has started; ``start_time`` becomes now.

        A row the job's process already moved on (a quick ``Job.commit``) is left as it is.
        """
        with self.catalog._session() as s:
            row = self._row(s, run_id)
            if row.state == STARTING:
                now = utc_now()
                row.state, row.start_time, row.heartbeat_time = RUNNING, now, now
            return RunRecord.from_row(row)

    def heartbeat(self, run_id: str) -> None:
        """Note that the run's supervisor is alive (only while the run is active)."""
        with self.catalog._session() as s:
            row = s.get(JobRunRow, run_id)
            if row is not None and row.state in ACTIVE_STATES:
                row.heartbeat_time = utc_now()

    # ----- ending -------------------------------------------------------------------------
    def finish(
        self,
        run_id: str,
        state: str,
        *,
        error_message: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        data_quality: Sequence[Any] | None = None,
        bookmark: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """End an attempt in a final ``state`` with its end time, duration and results.

        A run already final is left as it is (and returned), except one marked abandoned by stale
        detection: its real outcome replaces the guess.

        Raises:
            JobError: ``state`` is not a final state.
            EntityNotFoundError: no such run.
        """
        with self.catalog._session() as s:
            row = self._row(s, run_id)
            self._finish_row(s, row, state, error_message, metrics, data_quality, bookmark)
            return RunRecord.from_row(row)

    def retry(self, run_id: str, state: str, *, error_message: str | None = None) -> RunRecord:
        """End attempt ``run_id`` and insert the next attempt (STARTING) in the same transaction.

        The new row keeps the run's concurrency slot while the retry waits for its delay.
        """
        with self.catalog._session() as s:
            row = self._row(s, run_id)
            self._finish_row(s, row, state, error_message, None, None, None)
            now = utc_now()
            nxt = JobRunRow(
                id=new_run_id(),
                job_name=row.job_name,
                attempt=row.attempt + 1,
                previous_run_id=row.id,
                state=STARTING,
                arguments=dict(row.arguments or {}),
                start_time=now,
                timeout_minutes=row.timeout_minutes,
                predecessor_runs=list(row.predecessor_runs or []),
                workflow_run_id=row.workflow_run_id,
                pid=os.getpid(),
                host=HOST,
                heartbeat_time=now,
                metrics={},
                data_quality=[],
                bookmark={},
            )
            s.add(nxt)
            s.flush()
            return RunRecord.from_row(nxt)

    def _finish_row(
        self,
        s: Session,
        row: JobRunRow,
        state: str,
        error_message: str | None,
        metrics: Mapping[str, Any] | None,
        data_quality: Sequence[Any] | None,
        bookmark: Mapping[str, Any] | None,
    ) -> None:
        if state not in FINAL_STATES:
            raise JobError(f"run {row.id}: {state} is not a final state ({', '.join(FINAL_STATES)})")
        if row.state in FINAL_STATES and not (row.error_message or "").startswith(ABANDONED):
            # The job's process may have ended the row itself (Job.commit -> SUCCEEDED, Job.fail -> FAILED).
            if row.state == state or state == SUCCEEDED:
                # same outcome, or a run the job itself failed although its process exited 0: keep the job's word
                row.error_message = row.error_message or error_message
                self._merge(row, metrics, data_quality, bookmark)
                return
            # the job committed, then its process failed, timed out or was stopped: the process's outcome wins
            log.warning("run %s was %s but its process ended %s; recording %s", row.id, row.state, state, state)
        now = utc_now()
        row.state, row.end_time, row.error_message = state, now, error_message
        row.duration_seconds = (now - as_utc(row.start_time)).total_seconds()  # type: ignore[operator]
        self._merge(row, metrics, data_quality, bookmark)
        if state != SUCCEEDED:
            self._drop_bookmark_files(s, row)

    def record_results(
        self,
        run_id: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        data_quality: Sequence[Any] | None = None,
        bookmark: Mapping[str, Any] | None = None,
    ) -> None:
        """Merge results a job reports while it runs: metrics and bookmark keys are updated,
        data-quality results appended. Called from the job's process with its ``JOB_RUN_ID``.
        """
        with self.catalog._session() as s:
            self._merge(self._row(s, run_id), metrics, data_quality, bookmark)

    @staticmethod
    def _merge(
        row: JobRunRow,
        metrics: Mapping[str, Any] | None,
        data_quality: Sequence[Any] | None,
        bookmark: Mapping[str, Any] | None,
    ) -> None:
        # JSON columns: assign new objects so the change is seen
        if metrics:
            row.metrics = {**(row.metrics or {}), **metrics}
        if data_quality:
            row.data_quality = [*(row.data_quality or []), *data_quality]
        if bookmark:
            row.bookmark = {**(row.bookmark or {}), **bookmark}

    @staticmethod
    def _drop_bookmark_files(s: Session, row: JobRunRow) -> None:
        """A run that did not succeed never advances a bookmark: forget files it committed."""
        dropped = s.execute(delete(BookmarkFileRow).where(BookmarkFileRow.run_id == row.id)).rowcount
        if dropped:
            row.bookmark = {**(row.bookmark or {}), "committed": False, "revoked_files": dropped}

    # ----- stale runs ---------------------------------------------------------------------
    def _stale_reason(self, row: JobRunRow, now: datetime) -> str | None:
        """Why an active row is abandoned, or None.

        On this host the pid decides. A row from another host is abandoned when it has heartbeated
        (the runner does, every few seconds) but not for ``stale_after`` seconds; rows that never
        heartbeat (a plain ``spark-submit``'s ``Job.init``) are judged on their own host only.
        """
        if row.host == HOST and row.pid is not None:
            if pid_alive(row.pid):
                return None
            return f"process {row.pid} on {row.host} is gone (the runner crashed or was killed)"
        last, start = as_utc(row.heartbeat_time), as_utc(row.start_time)
        if last is not None and start is not None and last > start and now - last > timedelta(seconds=self.stale_after):
            return (
                f"no heartbeat from process {row.pid} on {row.host} since {_iso(last)} "
                f"(over {self.stale_after:.0f}s ago)"
            )
        return None

    def _abandon(self, s: Session, row: JobRunRow, reason: str, now: datetime) -> None:
        log.warning("run %s of job %s: %s; marking it ERROR", row.id, row.job_name, reason)
        row.state, row.end_time, row.error_message = ERROR, now, ABANDONED + reason
        row.duration_seconds = (now - as_utc(row.start_time)).total_seconds()  # type: ignore[operator]
        self._drop_bookmark_files(s, row)

    def reap_stale(self, job_name: str | None = None) -> list[RunRecord]:
        """Mark active runs whose process is gone as ERROR; returns them."""
        now = utc_now()
        reaped = []
        with self.catalog._session() as s:
            query = select(JobRunRow).where(JobRunRow.state.in_(ACTIVE_STATES))
            if job_name is not None:
                query = query.where(JobRunRow.job_name == job_name)
            for row in s.scalars(query).all():
                reason = self._stale_reason(row, now)
                if reason:
                    self._abandon(s, row, reason, now)
                    reaped.append(RunRecord.from_row(row))
        return reaped

    # ----- reading ------------------------------------------------------------------------
    @staticmethod
    def _row(s: Session, run_id: str) -> JobRunRow:
        row = s.get(JobRunRow, run_id)
        if row is None:
            raise EntityNotFoundError(f"job run {run_id} not found")
        return row

    def get(self, run_id: str, *, reap: bool = True) -> RunRecord:
        """One attempt by id (stale detection first, so an abandoned run reads as ERROR).

        Raises:
            EntityNotFoundError: no such run.
        """
        if reap:
            with self.catalog._session() as s:
                row = self._row(s, run_id)
                if row.state in ACTIVE_STATES:
                    now = utc_now()
                    reason = self._stale_reason(row, now)
                    if reason:
                        self._abandon(s, row, reason, now)
        with self.catalog._session() as s:
            return RunRecord.from_row(self._row(s, run_id))

    def list(self, job_name: str | None = None, *, limit: int = 20, reap: bool = True) -> list[RunRecord]:
        """Attempts of ``job_name`` (all jobs when None), newest first."""
        if reap:
            self.reap_stale(job_name)
        with self.catalog._session() as s:
            query = select(JobRunRow)
            if job_name is not None:
                query = query.where(JobRunRow.job_name == job_name)
            rows = s.scalars(query.order_by(JobRunRow.start_time.desc(), JobRunRow.attempt.desc()).limit(limit))
            return [RunRecord.from_row(r) for r in rows.all()]

    def attempts(self, run_id: str) -> list[RunRecord]:
        """Every attempt of the run ``run_id`` belongs to, first attempt first."""
        with self.catalog._session() as s:
            row = self._row(s, run_id)
            chain = [row]
            while chain[0].previous_run_id:
                prev = s.get(JobRunRow, chain[0].previous_run_id)
                if prev is None:
                    break
                chain.insert(0, prev)
            while True:
                nxt = s.scalars(select(JobRunRow).where(JobRunRow.previous_run_id == chain[-1].id)).first()
                if nxt is None:
                    break
                chain.append(nxt)
            return [RunRecord.from_row(r) for r in chain]

    def active(self, job_name: str) -> list[RunRecord]:
        """The job's STARTING/RUNNING attempts (after stale detection)."""
        self.reap_stale(job_name)
        with self.catalog._session() as s:
            rows = s.scalars(
                select(JobRunRow).where(JobRunRow.job_name == job_name, JobRunRow.state.in_(ACTIVE_STATES))
            )
            return [RunRecord.from_row(r) for r in rows.all()]
