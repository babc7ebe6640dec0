"""``Job``: Glue's job object (``init`` at the start of a script, ``commit`` at the end).

``init`` attaches the script to its run row in the catalog table ``etl_job_runs``: the row the
runner created (its id comes as ``--JOB_RUN_ID``), or, under plain ``spark-submit``, a new row
in state RUNNING that this process owns. It also activates the run's job bookmark
(:mod:`etl.jobs.bookmarks`). ``commit`` marks the run SUCCEEDED and records the files the
bookmarked sources read, in one transaction.

A run this process owns is never left RUNNING: an uncaught exception, or the interpreter
exiting without ``job.commit()``, marks it FAILED (from an ``atexit`` handler; the exit status
itself is not visible there, so a script that ends without committing is recorded as FAILED).
If the process is killed outright, the next ``Job.init`` of the same job on the same host finds
the row's process gone and marks it FAILED. Nothing is committed in any of these cases, so the
bookmark does not advance.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from etl.catalog.job_models import JobRunRow
from etl.errors import JobError, spark_error_summary
from etl.jobs import bookmarks

log = logging.getLogger("etl.job")

_uncaught: list[BaseException] = []  # the exception that is ending the interpreter, if any
_previous_hook = sys.excepthook


def _record_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    _uncaught.append(exc)
    _previous_hook(kind, exc, tb)


def _arg(args: Mapping[str, Any], name: str) -> Any:
    """An argument by its resolved name (``job_bookmark_option``) or as given (``job-bookmark-option``)."""
    value = args.get(name)
    return value if value is not None else args.get(name.replace("_", "-"))


def _json_safe(args: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v if isinstance(v, str | int | float | bool | type(None)) else str(v) for k, v in args.items()}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(engine: Engine, job_name: str) -> list[str]:
    """Mark FAILED the runs of ``job_name`` that a ``Job.init`` on this host started and whose
    process is gone (killed before it could record an outcome).

    Returns:
        The ids of the runs marked FAILED.
    """
    host = socket.gethostname()
    with Session(engine) as session:
        rows = session.scalars(
            select(JobRunRow).where(JobRunRow.job_name == job_name, JobRunRow.state.in_(bookmarks.ACTIVE_STATES))
        ).all()
    reaped = []
    for row in rows:
        if not (row.bookmark or {}).get("standalone") or row.host != host or row.pid is None:
            continue
        if row.pid != os.getpid() and not _process_alive(row.pid):
            message = f"the process running it (pid {row.pid} on {host}) ended without recording an outcome"
            if bookmarks.fail_run(engine, row.id, message):
                log.warning("job %s: run %s marked FAILED: %s", job_name, row.id, message)
                reaped.append(row.id)
    return reaped


class Job:
    """Marks a script's run boundaries and carries its job bookmark.

    Example:
        >>> job = Job(glueContext)
        >>> job.init(args["JOB_NAME"], args)   # args from getResolvedOptions
        >>> ...                                # reads with transformation_ctx are bookmarked
        >>> job.commit()
    """

    def __init__(self, glue_context: Any) -> None:
        self.glue_context = glue_context
        self.name: str | None = None
        self.args: dict[str, Any] = {}
        self.run_id: str | None = None
        self.owns_run = False
        self._bookmark: bookmarks.RunBookmark | None = None
        self._committed = False

    def _engine(self) -> Engine:
        catalog = getattr(self.glue_context, "catalog", None)
        if catalog is None:
            from etl.catalog import Catalog

            catalog = Catalog()
        return catalog.engine

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        """Start (or join) the run and activate its bookmark.

        Raises:
            JobError: no job name, or ``--JOB_RUN_ID`` names a run of another job or one that ended.
            ConfigError: an invalid bookmark option, or a bad ``--job-bookmark-from/-to`` pair.
        """
        if not job_name:
            raise JobError("Job.init needs a job name (pass args['JOB_NAME'])")
        if self.name is not None:
            raise JobError(f"Job.init called twice (run {self.run_id} of job {self.name} is already started)")
        args = dict(args or {})
        engine = self._engine()
        reap_dead_runs(engine, job_name)
        run_id = _arg(args, "JOB_RUN_ID") or f"jr_{uuid.uuid4().hex}"
        run = bookmarks.RunBookmark(
            engine,
            job_name,
            run_id,
            option=_arg(args, "job_bookmark_option") or bookmarks.DISABLE,
            from_run=_arg(args, "job_bookmark_from"),
            to_run=_arg(args, "job_bookmark_to"),
        )
        self.owns_run = self._attach_run(engine, job_name, run_id, args, run.option)
        self.name, self.args, self.run_id, self._bookmark = job_name, args, run_id, run
        bookmarks.activate(run)
        if self.owns_run:
            if sys.excepthook is not _record_uncaught:
                sys.excepthook = _record_uncaught
            atexit.register(self._at_exit)
        log.info("job %s: run %s started (bookmark option %s)", job_name, run_id, run.option)

    def _attach_run(self, engine: Engine, job_name: str, run_id: str, args: dict[str, Any], option: str) -> bool:
        """Use the runner's row for ``run_id``, or create one in state RUNNING; True if created."""
        when = bookmarks.now()
        with Session(engine) as session, session.begin():
            row = session.get(JobRunRow, run_id)
            if row is not None:
                if row.job_name != job_name:
                    raise JobError(f"--JOB_RUN_ID {run_id} is a run of job {row.job_name!r}, not {job_name!r}")
                if row.state not in bookmarks.ACTIVE_STATES:
                    raise JobError(f"--JOB_RUN_ID {run_id} has already ended ({row.state})")
                row.bookmark = {**(row.bookmark or {}), "option": option}
                return False
            session.add(
                JobRunRow(
                    id=run_id,
                    job_name=job_name,
                    attempt=0,
                    state="RUNNING",
                    arguments=_json_safe(args),
                    start_time=when,
                    heartbeat_time=when,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    predecessor_runs=[],
                    metrics={},
                    data_quality=[],
                    bookmark={"option": option, "standalone": True},
                )
            )
            return True

    def commit(self) -> None:
        """Mark the run SUCCEEDED and record the bookmarked files it read (one transaction).

        Raises:
            JobError: called before ``init``, or the run was ended meanwhile (stopped, timed
                out); then nothing is recorded.
        """
        if self.name is None or self._bookmark is None:
            raise JobError("Job.commit called before Job.init")
        if self._committed:
            log.warning("job %s: run %s is already committed", self.name, self.run_id)
            return
        bookmarks.commit_run(self._bookmark)
        self._committed = True
        self._release()
        option = self._bookmark.option
        outcome = "committed" if option == bookmarks.ENABLE else f"not advanced ({option})"
        log.info("job %s: run %s SUCCEEDED; bookmark %s", self.name, self.run_id, outcome)

    def fail(self, message: str) -> bool:
        """Mark the run FAILED now (nothing is committed); True if the row was still running."""
        if self._bookmark is None or self._committed:
            return False
        changed = bookmarks.fail_run(self._bookmark.engine, self._bookmark.run_id, message)
        self._release()
        return changed

    def _release(self) -> None:
        if bookmarks.active() is self._bookmark:
            bookmarks.activate(None)
        atexit.unregister(self._at_exit)

    def _at_exit(self) -> None:
        if self._committed or self._bookmark is None:
            return
        if _uncaught:
            exc = _uncaught[-1]
            message = f"{type(exc).__name__}: {spark_error_summary(exc)}"
        else:
            message = "the script ended without job.commit(); nothing was committed"
        if self.fail(message):
            log.warning("job %s: run %s FAILED: %s", self.name, self.run_id, message)

    @property
    def committed(self) -> bool:
        return self._committed

    @property
    def bookmark_report(self) -> dict[str, Any]:
        """Per transformation_ctx: files read and skipped by the bookmark so far (the run's JSON)."""
        if self._bookmark is None:
            raise JobError("Job.init has not been called")
        return self._bookmark.report(committed=self._committed and self._bookmark.option == bookmarks.ENABLE)
