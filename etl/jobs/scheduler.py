"""The scheduler: one long-lived process that fires SCHEDULED workflow triggers and crawler schedules.

Workflows whose starting trigger is SCHEDULED (``conf/workflows``) and crawlers with a ``Schedule``
(``conf/crawlers``) are scheduled with Glue's ``cron(...)`` (or ``rate(...)``). Every check (each
``interval`` seconds at most, and at each fire time) runs what is due: an item whose latest fire time
falls after the previous check. Fire times missed while the scheduler was busy or down are run once,
not once each, and only within one ``interval`` before the scheduler started.

Never a second copy: a due item is skipped when a run of it is still going (a RUNNING workflow run
in the catalog, whose process is alive; a RUNNING crawl younger than ``crawl_stale_after``; or a run
this scheduler started that has not ended), or when a run of it already started at or after the
fire time (another scheduler, or a manual run). A workflow starts under its start lock with at most
one RUNNING run, so two schedulers racing for the same fire time start it once.

Each started item runs in its own thread, with its own catalog connection; ``tick(wait=True)`` (what
``etl scheduler --once`` does) waits for them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from etl.catalog import Catalog
from etl.catalog.models import CrawlRunRow
from etl.config import load_yaml
from etl.crawler.spec import CrawlerSpec
from etl.errors import ConfigError, EtlError, WorkflowRunningError
from etl.jobs.workflow_spec import CONF_DIR as WORKFLOW_DIR
from etl.jobs.workflow_spec import load_workflow, workflow_files
from etl.jobs.workflow_store import WorkflowStore
from etl.schedule import Schedule

log = logging.getLogger("etl.jobs.scheduler")

CRAWLER_DIR = Path("conf/crawlers")
_MAX_STEPS = 100_000  # fire times walked to find the latest one due (a week of rate(1 minute) is ~10k)


@dataclass(frozen=True)
class Scheduled:
    """A workflow (its SCHEDULED starting trigger) or a crawler, with its schedule and spec file."""

    kind: Literal["workflow", "crawler"]
    name: str
    schedule: Schedule
    source: Path

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Decision:
    """What a check did with a due item: ``started`` or ``skipped`` (``reason`` says why)."""

    item: Scheduled
    fire_time: datetime
    action: Literal["started", "skipped", "failed"]
    reason: str = ""
    run_id: str | None = None


@dataclass(frozen=True)
class Finished:
    """A run the scheduler started has ended: ``state`` is its final state, ``error`` what went wrong."""

    item: Scheduled
    run_id: str | None
    state: str
    error: str | None = None


Launch = Callable[[Scheduled, Catalog], tuple[str | None, Callable[[], "Finished"]]]


def _files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []


def discover(
    workflow_dir: Path = WORKFLOW_DIR,
    crawler_dir: Path = CRAWLER_DIR,
    *,
    on_error: Callable[[Path, EtlError], None] | None = None,
) -> list[Scheduled]:
    """The scheduled workflows and crawlers in the two folders.

    A spec that does not load is reported to ``on_error`` (default: raised) and left out.

    Raises:
        ConfigError: two specs schedule the same workflow or crawler name; an invalid spec without ``on_error``.
    """
    found: dict[str, Scheduled] = {}

    def add(item: Scheduled) -> None:
        if item.key in found:
            raise ConfigError(f"{item.source}: {item.kind} {item.name} is also scheduled by {found[item.key].source}")
        found[item.key] = item

    def failed(path: Path, exc: EtlError) -> None:
        if on_error is None:
            raise exc
        on_error(path, exc)

    for path in workflow_files(workflow_dir):
        try:
            workflow = load_workflow(path)
        except EtlError as exc:
            failed(path, exc)
            continue
        trigger = workflow.start_trigger
        if trigger.type == "SCHEDULED" and trigger.schedule:
            add(Scheduled("workflow", workflow.name, Schedule.parse(trigger.schedule), path))
    for path in _files(crawler_dir):
        try:
            spec = load_yaml(path, CrawlerSpec)
            schedule = Schedule.parse(spec.schedule) if spec.schedule else None
        except EtlError as exc:
            failed(path, exc)
            continue
        if schedule is not None:
            add(Scheduled("crawler", spec.name, schedule, path))
    return list(found.values())


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def launch(item: Scheduled, catalog: Catalog) -> tuple[str | None, Callable[[], Finished]]:
    """Start ``item`` now: a workflow run is recorded (at most one RUNNING) before this returns; the
    returned callable runs it to the end. The spec is read again, so edits are picked up.

    Raises:
        WorkflowRunningError: the workflow has a RUNNING run. ConfigError: the spec no longer loads.
    """
    if item.kind == "workflow":
        from etl.jobs.workflow import WorkflowEngine

        engine = WorkflowEngine(load_workflow(item.source), catalog)
        record = engine.start(max_concurrent_runs=1)

        def run_workflow() -> Finished:
            done = engine.execute(record)
            return Finished(item, done.id, done.state, done.error_message)

        return record.id, run_workflow
    spec = load_yaml(item.source, CrawlerSpec)

    def run_crawler() -> Finished:
        from etl.crawler.crawler import Crawler

        try:
            result = Crawler(spec, catalog).run()
        except EtlError as exc:
            return Finished(item, None, "FAILED", str(exc))
        return Finished(item, None if result.run_id is None else str(result.run_id), "SUCCEEDED")

    return None, run_crawler


class Scheduler:
    """Fires due items, never starting a second copy of a run still going.

    Args:
        items: what to schedule (see :func:`discover`).
        catalog_url: the catalog holding the runs (each run gets its own connection to it).
        clock: the current time (UTC, aware); injected by tests.
        interval: seconds between checks at most; also how far back the first check looks.
        launch: starts an item (see :func:`launch`; replaceable in tests).
        on_decision, on_finished: called for each decision and each ended run.
        crawl_stale_after: a RUNNING crawl older than this is taken as abandoned (crawls record no process).
    """

    def __init__(
        self,
        items: list[Scheduled],
        catalog_url: str | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval: float = 60.0,
        launch: Launch = launch,
        on_decision: Callable[[Decision], None] | None = None,
        on_finished: Callable[[Finished], None] | None = None,
        crawl_stale_after: timedelta = timedelta(hours=6),
    ) -> None:
        if not items:
            raise ConfigError("nothing to schedule: no workflow has a SCHEDULED trigger and no crawler a Schedule")
        if interval <= 0:
            raise ConfigError(f"interval must be a positive number of seconds, got {interval}")
        self.items = items
        self.catalog = Catalog(catalog_url)
        self.clock = clock
        self.interval = interval
        self.launch = launch
        self.on_decision = on_decision or (lambda _d: None)
        self.on_finished = on_finished or (lambda _f: None)
        self.crawl_stale_after = crawl_stale_after
        start = clock() - timedelta(seconds=interval)
        self._since = {item.key: start for item in items}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    # ----- what is due -------------------------------------------------------------------------
    def latest_fire(self, item: Scheduled, now: datetime) -> datetime | None:
        """The latest fire time of ``item`` after the previous check and at or before ``now``."""
        fire = item.schedule.next_after(self._since[item.key])
        if fire > now:
            return None
        for _ in range(_MAX_STEPS):
            following = item.schedule.next_after(fire)
            if following > now:
                break
            fire = following
        return fire

    def due(self, now: datetime | None = None) -> list[tuple[Scheduled, datetime]]:
        """Items with a fire time since the previous check, and that time (the latest)."""
        now = now or self.clock()
        found = []
        for item in self.items:
            fire = self.latest_fire(item, now)
            if fire is not None:
                found.append((item, fire))
        return found

    def next_fire(self, now: datetime | None = None) -> datetime:
        """The earliest upcoming fire time of any item."""
        now = now or self.clock()
        return min(item.schedule.next_after(max(now, self._since[item.key])) for item in self.items)

    # ----- never twice ----------------------------------------------------------------------------
    def _inflight(self, item: Scheduled) -> bool:
        with self._lock:
            thread = self._threads.get(item.key)
            return thread is not None and thread.is_alive()

    def _recent_crawls(self, name: str) -> list[tuple[int, str, datetime]]:
        """(id, state, start time) of the crawler's newest crawl runs."""
        with self.catalog._session() as s:
            rows = s.execute(
                select(CrawlRunRow.id, CrawlRunRow.state, CrawlRunRow.start_time)
                .where(CrawlRunRow.crawler_name == name)
                .order_by(CrawlRunRow.id.desc())
                .limit(20)
            ).all()
            return [(row[0], row[1], _aware(row[2])) for row in rows]

    def blocker(self, item: Scheduled, fire: datetime, now: datetime) -> str | None:
        """Why ``item`` must not start for ``fire``: a run still going or one started since; else None."""
        if self._inflight(item):
            return "the run this scheduler started is still going"
        if item.kind == "workflow":
            store = WorkflowStore(self.catalog)
            running = store.running(item.name)
            if running:
                return (
                    f"run {running[0].id} is still RUNNING (pid {running[0].statistics.get('Runner', {}).get('Pid')})"
                )
            since = store.started_since(item.name, fire)
            if since is not None:
                return f"run {since.id} already started at {since.start_time.isoformat()}"
            return None
        for crawl_id, state, started in self._recent_crawls(item.name):
            if state == "RUNNING" and now - started < self.crawl_stale_after:
                return f"crawl run {crawl_id} is still RUNNING (since {started.isoformat()})"
            if started >= fire:
                return f"crawl run {crawl_id} already started at {started.isoformat()}"
        return None

    # ----- running --------------------------------------------------------------------------------
    def _work(self, item: Scheduled, run_id: str | None, body: Callable[[], Finished], catalog: Catalog) -> None:
        try:
            finished = body()
        except Exception as exc:  # reported, never fatal to the scheduler
            log.exception("%s %s failed", item.kind, item.name)
            finished = Finished(item, run_id, "ERROR", f"{type(exc).__name__}: {exc}")
        finally:
            catalog.close()
        self.on_finished(finished)

    def tick(self, now: datetime | None = None, *, wait: bool = False) -> list[Decision]:
        """Start every due item that is not blocked; ``wait`` joins the runs started.

        Each item's next check looks after ``now``, started or skipped: a skipped fire time is not retried.
        """
        now = now or self.clock()
        decisions = []
        started = []
        for item, fire in self.due(now):
            self._since[item.key] = now
            reason = self.blocker(item, fire, now)
            if reason is not None:
                decision = Decision(item, fire, "skipped", reason)
            else:
                catalog = Catalog(self.catalog.url)
                try:
                    run_id, body = self.launch(item, catalog)
                except WorkflowRunningError as exc:
                    catalog.close()
                    decision = Decision(item, fire, "skipped", str(exc))
                except EtlError as exc:
                    catalog.close()
                    decision = Decision(item, fire, "failed", str(exc))
                else:
                    thread = threading.Thread(
                        target=self._work, args=(item, run_id, body, catalog), name=f"etl-{item.key}", daemon=True
                    )
                    with self._lock:
                        self._threads[item.key] = thread
                    thread.start()
                    started.append(thread)
                    decision = Decision(item, fire, "started", run_id=run_id)
            log.info("%s %s due at %s: %s %s", item.kind, item.name, fire, decision.action, decision.reason)
            self.on_decision(decision)
            decisions.append(decision)
        if wait:
            for thread in started:
                thread.join()
        return decisions

    def running(self) -> list[str]:
        """Keys of the items whose runs this scheduler started and that are still going."""
        with self._lock:
            return [key for key, thread in self._threads.items() if thread.is_alive()]

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs this scheduler started."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)

    def serve(self, stop: threading.Event, *, sleep: Callable[[float], Any] | None = None) -> None:
        """Check, then sleep until the next fire time (``interval`` at most), until ``stop`` is set."""
        wait = sleep or stop.wait
        while not stop.is_set():
            self.tick()
            now = self.clock()
            pause = min(self.interval, max(0.2, (self.next_fire(now) - now).total_seconds()))
            wait(pause)
