"""Job bookmarks for file sources: which files a job's source has already processed.

Glue's model, kept per (job, ``transformation_ctx``) in the catalog table ``etl_bookmark_files``:

* ``job-bookmark-enable``: a source reads only the files that are new or changed (size or
  modification time differ) since the last committed run; the files read are remembered in
  memory and written by ``Job.commit()`` in the same transaction that marks the run SUCCEEDED.
  A run that fails never commits, so its files are processed again.
* ``job-bookmark-pause``: reads as ``enable`` would, but commits nothing. With
  ``--job-bookmark-from A --job-bookmark-to B`` (both, or neither) it reads instead the files
  committed after run A and up to run B. "Run X" means the bookmark state as of the last
  successful run up to and including X: X's commit if X succeeded, else what was committed
  before X started.
* ``job-bookmark-disable`` (the default): every file is read, nothing is recorded.

A source without ``transformation_ctx`` is never bookmarked (as in Glue) and says so in the log.
Every bookmarked read logs, and records in the run's ``bookmark`` JSON, how many files it read
and how many it skipped because of the bookmark.

The reader consults :func:`filter_plans`; ``Job.init`` makes a :class:`RunBookmark` the active
one with :func:`activate`.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from etl.catalog.job_models import BookmarkFileRow, JobRunRow
from etl.errors import ConfigError, JobError
from etl.io import listing

if TYPE_CHECKING:
    from etl.io.reader import ReadPlan

log = logging.getLogger("etl.bookmarks")

ENABLE, DISABLE, PAUSE = "job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause"
OPTIONS = (ENABLE, DISABLE, PAUSE)
ACTIVE_STATES = ("STARTING", "RUNNING")
# Formats read from plain files; Delta tables have their own log and are not bookmarked.
FILE_FORMATS = ("csv", "json", "parquet", "orc", "avro", "xml", "text")
_PARTITION_DIR = re.compile(r"^[^=/]+=.*$")


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time in the catalog is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FileStat:
    """A data file as the bookmark compares it: the path Spark reads, size and mtime (seconds)."""

    path: str
    size: int
    mtime: float


@dataclass
class SourceReport:
    """What one bookmarked source (transformation_ctx) did in this run."""

    files_read: int = 0
    files_skipped: int = 0
    new: int = 0
    changed: int = 0
    reads: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "new": self.new,
            "changed": self.changed,
            "reads": self.reads,
        }


# ----- run ordering: the bookmark state "as of run X" -----------------------------------------
def run_cutoff(session: Session, job_name: str, run_id: str) -> datetime:
    """The commit time up to which run ``run_id`` of ``job_name`` saw the bookmark.

    A succeeded run includes its own commit (its end time); any other run saw what was committed
    before it started.

    Raises:
        ConfigError: the run does not exist, belongs to another job or is still running.
    """
    run = session.get(JobRunRow, run_id)
    if run is None:
        raise ConfigError(f"job run {run_id!r} not found")
    if run.job_name != job_name:
        raise ConfigError(f"job run {run_id!r} belongs to job {run.job_name!r}, not {job_name!r}")
    if run.state == "SUCCEEDED" and run.end_time is not None:
        return aware(run.end_time)
    if run.state in ACTIVE_STATES:
        raise ConfigError(f"job run {run_id!r} is still {run.state}; use a finished run")
    return aware(run.start_time)


def committed_files(session: Session, job_name: str, ctx: str) -> dict[str, BookmarkFileRow]:
    rows = session.scalars(
        select(BookmarkFileRow).where(BookmarkFileRow.job_name == job_name, BookmarkFileRow.transformation_ctx == ctx)
    ).all()
    return {row.path: row for row in rows}


# ----- the active run --------------------------------------------------------------------------
@dataclass
class RunBookmark:
    """The bookmark of one job run: the option, what was read, what ``commit`` will record."""

    engine: Engine
    job_name: str
    run_id: str
    option: str = DISABLE
    from_run: str | None = None
    to_run: str | None = None
    pending: dict[str, dict[str, FileStat]] = field(default_factory=dict)
    sources: dict[str, SourceReport] = field(default_factory=dict)
    unbookmarked_reads: int = 0
    _window: tuple[datetime, datetime] | None = None

    def __post_init__(self) -> None:
        if self.option not in OPTIONS:
            raise ConfigError(f"--job-bookmark-option must be one of {', '.join(OPTIONS)}, got {self.option!r}")
        if (self.from_run is None) != (self.to_run is None):
            raise ConfigError("--job-bookmark-from and --job-bookmark-to go together: give both or neither")
        if self.from_run is not None and self.option != PAUSE:
            log.warning(
                "job %s: --job-bookmark-from/--job-bookmark-to only apply with job-bookmark-pause; ignored with %s",
                self.job_name,
                self.option,
            )
        if self.option == PAUSE and self.from_run is not None and self.to_run is not None:
            with Session(self.engine) as session:
                low = run_cutoff(session, self.job_name, self.from_run)
                high = run_cutoff(session, self.job_name, self.to_run)
            if low > high:
                raise ConfigError(f"--job-bookmark-from {self.from_run} is later than --job-bookmark-to {self.to_run}")
            self._window = (low, high)

    @property
    def filtering(self) -> bool:
        return self.option in (ENABLE, PAUSE)

    def select(self, ctx: str, files: Sequence[FileStat]) -> list[FileStat]:
        """The files of ``ctx`` to read now; records the counts and, with ``enable``, the files
        ``commit`` will record."""
        with Session(self.engine) as session:
            state = committed_files(session, self.job_name, ctx)
        report = self.sources.setdefault(ctx, SourceReport())
        report.reads += 1
        chosen: list[FileStat] = []
        for f in files:
            known = state.get(f.path)
            if self._window is not None:
                low, high = self._window
                if known is not None and low < aware(known.commit_time) <= high:
                    chosen.append(f)
                continue
            if known is None:
                report.new += 1
                chosen.append(f)
            elif known.size != f.size or known.mtime != f.mtime:
                report.changed += 1
                chosen.append(f)
        report.files_read += len(chosen)
        report.files_skipped += len(files) - len(chosen)
        if self.option == ENABLE:
            self.pending.setdefault(ctx, {}).update({f.path: f for f in chosen})
        skipped = len(files) - len(chosen)
        how = f"runs {self.from_run}..{self.to_run}" if self._window else "new or changed"
        log.log(
            logging.WARNING if skipped else logging.INFO,
            "job %s run %s: source %r reads %d of %d file(s) (%s); %d skipped by the job bookmark%s",
            self.job_name,
            self.run_id,
            ctx,
            len(chosen),
            len(files),
            how,
            skipped,
            " (paused: not recorded)" if self.option == PAUSE else "",
        )
        self.save_report()
        return chosen

    def note_unbookmarked(self, reason: str) -> None:
        self.unbookmarked_reads += 1
        log.info("job %s run %s: %s; all of its files are read", self.job_name, self.run_id, reason)
        self.save_report()

    def report(self, committed: bool = False) -> dict[str, Any]:
        """The run's ``bookmark`` JSON."""
        out: dict[str, Any] = {
            "option": self.option,
            "committed": committed,
            "sources": {ctx: r.as_dict() for ctx, r in sorted(self.sources.items())},
            "unbookmarked_reads": self.unbookmarked_reads,
        }
        if self.from_run is not None:
            out.update({"from": self.from_run, "to": self.to_run})
        return out

    def save_report(self) -> None:
        """Keep the run row's ``bookmark`` JSON current, so a failed run still shows its reads."""
        with Session(self.engine) as session, session.begin():
            run = session.get(JobRunRow, self.run_id)
            if run is not None:
                run.bookmark = {**(run.bookmark or {}), **self.report()}


_ACTIVE: RunBookmark | None = None


def activate(run: RunBookmark | None) -> None:
    """Make ``run`` the bookmark the reader consults (``None`` turns bookmarks off)."""
    global _ACTIVE
    if _ACTIVE is not None and run is not None and _ACTIVE.run_id != run.run_id:
        log.warning(
            "job %s run %s replaces the active run %s of job %s",
            run.job_name,
            run.run_id,
            _ACTIVE.run_id,
            _ACTIVE.job_name,
        )
    _ACTIVE = run


def active() -> RunBookmark | None:
    return _ACTIVE


# ----- the reader hook -------------------------------------------------------------------------
def _plan_files(plan: ReadPlan) -> tuple[list[FileStat], str | None]:
    """The data files Spark would read for ``plan``, and the base path that keeps partition
    columns when those files are given one by one."""
    files: list[FileStat] = []
    base = plan.base_path
    for path in plan.inputs:
        loc = listing.locate(path)
        for info in listing.data_files(loc, recurse=True):
            folders = info.path[len(loc.root) :].lstrip("/").split("/")[:-1]
            partitioned = bool(folders) and all(_PARTITION_DIR.match(f) for f in folders)
            if folders and not plan.recursive_lookup and not partitioned:
                continue  # Spark reads a plain sub-folder only with recursiveFileLookup
            if partitioned and base is None and not plan.recursive_lookup:
                base = path
            files.append(FileStat(loc.spark_path(info.path), info.size, info.mtime_ns / 1e9))
    return files, base


def filter_plans(plans: Sequence[ReadPlan], fmt: str, ctx: str) -> list[ReadPlan]:
    """Narrow ``plans`` to the files the active job's bookmark has not processed.

    Without an active bookmarked run, or for a source without ``transformation_ctx``, the plans
    come back unchanged. When every file was processed already, a plan keeps its inputs (Spark
    still needs them for the schema) and is marked ``empty``: it yields no rows.
    """
    run = _ACTIVE
    if run is None or not run.filtering:
        return list(plans)
    if not ctx:
        run.note_unbookmarked("a source without transformation_ctx is not bookmarked")
        return list(plans)
    if fmt not in FILE_FORMATS:
        run.note_unbookmarked(f"source {ctx!r} is {fmt}, which job bookmarks do not track")
        return list(plans)
    listed = [_plan_files(plan) if not plan.empty else ([], plan.base_path) for plan in plans]
    chosen = {f.path for f in run.select(ctx, [f for files, _ in listed for f in files])}
    out = []
    for plan, (files, base) in zip(plans, listed, strict=True):
        keep = [f.path for f in files if f.path in chosen]
        if plan.empty:
            out.append(plan)
        elif keep:
            out.append(replace(plan, inputs=keep, base_path=base))
        else:
            out.append(replace(plan, empty=True))
    return out


# ----- committing and failing runs -------------------------------------------------------------
def commit_run(run: RunBookmark) -> datetime:
    """Mark ``run`` SUCCEEDED and, with ``enable``, record the files it read: one transaction.

    Raises:
        JobError: the run row is missing or no longer running (stopped, timed out, failed);
            nothing is recorded.
    """
    when = now()
    with Session(run.engine) as session, session.begin():
        row = session.get(JobRunRow, run.run_id)
        if row is None:
            raise JobError(f"job run {run.run_id} is not in the catalog; the bookmark was not committed")
        duration = (when - aware(row.start_time)).total_seconds()
        result = session.execute(
            update(JobRunRow)
            .where(JobRunRow.id == run.run_id, JobRunRow.state.in_(ACTIVE_STATES))
            .values(
                state="SUCCEEDED",
                end_time=when,
                duration_seconds=duration,
                bookmark={**(row.bookmark or {}), **run.report(committed=run.option == ENABLE)},
            )
        )
        if result.rowcount != 1:  # raising rolls the transaction back
            raise JobError(f"job run {run.run_id} is {row.state}, not running; the bookmark was not committed")
        for ctx, files in run.pending.items():
            for f in files.values():
                session.merge(
                    BookmarkFileRow(
                        job_name=run.job_name,
                        transformation_ctx=ctx,
                        path=f.path,
                        size=f.size,
                        mtime=f.mtime,
                        run_id=run.run_id,
                        commit_time=when,
                    )
                )
    return when


def fail_run(engine: Engine, run_id: str, message: str, *, state: str = "FAILED", only_if_active: bool = True) -> bool:
    """End a run as ``state`` and drop any bookmark files it committed, in one transaction.

    With ``only_if_active`` a run that already ended keeps its state (the runner's TIMEOUT or
    STOPPED wins over a later exit handler). Without it (a runner that sees the process fail
    after ``job.commit()``), the run is re-marked and its committed files are forgotten, so a
    failed run never advances the bookmark.

    Returns:
        Whether the run row was changed.
    """
    when = now()
    with Session(engine) as session, session.begin():
        row = session.get(JobRunRow, run_id)
        if row is None or (only_if_active and row.state not in ACTIVE_STATES):
            return False
        row.state = state
        row.end_time = when
        row.duration_seconds = (when - aware(row.start_time)).total_seconds()
        row.error_message = message
        dropped = session.execute(delete(BookmarkFileRow).where(BookmarkFileRow.run_id == run_id)).rowcount
        row.bookmark = {**(row.bookmark or {}), "committed": False, "revoked_files": dropped}
    return True


# ----- operator commands (etl bookmark ...) ----------------------------------------------------
@dataclass
class CtxSummary:
    """One source's committed bookmark."""

    transformation_ctx: str
    files: int
    bytes: int
    last_run_id: str
    last_commit: datetime


def show(engine: Engine, job_name: str) -> list[CtxSummary]:
    """Per transformation_ctx: how many files are recorded and which run committed last."""
    with Session(engine) as session:
        rows = session.scalars(
            select(BookmarkFileRow)
            .where(BookmarkFileRow.job_name == job_name)
            .order_by(BookmarkFileRow.transformation_ctx, BookmarkFileRow.commit_time)
        ).all()
    by_ctx: dict[str, list[BookmarkFileRow]] = {}
    for row in rows:
        by_ctx.setdefault(row.transformation_ctx, []).append(row)
    out = []
    for ctx, group in by_ctx.items():
        last = max(group, key=lambda r: aware(r.commit_time))
        out.append(CtxSummary(ctx, len(group), sum(r.size for r in group), last.run_id, aware(last.commit_time)))
    return out


def files(engine: Engine, job_name: str, ctx: str | None = None) -> list[BookmarkFileRow]:
    """The recorded files of ``job_name`` (one source's with ``ctx``), by source and path."""
    query = select(BookmarkFileRow).where(BookmarkFileRow.job_name == job_name)
    if ctx is not None:
        query = query.where(BookmarkFileRow.transformation_ctx == ctx)
    with Session(engine) as session:
        return list(session.scalars(query.order_by(BookmarkFileRow.transformation_ctx, BookmarkFileRow.path)))


def reset(engine: Engine, job_name: str, ctx: str | None = None) -> int:
    """Forget every recorded file of the job (or of one source); the next run reads everything.

    Returns:
        The number of file records deleted.
    """
    query = delete(BookmarkFileRow).where(BookmarkFileRow.job_name == job_name)
    if ctx is not None:
        query = query.where(BookmarkFileRow.transformation_ctx == ctx)
    with Session(engine) as session, session.begin():
        return session.execute(query).rowcount


def rewind(engine: Engine, job_name: str, run_id: str) -> int:
    """Return the bookmark to its state as of run ``run_id``: drop what later runs committed.

    Returns:
        The number of file records deleted.

    Raises:
        ConfigError: the run does not exist, is another job's or is still running.
    """
    with Session(engine) as session, session.begin():
        cutoff = run_cutoff(session, job_name, run_id)
        rows = session.scalars(select(BookmarkFileRow).where(BookmarkFileRow.job_name == job_name)).all()
        later = [r for r in rows if aware(r.commit_time) > cutoff]
        for row in later:
            session.delete(row)
        return len(later)


def mark_processed(
    engine: Engine, job_name: str, ctx: str, paths: Iterable[str], before: datetime | None = None
) -> tuple[int, str]:
    """Record the data files under ``paths`` (modified before ``before``, if given) as processed
    by source ``ctx``, as if a run had read them: the way to start bookmarking a folder without
    reprocessing its history.

    Returns:
        The number of files recorded and the marker used as their run id (``set_<hex>``).

    Raises:
        DataSourceError: a path does not exist.
    """
    if not ctx:
        raise ConfigError("a transformation_ctx is required to set a bookmark")
    marker = f"set_{uuid.uuid4().hex[:16]}"
    stats = []
    for path in paths:
        loc = listing.locate(path)
        for info in listing.data_files(loc, recurse=True):
            modified = info.mtime_ns / 1e9
            if before is None or modified < before.timestamp():
                stats.append(FileStat(loc.spark_path(info.path), info.size, modified))
    when = now()
    with Session(engine) as session, session.begin():
        for f in stats:
            session.merge(
                BookmarkFileRow(
                    job_name=job_name,
                    transformation_ctx=ctx,
                    path=f.path,
                    size=f.size,
                    mtime=f.mtime,
                    run_id=marker,
                    commit_time=when,
                )
            )
    return len(stats), marker
