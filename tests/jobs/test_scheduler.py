"""The scheduler: what is due (injected clock), never a second copy of a run still going, real runs."""

from __future__ import annotations

import json
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from etl.catalog import Catalog
from etl.catalog.crawls import CrawlStore
from etl.catalog.job_models import WorkflowRunRow
from etl.catalog.models import CrawlRunRow
from etl.errors import ConfigError
from etl.jobs.scheduler import Finished, Scheduled, Scheduler, discover
from etl.jobs.workflow_store import WorkflowStore
from etl.schedule import Schedule

DAY = datetime(2025, 3, 10, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0, days: int = 0) -> datetime:
    return DAY + timedelta(days=days, hours=hour, minutes=minute, seconds=second)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ETL_HOME", str(tmp_path / "home"))
    for folder in ("jobs", "conf/jobs", "conf/workflows", "conf/crawlers", "data/events"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "jobs" / "mark.py").write_text(
        "import sys\nfrom pathlib import Path\nPath('out').mkdir(exist_ok=True)\n"
        "Path('out/mark.txt').open('a').write(' '.join(sys.argv[1:]) + '\\n')\n"
    )
    (tmp_path / "conf" / "jobs" / "mark.yaml").write_text(
        json.dumps({"job": {"name": "mark", "type": "pythonshell", "script": "jobs/mark.py"}})
    )
    (tmp_path / "data" / "events" / "part-0.csv").write_text("id,name\n1,a\n")
    return tmp_path


@pytest.fixture
def catalog_url(project: Path) -> str:
    return f"sqlite:///{project / 'catalog.db'}"


def scheduled_workflow(project: Path, name: str = "nightly", schedule: str = "cron(0 6 * * ? *)") -> Path:
    path = project / "conf" / "workflows" / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: {name}
            nodes: {{jobs: [{{job: conf/jobs/mark.yaml}}]}}
            triggers: [{{name: start, type: SCHEDULED, schedule: "{schedule}", actions: [mark]}}]
            """
        )
    )
    return path


def crawler_spec(project: Path, name: str = "events", schedule: str | None = "cron(30 6 * * ? *)") -> Path:
    path = project / "conf" / "crawlers" / f"{name}.yaml"
    lines = [f"Name: {name}", "DatabaseName: lake", "Targets: {S3Targets: [{Path: data/events}]}"]
    if schedule:
        lines.append(f'Schedule: "{schedule}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def item(kind: str = "workflow", name: str = "nightly", schedule: str = "cron(0 6 * * ? *)") -> Scheduled:
    return Scheduled(kind, name, Schedule.parse(schedule), Path(f"{name}.yaml"))  # type: ignore[arg-type]


class Recorder:
    """A launch that records what it started and runs nothing (or waits for ``release``)."""

    def __init__(self, release: threading.Event | None = None) -> None:
        self.started: list[str] = []
        self.release = release

    def __call__(self, scheduled: Scheduled, _catalog: Catalog):  # type: ignore[no-untyped-def]
        self.started.append(scheduled.name)

        def body() -> Finished:
            if self.release is not None:
                self.release.wait(30)
            return Finished(scheduled, None, "COMPLETED")

        return None, body


# ----- discovery ------------------------------------------------------------------------------
def test_discover_finds_scheduled_workflows_and_crawlers_and_reports_bad_specs(project):
    scheduled_workflow(project)
    on_demand = project / "conf" / "workflows" / "manual.yaml"
    on_demand.write_text(
        "name: manual\nnodes: {jobs: [{job: conf/jobs/mark.yaml}]}\n"
        "triggers: [{name: go, type: ON_DEMAND, actions: [mark]}]\n"
    )
    (project / "conf" / "workflows" / "broken.yaml").write_text("name: broken\nnodes: {}\ntriggers: []\n")
    crawler_spec(project)
    crawler_spec(project, "unscheduled", schedule=None)
    errors: list[str] = []
    items = discover(
        project / "conf" / "workflows", project / "conf" / "crawlers", on_error=lambda p, e: errors.append(p.name)
    )
    assert sorted((i.kind, i.name, i.schedule.expression) for i in items) == [
        ("crawler", "events", "cron(30 6 * * ? *)"),
        ("workflow", "nightly", "cron(0 6 * * ? *)"),
    ]
    assert errors == ["broken.yaml"]
    with pytest.raises(ConfigError, match="broken.yaml"):
        discover(project / "conf" / "workflows", project / "conf" / "crawlers")
    (project / "conf" / "workflows" / "copy.yaml").write_text(scheduled_workflow(project).read_text())
    with pytest.raises(ConfigError, match="workflow nightly is also scheduled by"):
        discover(project / "conf" / "workflows", project / "conf" / "crawlers", on_error=lambda p, e: None)
    with pytest.raises(ConfigError, match="nothing to schedule"):
        Scheduler([], None)


# ----- what is due ----------------------------------------------------------------------------
def test_an_item_is_due_once_per_fire_time_within_the_look_back(project, catalog_url):
    clock = Clock(at(6, 0, 30))
    launch = Recorder()
    scheduler = Scheduler([item()], catalog_url, clock=clock, interval=60, launch=launch)
    assert [(i.name, fire) for i, fire in scheduler.due()] == [("nightly", at(6))]
    assert [d.action for d in scheduler.tick(wait=True)] == ["started"]
    clock.now = at(6, 0, 50)
    assert scheduler.due() == [] and scheduler.tick() == []  # 06:00 is done
    clock.now = at(6, 0, 10, days=1)
    assert [fire for _i, fire in scheduler.due()] == [at(6, days=1)]
    assert scheduler.next_fire(at(7)) == at(6, days=1)
    late = Scheduler([item()], catalog_url, clock=Clock(at(6, 2)), interval=60, launch=launch)
    assert late.due() == []  # 06:00 is older than one interval before the scheduler started
    assert launch.started == ["nightly"]


def test_fire_times_missed_while_busy_run_once_at_the_latest(project, catalog_url):
    clock = Clock(at(6, 0, 1))
    launch = Recorder()
    scheduler = Scheduler([item(schedule="cron(*/5 * * * ? *)")], catalog_url, clock=clock, interval=60, launch=launch)
    scheduler.tick(wait=True)
    clock.now = at(6, 21)  # 06:05 .. 06:20 missed
    assert [fire for _i, fire in scheduler.due()] == [at(6, 20)]
    scheduler.tick(wait=True)
    assert launch.started == ["nightly", "nightly"]


# ----- never twice ----------------------------------------------------------------------------
def test_a_workflow_still_running_is_not_started_again(project, catalog_url):
    store = WorkflowStore(Catalog(catalog_url))
    going = store.start("nightly", {"mark": "JOB"}, {})  # this (live) process runs it
    launch = Recorder()
    scheduler = Scheduler([item()], catalog_url, clock=Clock(at(6, 0, 5)), launch=launch)
    (decision,) = scheduler.tick(wait=True)
    assert (decision.action, decision.fire_time) == ("skipped", at(6))
    assert f"run {going.id} is still RUNNING" in decision.reason
    assert launch.started == []
    store.finish(going.id)
    # a run already started since the fire time (another scheduler, or by hand) counts as the fire's run
    clock = Clock(at(7, 0, 5))
    again = store.start("nightly", {"mark": "JOB"}, {})
    store.finish(again.id)
    with Catalog(catalog_url)._session() as s:  # the runs started before 06:00 and just after 07:00
        s.get(WorkflowRunRow, going.id).start_time = at(5, 59)
        s.get(WorkflowRunRow, again.id).start_time = at(7, 0, 1)
    every_minute = Scheduler([item(schedule="cron(* * * * ? *)")], catalog_url, clock=clock, launch=launch)
    (decision,) = every_minute.tick()
    assert decision.action == "skipped" and f"run {again.id} already started" in decision.reason
    assert launch.started == []


def test_a_crawl_still_running_blocks_until_it_is_stale(project, catalog_url):
    catalog = Catalog(catalog_url)
    crawl_id = CrawlStore(catalog).start_run("events")
    with catalog._session() as s:
        s.get(CrawlRunRow, crawl_id).start_time = at(5)
    launch = Recorder()
    crawler = item("crawler", "events", "cron(30 6 * * ? *)")
    scheduler = Scheduler([crawler], catalog_url, clock=Clock(at(6, 30, 2)), launch=launch)
    (decision,) = scheduler.tick()
    assert decision.action == "skipped" and f"crawl run {crawl_id} is still RUNNING" in decision.reason
    stale = Scheduler(
        [crawler], catalog_url, clock=Clock(at(6, 30, 2)), launch=launch, crawl_stale_after=timedelta(hours=1)
    )
    (decision,) = stale.tick(wait=True)
    assert decision.action == "started" and launch.started == ["events"]


def test_a_run_this_scheduler_started_blocks_the_next_fire_until_it_ends(project, catalog_url):
    release = threading.Event()
    launch = Recorder(release)
    clock = Clock(at(6, 0, 1))
    finished: list[Finished] = []
    scheduler = Scheduler(
        [item(schedule="cron(* * * * ? *)")], catalog_url, clock=clock, launch=launch, on_finished=finished.append
    )
    assert [d.action for d in scheduler.tick()] == ["started"]
    clock.now = at(6, 1, 1)
    (decision,) = scheduler.tick()
    assert decision.action == "skipped" and "still going" in decision.reason
    assert scheduler.running() == ["workflow:nightly"]
    release.set()
    scheduler.join(10)
    clock.now = at(6, 2, 1)
    assert [d.action for d in scheduler.tick(wait=True)] == ["started"]
    assert launch.started == ["nightly", "nightly"] and [f.state for f in finished] == ["COMPLETED", "COMPLETED"]


def test_serve_sleeps_until_the_next_fire_at_most_an_interval(project, catalog_url):
    clock = Clock(at(5, 59, 0))
    stop = threading.Event()
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.now += timedelta(seconds=seconds)
        if len(pauses) == 4:
            stop.set()

    launch = Recorder()
    scheduler = Scheduler([item()], catalog_url, clock=clock, interval=25, launch=launch)
    scheduler.serve(stop, sleep=sleep)
    scheduler.join(10)
    assert pauses == [25, 25, 10, 25]  # 05:59:00 -> :25 -> :50 -> 06:00:00 (fires) -> 06:00:25
    assert launch.started == ["nightly"]


# ----- real runs ------------------------------------------------------------------------------
def test_due_workflows_and_crawlers_really_run(project, catalog_url):
    scheduled_workflow(project)
    crawler_spec(project, schedule="cron(0 6 * * ? *)")
    items = discover(project / "conf" / "workflows", project / "conf" / "crawlers")
    finished: list[Finished] = []
    scheduler = Scheduler(items, catalog_url, clock=Clock(at(6, 0, 3)), on_finished=finished.append)
    decisions = scheduler.tick(wait=True)
    assert sorted((d.item.kind, d.action) for d in decisions) == [("crawler", "started"), ("workflow", "started")]
    assert sorted((f.item.kind, f.state) for f in finished) == [("crawler", "SUCCEEDED"), ("workflow", "COMPLETED")]
    catalog = Catalog(catalog_url)
    (run,) = WorkflowStore(catalog).list("nightly")
    assert run.state == "COMPLETED" and run.id == next(d.run_id for d in decisions if d.item.kind == "workflow")
    assert "--WORKFLOW_NAME nightly" in (project / "out" / "mark.txt").read_text()
    assert [r["State"] for r in CrawlStore(catalog).runs("events")] == ["SUCCEEDED"]
