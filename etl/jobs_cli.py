"""``etl run``, ``etl runs`` and ``etl run-status``: start job runs and read their history."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(soft_wrap=True, highlight=False)

CatalogOption = typer.Option(
    None, "--catalog", help="Catalog URL (default: $ETL_CATALOG_URL or SQLite under $ETL_HOME)."
)


def _print_event(event) -> None:  # type: ignore[no-untyped-def]
    from etl.jobs.runner import run_log_path

    r = event.record
    if event.kind == "started":
        console.print(f"run {r.id}: job {r.job_name} attempt {r.attempt} {r.state}")
    elif event.kind == "running":
        console.print(f"run {r.id}: attempt {r.attempt} RUNNING (log: {run_log_path(r.id)})")
    elif event.kind == "finished":
        error = f": {escape(r.error_message)}" if r.error_message else ""
        took = f" after {r.duration_seconds:.1f}s" if r.duration_seconds is not None else ""
        console.print(f"run {r.id}: attempt {r.attempt} {r.state}{took}{error}")
    elif event.kind == "retrying":
        nxt = event.next_record
        console.print(f"run {r.id}: retrying in {event.delay:.2f}s as attempt {nxt.attempt}, run {nxt.id}")


def run_command(
    target: str = typer.Argument(..., help="A job file (conf/jobs/x.yaml), a script (jobs/x.py) or a job name."),
    arg: list[str] = typer.Option(None, "--arg", help="A run argument NAME=VALUE (repeatable)."),  # noqa: B008
    master: str = typer.Option(None, "--master", help="Spark master URL, e.g. spark://host:7077 or local[2]."),
    job: str = typer.Option(None, "--job", help="Job name (default: the definition's, else the file name)."),
    timeout: float = typer.Option(None, "--timeout", help="This run's timeout in minutes (default: the job's)."),
    quiet: bool = typer.Option(False, "--quiet", help="Do not copy the job's output to stderr."),
    catalog: str = CatalogOption,
) -> None:
    """Run a job: every attempt is recorded; exits non-zero unless the run SUCCEEDED."""
    from etl.catalog import Catalog
    from etl.jobs.arguments import parse_cli_arguments
    from etl.jobs.definition import resolve_job
    from etl.jobs.runner import run_job

    run_args = parse_cli_arguments(arg or [])
    store = Catalog(catalog)
    definition = resolve_job(target, job_name=job, catalog=store)
    outcome = run_job(
        definition,
        run_args,
        master=master,
        catalog=store,
        timeout_minutes=timeout,
        echo=None if quiet else sys.stderr,
        on_event=_print_event,
    )
    final = outcome.final
    console.print(
        f"final state: {final.state} (run {outcome.run_id}, {len(outcome.attempts)} attempt(s), "
        f"last attempt {final.id})"
    )
    if not outcome.succeeded:
        raise typer.Exit(1)


def runs_command(
    job: str = typer.Argument(None, help="Job name (default: every job)."),
    limit: int = typer.Option(20, "--limit", help="How many attempts to show, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print Glue-shaped JSON."),
    catalog: str = CatalogOption,
) -> None:
    """List job run attempts, newest first."""
    from etl.catalog import Catalog
    from etl.jobs.history import RunHistory

    records = RunHistory(Catalog(catalog)).list(job, limit=limit)
    if as_json:
        print(json.dumps({"JobRuns": [r.glue_shape() for r in records]}, indent=2, default=str))
        return
    table = Table()
    table.add_column("Run", no_wrap=True)  # ids are what the other commands take: never cut them
    for name in ("Job", "Attempt", "State", "Started", "Seconds"):
        table.add_column(name, no_wrap=True)
    table.add_column("Error", overflow="fold")
    for r in records:
        seconds = f"{r.duration_seconds:.1f}" if r.duration_seconds is not None else ""
        error = (r.error_message or "").splitlines()[0][:80] if r.error_message else ""
        table.add_row(
            r.id, r.job_name, str(r.attempt), r.state, f"{r.start_time:%Y-%m-%d %H:%M:%S}", seconds, escape(error)
        )
    # piped output is not cut to 80 columns
    (console if console.is_terminal else Console(width=200, highlight=False)).print(table)


def run_status_command(
    run_id: str = typer.Argument(..., help="A run id (jr_...)."),
    as_json: bool = typer.Option(False, "--json", help="Print Glue-shaped JSON."),
    catalog: str = CatalogOption,
) -> None:
    """Show one attempt: state, times, arguments, error, metrics, data quality and bookmark."""
    from etl.catalog import Catalog
    from etl.jobs.history import RunHistory
    from etl.jobs.runner import run_log_path

    history = RunHistory(Catalog(catalog))
    record = history.get(run_id)
    chain = history.attempts(run_id)
    log = run_log_path(record.id)
    if as_json:
        shape = record.glue_shape()
        shape["Attempts"] = [{"Id": a.id, "Attempt": a.attempt, "JobRunState": a.state} for a in chain]
        shape["LogFile"] = str(log) if log.exists() else None
        print(json.dumps({"JobRun": shape}, indent=2, default=str))
        return
    shape = record.glue_shape()
    for key in (
        "Id",
        "JobName",
        "Attempt",
        "PreviousRunId",
        "JobRunState",
        "StartedOn",
        "CompletedOn",
        "DurationSeconds",
        "Timeout",
        "ErrorMessage",
        "WorkflowRunId",
        "Pid",
        "Host",
        "LastHeartbeat",
    ):
        value = shape[key]
        console.print(f"{key}: {escape(str(value)) if value is not None else '-'}")
    console.print("Attempts: " + " -> ".join(f"{a.id} (attempt {a.attempt}, {a.state})" for a in chain))
    console.print(f"LogFile: {log if log.exists() else '-'}")
    for key in ("Arguments", "PredecessorRuns", "Metrics", "DataQuality", "Bookmark"):
        console.print(f"{key}: " + escape(json.dumps(shape[key], indent=2, default=str)))
