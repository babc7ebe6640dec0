"""Running Glue workflows: fire triggers, run the nodes, record every state; resume failed runs.

Nodes run one at a time, in the order their triggers fire; a node runs at most once per workflow
run (the first trigger to fire it wins). Each job gets ``--WORKFLOW_NAME`` and ``--WORKFLOW_RUN_ID``
as Glue passes them, plus the run properties as arguments. Precedence, lowest first: the job's
default arguments, the run properties, the node's arguments, the action's arguments, the
WORKFLOW_* pair; the job's non-overridable arguments still win over all. A job may change the
properties of its run with :func:`put_workflow_run_properties`; nodes that start after it see them.

Honest status, unlike Glue (which says COMPLETED whenever a run ended, failed nodes or not): a run is
COMPLETED only when every node it started SUCCEEDED, else FAILED naming the nodes that did not (see
:mod:`etl.jobs.workflow_store`). A job that cannot start (unknown job, concurrency limit) is a node
in ERROR; a crawler that raises is FAILED. Ctrl-C or SIGTERM stops the running job, marks it and
the run STOPPED and starts nothing more.

Resuming (Glue: ResumeWorkflowRun) makes a new run that keeps the previous run's run properties and
the results of the nodes it does not re-run, re-runs the failed nodes (or the ones named) with
their current definitions, and lets the triggers downstream of them fire again.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from etl.catalog import Catalog
from etl.catalog.job_models import WorkflowNodeRunRow
from etl.catalog.models import CrawlRunRow
from etl.crawler.spec import CrawlerSpec
from etl.errors import ConfigError, EtlError, WorkflowError
from etl.jobs.signals import stop_on_sigterm
from etl.jobs.workflow_spec import (
    ERROR,
    FAILED,
    FAILURE_STATES,
    FINAL_STATES,
    JOB,
    NOT_RUN,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    WAITING,
    Node,
    Trigger,
    Workflow,
    check_run_properties,
    evaluate,
    find_workflow,
    load_workflow,
)
from etl.jobs.workflow_store import (
    NodeRunRecord,
    WorkflowRunRecord,
    WorkflowStore,
    get_workflow_run_properties,
    put_workflow_run_properties,
)
from etl.timeutil import as_utc, utc_now

__all__ = [
    "WorkflowEngine",
    "WorkflowEvent",
    "WorkflowRunRecord",
    "NodeRunRecord",
    "WorkflowStore",
    "Workflow",
    "evaluate",
    "find_workflow",
    "load_workflow",
    "get_workflow_run_properties",
    "put_workflow_run_properties",
]

log = logging.getLogger("etl.jobs.workflow")


# ----- the engine ---------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkflowEvent:
    """Progress of a workflow run: ``run_started``, ``trigger_fired``, ``node_started``, ``job_run`` (a
    job node's run id, in ``detail``), ``node_finished`` or ``run_finished``."""

    kind: str
    run_id: str
    node: str | None = None
    state: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class _Start:
    node: str
    arguments: dict[str, str]
    timeout: float | None
    predecessors: list[dict[str, Any]]
    trigger: str


class _Stopped(Exception):  # noqa: N818 - a control-flow signal
    """SIGTERM reached the engine."""


class _Heartbeat:
    def __init__(self, store: WorkflowStore, run_id: str, seconds: float) -> None:
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(store, run_id, seconds), daemon=True)

    def _beat(self, store: WorkflowStore, run_id: str, seconds: float) -> None:
        while not self._done.wait(seconds):
            try:
                store.heartbeat(run_id)
            except Exception as exc:  # a missed beat is logged, never fatal
                log.warning("workflow run %s: heartbeat failed: %s", run_id, exc)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def _crawl(spec: CrawlerSpec, catalog: Catalog) -> str | None:
    from etl.crawler.crawler import Crawler

    result = Crawler(spec, catalog).run()
    return None if result.run_id is None else str(result.run_id)


class WorkflowEngine:
    """Runs and resumes one workflow, recording every node in the catalog database.

    Args:
        workflow: the loaded workflow.
        catalog: where runs are recorded (default: ``$ETL_CATALOG_URL`` or the home's).
        master: Spark master for the jobs (beats their definitions').
        echo: a stream to copy the jobs' output to (it always goes to their run logs).
        on_event: called as the run progresses.
        cwd: the jobs' working directory.
        heartbeat_seconds: how often a running workflow notes it is alive.
        run_job: the job runner (``etl.jobs.runner.run_job``; replaceable in tests).
        crawl: runs a crawler spec, returns the crawl run id (replaceable in tests).
    """

    def __init__(
        self,
        workflow: Workflow,
        catalog: Catalog | None = None,
        *,
        master: str | None = None,
        echo: IO[str] | None = None,
        on_event: Callable[[WorkflowEvent], None] | None = None,
        cwd: str | Path | None = None,
        heartbeat_seconds: float = 5.0,
        run_job: Callable[..., Any] | None = None,
        crawl: Callable[[CrawlerSpec, Catalog], str | None] = _crawl,
    ) -> None:
        from etl.jobs.runner import run_job as default_run_job

        self.workflow = workflow
        self.catalog = catalog or Catalog()
        self.store = WorkflowStore(self.catalog)
        self.master = master
        self.echo = echo
        self.on_event = on_event or (lambda _event: None)
        self.cwd = cwd
        self.heartbeat_seconds = heartbeat_seconds
        self.run_job = run_job or default_run_job
        self.crawl = crawl

    # ----- starting ---------------------------------------------------------------------------
    def _kinds(self) -> dict[str, str]:
        return {name: node.kind for name, node in self.workflow.nodes.items()}

    def start(
        self, run_properties: Mapping[str, Any] | None = None, *, max_concurrent_runs: int | None = None
    ) -> WorkflowRunRecord:
        """Record a new RUNNING run (default run properties overridden by ``run_properties``).

        Raises:
            ConfigError: a run property is invalid. WorkflowRunningError: too many runs are RUNNING
                (``max_concurrent_runs``, else the spec's).
        """
        try:
            properties = {
                **self.workflow.spec.default_run_properties,
                **check_run_properties(dict(run_properties or {})),
            }
        except ValueError as exc:
            raise ConfigError(f"run properties: {exc}") from None
        limit = max_concurrent_runs or self.workflow.spec.max_concurrent_runs
        record = self.store.start(self.workflow.name, self._kinds(), properties, max_concurrent_runs=limit)
        self.on_event(WorkflowEvent("run_started", record.id, detail=f"trigger {self.workflow.start_trigger.name}"))
        return record

    def execute(self, record: WorkflowRunRecord) -> WorkflowRunRecord:
        """Fire the starting trigger of the run ``record`` (from :meth:`start`) and run it to the end."""
        trigger = self.workflow.start_trigger
        self.on_event(WorkflowEvent("trigger_fired", record.id, detail=trigger.name))
        queue = deque(self._starts(trigger, {}, record.id))
        return self._drive(record, queue, {})

    def run(self, run_properties: Mapping[str, Any] | None = None) -> WorkflowRunRecord:
        """Start a run and run it to the end (Glue: StartWorkflowRun); returns the finished run."""
        return self.execute(self.start(run_properties))

    def resume(self, run_id: str, nodes: Sequence[str] | None = None) -> WorkflowRunRecord:
        """Re-run the failed nodes of ``run_id`` (or ``nodes``) and what depends on them, in a new run.

        The new run keeps the previous run's properties and the results of the nodes it does not re-run.

        Raises:
            WorkflowError: the run is of another workflow, still RUNNING, has nothing to resume, or a
                named node did not run in it. EntityNotFoundError: no such run.
        """
        previous = self.store.get(run_id)
        name = self.workflow.name
        if previous.workflow_name != name:
            raise WorkflowError(f"workflow run {run_id} is a run of {previous.workflow_name}, not {name}")
        if previous.state == RUNNING:
            raise WorkflowError(f"workflow run {run_id} is still RUNNING; resume it once it has ended")
        ran = {n.node_name: n for n in previous.nodes}
        if nodes:
            selected = list(dict.fromkeys(nodes))
            for node in selected:
                if node not in self.workflow.nodes:
                    raise WorkflowError(f"{node}: not a node of workflow {name} ({', '.join(self.workflow.nodes)})")
                if node not in ran or ran[node].state in (WAITING, NOT_RUN):
                    raise WorkflowError(f"{node}: did not run in workflow run {run_id}; only nodes that ran resume")
        else:
            selected = [n for n in self.workflow.nodes if n in ran and ran[n].state in FAILURE_STATES]
            if not selected:
                raise WorkflowError(f"workflow run {run_id} ({previous.state}) has no failed node to resume")
        reset = set(selected) | self.workflow.downstream(selected)
        # the nodes that ran and are not re-run keep their results (a failed one not selected stays failed)
        kept = [ran[n] for n in self.workflow.nodes if n in ran and n not in reset and ran[n].state in FINAL_STATES]
        extra = {
            "PreviousRunId": run_id,
            "ResumedNodes": selected,
            "KeptNodes": [k.node_name for k in kept],
        }
        record = self.store.start(
            name,
            self._kinds(),
            previous.run_properties,
            max_concurrent_runs=self.workflow.spec.max_concurrent_runs,
            kept=kept,
            extra=extra,
        )
        self.on_event(WorkflowEvent("run_started", record.id, detail=f"resuming {run_id}: {', '.join(selected)}"))
        states = {k.node_name: k.state for k in kept}
        queue = deque(self._resume_start(node, states, record.id) for node in selected)
        return self._drive(record, queue, states)

    # ----- running ----------------------------------------------------------------------------
    def _starts(self, trigger: Trigger, states: Mapping[str, str], run_id: str) -> list[_Start]:
        predecessors = []
        for condition in trigger.conditions:
            node = condition.node
            if states.get(node) == condition.state:
                entry = self._predecessor(run_id, node)
                if entry:
                    predecessors.append(entry)
        return [_Start(a.target, dict(a.arguments), a.timeout, predecessors, trigger.name) for a in trigger.actions]

    def _predecessor(self, run_id: str, node: str) -> dict[str, Any] | None:
        kind = self.workflow.nodes[node].kind
        with self.catalog._session() as s:
            row = s.get(WorkflowNodeRunRow, (run_id, node))
            if row is None or row.run_id is None:
                return None
            key = "job_name" if kind == JOB else "crawler_name"
            return {key: node, "run_id": row.run_id}

    def _resume_start(self, node: str, states: Mapping[str, str], run_id: str) -> _Start:
        """How a re-run node starts: through a trigger that would fire now, else its first trigger."""
        listing = [t for t in self.workflow.spec.triggers if any(a.target == node for a in t.actions)]
        firing = [t for t in listing if t.starts_workflow or evaluate(t, states)]
        trigger = (firing or listing)[0]
        return next(s for s in self._starts(trigger, states, run_id) if s.node == node)

    def _drive(self, record: WorkflowRunRecord, queue: deque[_Start], states: dict[str, str]) -> WorkflowRunRecord:
        run_id = record.id
        decided: set[str] = set()
        started: set[str] = set()
        stop: str | None = None

        def fire_ready() -> None:
            for trigger in self.workflow.conditional_triggers:
                if trigger.name in decided:
                    continue
                verdict = evaluate(trigger, states)
                if verdict is None:
                    continue
                decided.add(trigger.name)
                if verdict:
                    self.on_event(WorkflowEvent("trigger_fired", run_id, detail=trigger.name))
                    queue.extend(s for s in self._starts(trigger, states, run_id) if s.node not in states)

        try:
            with _Heartbeat(self.store, run_id, self.heartbeat_seconds), stop_on_sigterm(_Stopped):
                try:
                    fire_ready()
                    while queue:
                        start = queue.popleft()
                        if start.node in started or start.node in states:
                            log.info(
                                "workflow run %s: %s ran already; trigger %s does not start it again",
                                run_id,
                                start.node,
                                start.trigger,
                            )
                            continue
                        started.add(start.node)
                        state = self._run_node(run_id, start)
                        states[start.node] = state
                        if state == STOPPED:
                            stop = f"stopped while {start.node} ran"
                            break
                        fire_ready()
                except (KeyboardInterrupt, _Stopped) as exc:
                    stop = str(exc) if isinstance(exc, _Stopped) else "stopped by Ctrl-C (SIGINT)"
        except BaseException as exc:
            finished = self.store.finish(run_id, ERROR, f"workflow engine failed: {exc!r}")
            self.on_event(WorkflowEvent("run_finished", run_id, state=finished.state, detail=finished.error_message))
            raise
        finished = self.store.finish(run_id, STOPPED if stop else None, stop)
        self.on_event(WorkflowEvent("run_finished", run_id, state=finished.state, detail=finished.error_message))
        return finished

    def _run_node(self, run_id: str, start: _Start) -> str:
        node = self.workflow.nodes[start.node]
        self.store.update_node(
            run_id, node.name, state=RUNNING, start_time=utc_now(), end_time=None, run_id=None, error_message=None
        )
        self.on_event(WorkflowEvent("node_started", run_id, node=node.name, detail=f"trigger {start.trigger}"))
        if node.kind == JOB:
            state, node_run, message = self._run_job(run_id, node, start)
        else:
            state, node_run, message = self._run_crawler(run_id, node)
        values: dict[str, Any] = {"state": state, "end_time": utc_now(), "error_message": message}
        if node_run is not None:
            values["run_id"] = node_run
        self.store.update_node(run_id, node.name, **values)
        self.on_event(WorkflowEvent("node_finished", run_id, node=node.name, state=state, detail=message))
        return state

    def _run_job(self, run_id: str, node: Node, start: _Start) -> tuple[str, str | None, str | None]:
        def on_job_event(event: Any) -> None:
            if event.kind == "started":
                self.store.update_node(run_id, node.name, run_id=event.record.id)
                self.on_event(WorkflowEvent("job_run", run_id, node=node.name, detail=event.record.id))

        try:
            definition = self.workflow.job_definition(node.name, self.catalog)
            arguments = {
                **self.store.properties(run_id),
                **node.arguments,
                **start.arguments,
                "WORKFLOW_NAME": self.workflow.name,
                "WORKFLOW_RUN_ID": run_id,
            }
            outcome = self.run_job(
                definition,
                arguments,
                master=self.master,
                catalog=self.catalog,
                timeout_minutes=start.timeout or node.timeout,
                workflow_run_id=run_id,
                predecessor_runs=start.predecessors,
                echo=self.echo,
                on_event=on_job_event,
                cwd=self.cwd,
            )
        except EtlError as exc:
            return ERROR, None, str(exc)
        except Exception as exc:  # the runner itself failed: the node is in ERROR, the workflow goes on
            return ERROR, None, f"the job runner failed: {exc!r}"
        return outcome.state, outcome.run_id, outcome.final.error_message

    def _run_crawler(self, run_id: str, node: Node) -> tuple[str, str | None, str | None]:
        spec = self.workflow.crawler_specs[node.name]
        began = utc_now()
        try:
            crawl_id = self.crawl(spec, self.catalog)
        except (KeyboardInterrupt, _Stopped):
            crawl_id = self._close_crawl(spec.name, began, "stopped with its workflow run")
            self.store.update_node(
                run_id,
                node.name,
                state=STOPPED,
                end_time=utc_now(),
                run_id=crawl_id,
                error_message="stopped with its workflow run",
            )
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, EtlError) else f"{type(exc).__name__}: {exc}"
            return FAILED, self._close_crawl(spec.name, began, message), message
        return SUCCEEDED, crawl_id, None

    def _close_crawl(self, crawler: str, began: datetime, message: str) -> str | None:
        """The crawl run this node started; left RUNNING by an unexpected error, it is marked FAILED."""
        from etl.catalog.crawls import CrawlStore

        with self.catalog._session() as s:
            rows = s.scalars(
                select(CrawlRunRow).where(CrawlRunRow.crawler_name == crawler).order_by(CrawlRunRow.id.desc()).limit(5)
            ).all()
            mine = [(r.id, r.state) for r in rows if (as_utc(r.start_time) or began) >= began]
        if not mine:
            return None
        crawl_id, state = mine[0]
        if state == "RUNNING":
            CrawlStore(self.catalog).finish_run(crawl_id, state="FAILED", message=message)
        return str(crawl_id)
