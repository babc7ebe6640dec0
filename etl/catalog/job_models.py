"""Job runs, job bookmarks and workflow runs in the catalog database (migration 0004).

Kept beside the Glue model (``models.py``) on the same declarative base: the catalog database
is the one place a driver, the CLI and the scheduler share state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from etl.catalog.models import Base


class JobRow(Base):
    """A job definition as last registered (Glue: Job)."""

    __tablename__ = "etl_jobs"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JobRunRow(Base):
    """One attempt of one job run (Glue: JobRun). A retry is a new row with the next attempt."""

    __tablename__ = "etl_job_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # jr_<hex>
    job_name: Mapped[str] = mapped_column(String(255), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    previous_run_id: Mapped[str | None] = mapped_column(String(64))  # the attempt this one retries
    state: Mapped[str] = mapped_column(String(16), index=True)  # STARTING RUNNING SUCCEEDED FAILED ...
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    timeout_minutes: Mapped[float | None] = mapped_column(Float)
    error_message: Mapped[str | None] = mapped_column(Text)
    predecessor_runs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{job_name, run_id}]
    workflow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    pid: Mapped[int | None] = mapped_column(Integer)  # the process running the attempt
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # rows read/written per source/sink
    data_quality: Mapped[list[Any]] = mapped_column(JSON, default=list)  # rule results
    bookmark: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # files processed/skipped per ctx


class BookmarkFileRow(Base):
    """A file a job's source (job, transformation_ctx) has processed, committed by ``run_id``.

    Rewinding a bookmark deletes the rows of the runs after the target; resetting deletes all.
    """

    __tablename__ = "etl_bookmark_files"

    job_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    transformation_ctx: Mapped[str] = mapped_column(String(255), primary_key=True)
    path: Mapped[str] = mapped_column(String(2048), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    commit_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkflowRunRow(Base):
    """One run of a workflow (Glue: WorkflowRun)."""

    __tablename__ = "etl_workflow_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # wr_<hex>
    workflow_name: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16))  # RUNNING COMPLETED STOPPED ERROR
    run_properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # nodes succeeded/failed/...
    error_message: Mapped[str | None] = mapped_column(Text)


class WorkflowNodeRunRow(Base):
    """The state of one node (job or crawler) in one workflow run."""

    __tablename__ = "etl_workflow_node_runs"

    workflow_run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # JOB | CRAWLER
    state: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(String(64))  # job run id or crawl run id
    start_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_message: Mapped[str | None] = mapped_column(Text)
