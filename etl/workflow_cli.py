"""``etl workflow run|status|runs|resume|graph`` and ``etl scheduler``: Glue-style workflows from conf/workflows."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

workflow_app = typer.Typer(help="Run Glue-style workflows of crawlers and jobs.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)

CatalogOption = typer.Option(
    None, "--catalog", help="Catalog URL (default: $ETL_CATALOG_URL or SQLite under $ETL_HOME)."
)
ConfOption = typer.Option(Path("conf/workflows"), "--conf-dir", help="Where workflow specs are looked up by name.")
_STYLE = {"COMPLETED": "green", "SUCCEEDED": "green", "RUNNING": "blue", "WAITING": "dim", "NOT_RUN": "dim"}


def _styled(state: str) -> str:
    return f"[{_STYLE.get(state, 'red')}]{state}[/]"


def _wide() -> Console:
    return console if console.is_terminal else Console(width=200, highlight=False)  # piped output is not cut


def print_event(event) -> None:  # type: ignore[no-untyped-def]
    from etl.jobs.runner import run_log_path

    if event.kind == "run_started":
        console.print(f"workflow run {event.run_id} started ({escape(event.detail or '')})")
    elif event.kind == "trigger_fired":
        console.print(f"  trigger {escape(event.detail or '')} fired")
    elif event.kind == "node_started":
        console.print(f"  node {escape(event.node)} RUNNING ({escape(event.detail or '')})")
    elif event.kind == "job_run":
        console.print(f"    job run {event.detail} (log: {run_log_path(event.detail)})")
    elif event.kind == "node_finished":
        error = f": {escape(event.detail)}" if event.detail else ""
        console.print(f"  node {escape(event.node)} {_styled(event.state)}{error}")


def _properties(items: list[str] | None) -> dict[str, str]:
    from etl.errors import ConfigError

    result = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--property {item!r}: expected NAME=VALUE")
        key, value = item.split("=", 1)
        result[key.strip()] = value
    return result


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if moment else "-"


def print_run(record) -> None:  # type: ignore[no-untyped-def]
    """A workflow run: state, times, properties, statistics and each node."""
    seconds = f" in {(record.end_time - record.start_time).total_seconds():.1f}s" if record.end_time else ""
    console.print(
        f"workflow [bold]{escape(record.workflow_name)}[/] run {record.id}: {_styled(record.state)}"
        f" (started {_when(record.start_time)}{seconds})"
    )
    if record.previous_run_id:
        resumed = ", ".join(record.statistics.get("ResumedNodes", []))
        console.print(f"resumed from {record.previous_run_id}: re-ran {escape(resumed)}")
    if record.run_properties:
        console.print("run properties: " + escape(json.dumps(record.run_properties)))
    s = record.statistics
    console.print(
        f"nodes: {s.get('TotalActions', 0)} started of {len(record.nodes)}: {s.get('SucceededActions', 0)} succeeded, "
        f"{s.get('FailedActions', 0)} failed, {s.get('TimeoutActions', 0)} timed out, "
        f"{s.get('StoppedActions', 0)} stopped, {s.get('ErroredActions', 0)} in error, "
        f"{s.get('RunningActions', 0)} running, {s.get('WaitingActions', 0)} waiting, "
        f"{s.get('NotRunActions', 0)} not run"
    )
    table = Table()
    table.add_column("Node", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Run", no_wrap=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Seconds", no_wrap=True)
    table.add_column("Error", overflow="fold")
    kept = set(s.get("KeptNodes", []))
    for n in record.nodes:
        took = f"{(n.end_time - n.start_time).total_seconds():.1f}" if n.start_time and n.end_time else ""
        run = (n.run_id or "") + (" (kept)" if n.node_name in kept else "")
        error = (n.error_message or "").splitlines()[0][:200] if n.error_message else ""
        table.add_row(
            escape(n.node_name), n.kind.lower(), _styled(n.state), run, _when(n.start_time), took, escape(error)
        )
    _wide().print(table)
    if record.state != "COMPLETED" and record.error_message:
        console.print(f"[red]{escape(record.error_message)}[/]")


def _shape(record) -> str:  # type: ignore[no-untyped-def]
    return json.dumps({"WorkflowRun": record.glue_shape()}, indent=2, default=str)


def _finish(record, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        print(_shape(record))
    else:
        print_run(record)
    if record.state != "COMPLETED":
        raise typer.Exit(1)


def _run_for(target: str, catalog_url: str | None, conf_dir: Path):  # type: ignore[no-untyped-def]
    """A run by id (``wr_...``), else the latest run of a workflow (by name or file)."""
    from etl.catalog import Catalog
    from etl.errors import WorkflowError
    from etl.jobs.workflow import WorkflowStore, find_workflow

    store = WorkflowStore(Catalog(catalog_url))
    if target.startswith("wr_"):
        return store.get(target)
    name = find_workflow(target, conf_dir).name if target.endswith((".yaml", ".yml")) else target
    latest = store.latest(name)
    if latest is None:
        raise WorkflowError(f"workflow {name} has no runs")
    return latest


@workflow_app.command("run")
def run_command(
    name: str = typer.Argument(..., help="A workflow name (conf/workflows) or a workflow file."),
    prop: list[str] = typer.Option(None, "--property", "-p", help="A run property NAME=VALUE (repeatable)."),  # noqa: B008
    master: str = typer.Option(None, "--master", help="Spark master URL for the jobs."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Copy the jobs' output to stderr."),
    as_json: bool = typer.Option(False, "--json", help="Print the finished run as Glue-shaped JSON."),
    conf_dir: Path = ConfOption,
    catalog: str = CatalogOption,
) -> None:
    """Start a workflow run and run it to the end; exits non-zero unless every started node succeeded."""
    from etl.catalog import Catalog
    from etl.jobs.workflow import WorkflowEngine, find_workflow

    workflow = find_workflow(name, conf_dir)
    engine = WorkflowEngine(
        workflow,
        Catalog(catalog),
        master=master,
        echo=sys.stderr if verbose else None,
        on_event=None if as_json else print_event,
    )
    _finish(engine.run(_properties(prop)), as_json)


@workflow_app.command("resume")
def resume_command(
    target: str = typer.Argument(..., help="A workflow run id (wr_...), or a workflow name: its latest run."),
    node: list[str] = typer.Option(None, "--node", help="Re-run this node (repeatable; default: the failed ones)."),  # noqa: B008
    spec_file: Path = typer.Option(None, "--file", help="The workflow spec (default: found by name in conf-dir)."),  # noqa: B008
    master: str = typer.Option(None, "--master", help="Spark master URL for the jobs."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Copy the jobs' output to stderr."),
    as_json: bool = typer.Option(False, "--json", help="Print the finished run as Glue-shaped JSON."),
    conf_dir: Path = ConfOption,
    catalog: str = CatalogOption,
) -> None:
    """Re-run the failed nodes of a run and what depends on them, keeping the others' results."""
    from etl.catalog import Catalog
    from etl.jobs.workflow import WorkflowEngine, find_workflow, load_workflow

    previous = _run_for(target, catalog, conf_dir)
    workflow = load_workflow(spec_file) if spec_file else find_workflow(previous.workflow_name, conf_dir)
    engine = WorkflowEngine(
        workflow,
        Catalog(catalog),
        master=master,
        echo=sys.stderr if verbose else None,
        on_event=None if as_json else print_event,
    )
    _finish(engine.resume(previous.id, node or None), as_json)


@workflow_app.command("status")
def status_command(
    target: str = typer.Argument(..., help="A workflow run id (wr_...), or a workflow name: its latest run."),
    as_json: bool = typer.Option(False, "--json", help="Print Glue-shaped JSON."),
    conf_dir: Path = ConfOption,
    catalog: str = CatalogOption,
) -> None:
    """Show a workflow run: COMPLETED only when every started node succeeded, else the failed nodes."""
    record = _run_for(target, catalog, conf_dir)
    if as_json:
        print(_shape(record))
    else:
        print_run(record)


@workflow_app.command("runs")
def runs_command(
    name: str = typer.Argument(None, help="Workflow name (default: every workflow)."),
    limit: int = typer.Option(20, "--limit", help="How many runs to show, newest first."),
    catalog: str = CatalogOption,
) -> None:
    """List workflow runs, newest first."""
    from etl.catalog import Catalog
    from etl.jobs.workflow import WorkflowStore

    table = Table()
    for column in ("Run", "Workflow", "State", "Started", "Seconds", "Nodes ok/started/all", "Resumed from"):
        table.add_column(column, no_wrap=True)
    for r in WorkflowStore(Catalog(catalog)).list(name, limit=limit):
        seconds = f"{(r.end_time - r.start_time).total_seconds():.1f}" if r.end_time else ""
        s = r.statistics
        counts = f"{s.get('SucceededActions', 0)}/{s.get('TotalActions', 0)}/{len(r.nodes)}"
        table.add_row(
            r.id,
            escape(r.workflow_name),
            _styled(r.state),
            _when(r.start_time),
            seconds,
            counts,
            r.previous_run_id or "",
        )
    _wide().print(table)


@workflow_app.command("graph")
def graph_command(
    name: str = typer.Argument(..., help="A workflow name (conf/workflows) or a workflow file."),
    output: Path = typer.Option(  # noqa: B008
        None, "--output", "-o", help="Image file: .svg, .dot or .png (default: $ETL_HOME/graphs/NAME.svg)."
    ),
    run: str = typer.Option(None, "--run", help="Colour the nodes by this run's states (a run id, or 'latest')."),
    conf_dir: Path = ConfOption,
    catalog: str = CatalogOption,
) -> None:
    """Draw the workflow's DAG in the terminal and write it as an image."""
    from etl.home import etl_home
    from etl.jobs.graph import to_tree, write_graph
    from etl.jobs.workflow import find_workflow

    workflow = find_workflow(name, conf_dir)
    states: dict[str, Any] = {}
    if run:
        record = _run_for(workflow.name if run == "latest" else run, catalog, conf_dir)
        states = {n.node_name: n.state for n in record.nodes}
    console.print(to_tree(workflow, states))
    path = write_graph(workflow, output or etl_home() / "graphs" / f"{workflow.name}.svg", states)
    console.print(f"graph written to {path}")


def scheduler_command(
    once: bool = typer.Option(False, "--once", help="Run what is due now, wait for it, and exit."),
    interval: float = typer.Option(60.0, "--interval", help="Seconds between checks at most (and --once's look-back)."),
    at: str = typer.Option(None, "--at", help="With --once: check as if now were this ISO time (UTC if no zone)."),
    workflows: Path = typer.Option(Path("conf/workflows"), "--workflows", help="Folder of workflow specs."),  # noqa: B008
    crawlers: Path = typer.Option(Path("conf/crawlers"), "--crawlers", help="Folder of crawler specs."),  # noqa: B008
    catalog: str = CatalogOption,
) -> None:
    """Run SCHEDULED workflow triggers and crawler schedules, never a second copy of a run still going."""
    from etl.errors import ConfigError
    from etl.jobs.scheduler import Scheduler, discover

    if at and not once:
        raise ConfigError("--at only goes with --once")
    clock = None
    if at:
        try:
            fixed = datetime.fromisoformat(at)
        except ValueError:
            raise ConfigError(f"--at {at!r}: expected an ISO time such as 2025-01-31T06:00:00Z") from None
        fixed = fixed if fixed.tzinfo else fixed.replace(tzinfo=UTC)
        clock = lambda: fixed  # noqa: E731
    items = discover(
        workflows, crawlers, on_error=lambda path, exc: console.print(f"[red]skipped {path}[/]: {escape(str(exc))}")
    )
    outcomes: list[str] = []

    def decided(d) -> None:  # type: ignore[no-untyped-def]
        what = f"{d.item.kind} {escape(d.item.name)} (due {_when(d.fire_time)})"
        if d.action == "started":
            console.print(f"started {what}" + (f": run {d.run_id}" if d.run_id else ""))
        else:
            console.print(f"{d.action} {what}: {escape(d.reason)}")
            if d.action == "failed":
                outcomes.append("failed")

    def finished(f) -> None:  # type: ignore[no-untyped-def]
        error = f": {escape(f.error)}" if f.error else ""
        console.print(f"{f.item.kind} {escape(f.item.name)} run {f.run_id or '-'} ended {_styled(f.state)}{error}")
        outcomes.append(f.state)

    options: dict[str, Any] = {"interval": interval, "on_decision": decided, "on_finished": finished}
    if clock is not None:
        options["clock"] = clock
    scheduler = Scheduler(items, catalog, **options)
    for item in items:
        console.print(f"scheduled {item.kind} {escape(item.name)}: {item.schedule.expression} ({item.source})")
    if once:
        scheduler.tick(wait=True)
        if any(o not in ("COMPLETED", "SUCCEEDED") for o in outcomes):
            raise typer.Exit(1)
        return
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        scheduler.serve(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
    going = scheduler.running()
    if going:
        console.print(f"stopping: waiting for {', '.join(going)} to end (Ctrl-C again to abandon them)")
    scheduler.join()
