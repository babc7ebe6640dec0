"""Workflow runs and their nodes' states in the catalog database (``etl_workflow_runs``,
``etl_workflow_node_runs``).

A run is RUNNING, then COMPLETED (every node it started SUCCEEDED), FAILED (a started node ended
FAILED, TIMEOUT, STOPPED or ERROR; ``error_message`` names them), STOPPED (Ctrl-C or SIGTERM) or
ERROR (the engine failed, or its process died). Nodes are WAITING, RUNNING, one of the job states,
or NOT_RUN when the run ended before a trigger started them. ``statistics`` follows Glue's
WorkflowRunStatistics (TotalActions = nodes started, SucceededActions, FailedActions,
TimeoutActions, StoppedActions, ErroredActions, RunningActions, WaitingActions) plus
NotRunActions, and holds ``Runner`` (pid, host, heartbeat) so a run whose process is gone is
marked ERROR when history is next read, and for a resumed run ``PreviousRunId``, ``ResumedNodes``
and ``KeptNodes``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from etl.catalog import Catalog
from etl.catalog.job_models import WorkflowNodeRunRow, WorkflowRunRow
from etl.errors import ConfigError, EntityNotFoundError, WorkflowError, WorkflowRunningError
from etl.jobs.history import HOST, pid_alive
from etl.jobs.workflow_spec import (
    COMPLETED,
    ERROR,
    FAILED,
    FAILURE_STATES,
    FINAL_STATES,
    NOT_RUN,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    TIMEOUT,
    WAITING,
    check_run_properties,
)
from etl.timeutil import as_utc, utc_now

log = logging.getLogger("etl.jobs.workflow")

_STAT_KEYS = {
    SUCCEEDED: "SucceededActions",
    FAILED: "FailedActions",
    TIMEOUT: "TimeoutActions",
    STOPPED: "StoppedActions",
    ERROR: "ErroredActions",
    RUNNING: "RunningActions",
    WAITING: "WaitingActions",
    NOT_RUN: "NotRunActions",
}


# ----- the run history ----------------------------------------------------------------------


def new_workflow_run_id() -> str:
    return f"wr_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class NodeRunRecord:
    """One node's state in one workflow run (``run_id``: the job run or crawl run)."""

    node_name: str
    kind: str
    state: str
    run_id: str | None
    start_time: datetime | None
    end_time: datetime | None
    error_message: str | None

    @classmethod
    def from_row(cls, row: WorkflowNodeRunRow) -> NodeRunRecord:
        return cls(
            row.node_name,
            row.kind,
            row.state,
            row.run_id,
            as_utc(row.start_time),
            as_utc(row.end_time),
            row.error_message,
        )


@dataclass(frozen=True)
class WorkflowRunRecord:
    """A workflow run as stored, with its nodes (started ones first, by start time)."""

    id: str
    workflow_name: str
    state: str
    run_properties: dict[str, str]
    start_time: datetime
    end_time: datetime | None
    statistics: dict[str, Any]
    error_message: str | None
    nodes: list[NodeRunRecord]

    @property
    def failed_nodes(self) -> list[NodeRunRecord]:
        return [n for n in self.nodes if n.state in FAILURE_STATES]

    @property
    def previous_run_id(self) -> str | None:
        return self.statistics.get("PreviousRunId")

    def node(self, name: str) -> NodeRunRecord:
        return next(n for n in self.nodes if n.node_name == name)

    def glue_shape(self) -> dict[str, Any]:
        """The run in the shape of Glue's GetWorkflowRun response (``WorkflowRun``)."""
        statistics = {k: v for k, v in self.statistics.items() if k.endswith("Actions")}
        return {
            "Name": self.workflow_name,
            "WorkflowRunId": self.id,
            "PreviousRunId": self.previous_run_id,
            "WorkflowRunProperties": self.run_properties,
            "StartedOn": self.start_time.isoformat(),
            "CompletedOn": self.end_time.isoformat() if self.end_time else None,
            "Status": self.state,
            "ErrorMessage": self.error_message,
            "Statistics": statistics,
            "ResumedNodes": self.statistics.get("ResumedNodes", []),
            "KeptNodes": self.statistics.get("KeptNodes", []),
            "Nodes": [
                {
                    "Name": n.node_name,
                    "Type": n.kind,
                    "State": n.state,
                    "RunId": n.run_id,
                    "StartedOn": n.start_time.isoformat() if n.start_time else None,
                    "CompletedOn": n.end_time.isoformat() if n.end_time else None,
                    "ErrorMessage": n.error_message,
                }
                for n in self.nodes
            ],
        }


def _lock_key(name: str) -> int:
    digest = hashlib.blake2b(f"etl_workflow_runs:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _statistics(nodes: Sequence[WorkflowNodeRunRow], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = dict.fromkeys(_STAT_KEYS.values(), 0)
    for node in nodes:
        counts[_STAT_KEYS[node.state]] += 1
    counts["TotalActions"] = sum(1 for n in nodes if n.state not in (WAITING, NOT_RUN))
    return {**(previous or {}), **counts}


def _outcome(nodes: Sequence[WorkflowNodeRunRow]) -> tuple[str, str | None]:
    failed = [n for n in nodes if n.state in FAILURE_STATES]
    if not failed:
        return COMPLETED, None
    described = "; ".join(
        f"{n.node_name} {n.state}" + (f" ({n.error_message})" if n.error_message else "") for n in failed
    )
    return FAILED, f"{len(failed)} node(s) did not succeed: {described}"


class WorkflowStore:
    """Workflow runs and their nodes' states in the catalog database.

    Args:
        catalog: the catalog whose database holds the runs.
        stale_after: seconds without a heartbeat after which a RUNNING run on another host is abandoned.
    """

    def __init__(self, catalog: Catalog, *, stale_after: float = 600.0) -> None:
        self.catalog = catalog
        self.stale_after = stale_after
        self._write = threading.Lock()  # the heartbeat thread and the engine share the statistics column

    @contextlib.contextmanager
    def _locked(self, workflow_name: str) -> Iterator[Session]:
        with self.catalog._session() as s:
            dialect = s.get_bind().dialect.name
            if dialect == "sqlite":
                s.connection().exec_driver_sql("BEGIN IMMEDIATE")
            elif dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(workflow_name)})
            yield s

    @staticmethod
    def _nodes(s: Session, run_id: str) -> list[WorkflowNodeRunRow]:
        return list(s.scalars(select(WorkflowNodeRunRow).where(WorkflowNodeRunRow.workflow_run_id == run_id)))

    @classmethod
    def _record(cls, s: Session, row: WorkflowRunRow) -> WorkflowRunRecord:
        far = datetime.max.replace(tzinfo=UTC)
        nodes = sorted(
            (NodeRunRecord.from_row(n) for n in cls._nodes(s, row.id)),
            key=lambda n: (n.start_time or far, n.node_name),
        )
        return WorkflowRunRecord(
            id=row.id,
            workflow_name=row.workflow_name,
            state=row.state,
            run_properties=dict(row.run_properties or {}),
            start_time=as_utc(row.start_time),  # type: ignore[arg-type]
            end_time=as_utc(row.end_time),
            statistics=dict(row.statistics or {}),
            error_message=row.error_message,
            nodes=nodes,
        )

    def start(
        self,
        workflow_name: str,
        nodes: Mapping[str, str],
        run_properties: Mapping[str, str],
        *,
        max_concurrent_runs: int | None = None,
        kept: Sequence[NodeRunRecord] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> WorkflowRunRecord:
        """Insert a RUNNING run with every node (``name -> kind``) WAITING, except ``kept`` nodes that ended,
        copied as they are (their states and job or crawl run ids).

        Raises:
            WorkflowRunningError: ``max_concurrent_runs`` runs of the workflow are RUNNING.
        """
        now = utc_now()
        with self._locked(workflow_name) as s:
            if max_concurrent_runs is not None:
                running = self._running_rows(s, workflow_name, now)
                if len(running) >= max_concurrent_runs:
                    raise WorkflowRunningError(workflow_name, max_concurrent_runs, [r.id for r in running])
            run_id = new_workflow_run_id()
            by_name = {k.node_name: k for k in kept}
            rows = []
            for name, kind in nodes.items():
                old = by_name.get(name)
                if old is not None and old.state in FINAL_STATES:
                    row = WorkflowNodeRunRow(
                        workflow_run_id=run_id,
                        node_name=name,
                        kind=kind,
                        state=old.state,
                        run_id=old.run_id,
                        start_time=old.start_time,
                        end_time=old.end_time,
                        error_message=old.error_message,
                    )
                else:
                    row = WorkflowNodeRunRow(workflow_run_id=run_id, node_name=name, kind=kind, state=WAITING)
                rows.append(row)
            runner = {"Pid": os.getpid(), "Host": HOST, "Heartbeat": now.isoformat()}
            run = WorkflowRunRow(
                id=run_id,
                workflow_name=workflow_name,
                state=RUNNING,
                run_properties=dict(run_properties),
                start_time=now,
                statistics=_statistics(rows, {**(extra or {}), "Runner": runner}),
            )
            s.add(run)
            s.add_all(rows)
            s.flush()
            return self._record(s, run)

    def update_node(self, workflow_run_id: str, node_name: str, /, **values: Any) -> None:
        """Set a node's ``state``, ``run_id``, ``start_time``, ``end_time`` or ``error_message``."""
        with self._write, self.catalog._session() as s:
            node = s.get(WorkflowNodeRunRow, (workflow_run_id, node_name))
            if node is None:
                raise EntityNotFoundError(f"workflow run {workflow_run_id} has no node {node_name}")
            for key, value in values.items():
                setattr(node, key, value)
            s.flush()
            run = s.get(WorkflowRunRow, workflow_run_id)
            if run is not None:
                run.statistics = _statistics(self._nodes(s, workflow_run_id), run.statistics)

    def finish(self, run_id: str, state: str | None = None, message: str | None = None) -> WorkflowRunRecord:
        """End a run: waiting nodes become NOT_RUN, nodes still running ``state`` (STOPPED or ERROR).

        ``state`` None means the outcome of its nodes (COMPLETED or FAILED, see the module docs).
        """
        now = utc_now()
        with self._write, self.catalog._session() as s:
            run = self._row(s, run_id)
            nodes = self._nodes(s, run_id)
            for node in nodes:
                if node.state == WAITING:
                    node.state = NOT_RUN
                elif node.state == RUNNING:
                    node.state, node.end_time = (state if state in (STOPPED, ERROR) else ERROR), now
                    node.error_message = node.error_message or message or "the workflow run ended while it ran"
            outcome, failures = _outcome(nodes)
            run.state = state or outcome
            run.error_message = "; ".join(m for m in (message, failures) if m) or None
            run.end_time = now
            run.statistics = _statistics(nodes, run.statistics)
            s.flush()
            return self._record(s, run)

    def heartbeat(self, run_id: str) -> None:
        with self._write, self.catalog._session() as s:
            run = s.get(WorkflowRunRow, run_id)
            if run is not None and run.state == RUNNING:
                stats = dict(run.statistics or {})
                stats["Runner"] = {**stats.get("Runner", {}), "Heartbeat": utc_now().isoformat()}
                run.statistics = stats

    # ----- stale runs -------------------------------------------------------------------------
    def _stale_reason(self, row: WorkflowRunRow, now: datetime) -> str | None:
        runner = (row.statistics or {}).get("Runner") or {}
        pid, host, beat = runner.get("Pid"), runner.get("Host"), runner.get("Heartbeat")
        if host == HOST and isinstance(pid, int):
            return None if pid_alive(pid) else f"process {pid} on {host} is gone"
        if beat:
            last = as_utc(datetime.fromisoformat(beat))
            if last is not None and now - last > timedelta(seconds=self.stale_after):
                return f"no heartbeat from process {pid} on {host} since {last.isoformat()}"
        return None

    def _abandon(self, s: Session, row: WorkflowRunRow, reason: str, now: datetime) -> None:
        log.warning("workflow run %s of %s: %s; marking it ERROR", row.id, row.workflow_name, reason)
        nodes = self._nodes(s, row.id)
        for node in nodes:
            if node.state == WAITING:
                node.state = NOT_RUN
            elif node.state == RUNNING:
                node.state, node.end_time, node.error_message = ERROR, now, f"workflow runner died: {reason}"
        row.state, row.end_time = ERROR, now
        row.error_message = f"Workflow run abandoned: {reason}"
        row.statistics = _statistics(nodes, row.statistics)

    def _running_rows(self, s: Session, workflow_name: str | None, now: datetime) -> list[WorkflowRunRow]:
        query = select(WorkflowRunRow).where(WorkflowRunRow.state == RUNNING)
        if workflow_name is not None:
            query = query.where(WorkflowRunRow.workflow_name == workflow_name)
        live = []
        for row in s.scalars(query).all():
            reason = self._stale_reason(row, now)
            if reason:
                self._abandon(s, row, reason, now)
            else:
                live.append(row)
        return live

    def running(self, workflow_name: str | None = None) -> list[WorkflowRunRecord]:
        """RUNNING runs (after marking those whose process is gone as ERROR)."""
        with self._write, self.catalog._session() as s:
            return [self._record(s, r) for r in self._running_rows(s, workflow_name, utc_now())]

    # ----- reading ------------------------------------------------------------------------------
    @staticmethod
    def _row(s: Session, run_id: str) -> WorkflowRunRow:
        row = s.get(WorkflowRunRow, run_id)
        if row is None:
            raise EntityNotFoundError(f"workflow run {run_id} not found")
        return row

    def get(self, run_id: str) -> WorkflowRunRecord:
        """One run with its nodes (a RUNNING run whose process is gone reads as ERROR).

        Raises:
            EntityNotFoundError: no such run.
        """
        self.running()
        with self.catalog._session() as s:
            return self._record(s, self._row(s, run_id))

    def list(self, workflow_name: str | None = None, *, limit: int = 20) -> list[WorkflowRunRecord]:
        """Runs of ``workflow_name`` (all when None), newest first."""
        self.running(workflow_name)
        with self.catalog._session() as s:
            query = select(WorkflowRunRow)
            if workflow_name is not None:
                query = query.where(WorkflowRunRow.workflow_name == workflow_name)
            rows = s.scalars(query.order_by(WorkflowRunRow.start_time.desc()).limit(limit)).all()
            return [self._record(s, r) for r in rows]

    def latest(self, workflow_name: str) -> WorkflowRunRecord | None:
        runs = self.list(workflow_name, limit=1)
        return runs[0] if runs else None

    def started_since(self, workflow_name: str, moment: datetime) -> WorkflowRunRecord | None:
        """The newest run of the workflow that started at or after ``moment``, if any."""
        latest = self.latest(workflow_name)
        return latest if latest is not None and latest.start_time >= moment else None

    def properties(self, run_id: str) -> dict[str, str]:
        with self.catalog._session() as s:
            return dict(self._row(s, run_id).run_properties or {})

    def put_properties(self, run_id: str, properties: Mapping[str, Any]) -> dict[str, str]:
        """Merge ``properties`` into the run's properties (Glue: PutWorkflowRunProperties).

        Raises:
            ConfigError: a name is invalid or reserved. EntityNotFoundError: no such run.
        """
        try:
            checked = check_run_properties(properties)
        except ValueError as exc:
            raise ConfigError(f"run properties: {exc}") from None
        with self.catalog._session() as s:
            row = self._row(s, run_id)
            row.run_properties = {**(row.run_properties or {}), **checked}
            return dict(row.run_properties)


def get_workflow_run_properties(name: str, run_id: str, catalog: Catalog | None = None) -> dict[str, str]:
    """The run properties of workflow run ``run_id`` (Glue: GetWorkflowRunProperties); for jobs.

    Raises:
        WorkflowError: the run belongs to another workflow. EntityNotFoundError: no such run.
    """
    record = WorkflowStore(catalog or Catalog()).get(run_id)
    if record.workflow_name != name:
        raise WorkflowError(f"workflow run {run_id} belongs to {record.workflow_name}, not {name}")
    return record.run_properties


def put_workflow_run_properties(
    name: str, run_id: str, properties: Mapping[str, Any], catalog: Catalog | None = None
) -> dict[str, str]:
    """Add or change run properties (Glue: PutWorkflowRunProperties); nodes started later see them."""
    store = WorkflowStore(catalog or Catalog())
    record = store.get(run_id)
    if record.workflow_name != name:
        raise WorkflowError(f"workflow run {run_id} belongs to {record.workflow_name}, not {name}")
    return store.put_properties(run_id, properties)
