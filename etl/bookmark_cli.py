"""``etl bookmark ...``: inspect and change a job's bookmark (the files its sources processed).

* ``show JOB``: per transformation_ctx, the files recorded and the run that committed last
  (``--files`` lists them).
* ``reset JOB``: forget everything (Glue's ResetJobBookmark); ``--ctx`` for one source only.
* ``rewind JOB --to-run RUN_ID``: back to the state as of that run (Glue's ResetJobBookmark
  with a RunId): what later runs committed is dropped, so the next run reprocesses it.
* ``set JOB --ctx CTX --path PATH [--files-before ISO_TIME]``: record the files under PATH
  (modified before the time, if given) as processed, to start bookmarking a folder without
  reprocessing its history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from etl.errors import ConfigError

bookmark_app = typer.Typer(help="Show, reset, rewind or set job bookmarks.", no_args_is_help=True)
console = Console(soft_wrap=True)

CatalogOption = typer.Option(
    None, "--catalog", help="Catalog URL (default: $ETL_CATALOG_URL or SQLite under $ETL_HOME)."
)

PathOption = typer.Option(..., "--path", help="Folder or file the source reads (repeatable).")


def _engine(url: str | None):  # type: ignore[no-untyped-def]
    from etl.catalog import Catalog

    return Catalog(url).engine


def _bookmarks():  # type: ignore[no-untyped-def]
    from etl.jobs import bookmarks  # imported on use: pyarrow and SQLAlchemy slow down every `etl` call

    return bookmarks


def _iso_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--files-before: expected an ISO time such as 2024-05-01T00:00:00, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bookmark_app.command("show")
def show(
    job: str,
    list_files: bool = typer.Option(False, "--files", help="List every recorded file."),
    ctx: str = typer.Option(None, "--ctx", help="Only this transformation_ctx (with --files)."),
    catalog: str = CatalogOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Per transformation_ctx: files recorded, bytes, and the run that committed last."""
    engine = _engine(catalog)
    summary = _bookmarks().show(engine, job)
    rows = _bookmarks().files(engine, job, ctx) if list_files else []
    if as_json:
        out = {
            "JobName": job,
            "Sources": [
                {
                    "TransformationCtx": s.transformation_ctx,
                    "Files": s.files,
                    "Bytes": s.bytes,
                    "LastRunId": s.last_run_id,
                    "LastCommit": s.last_commit.isoformat(),
                }
                for s in summary
            ],
        }
        if list_files:
            out["Files"] = [
                {
                    "TransformationCtx": r.transformation_ctx,
                    "Path": r.path,
                    "Size": r.size,
                    "MTime": r.mtime,
                    "RunId": r.run_id,
                }
                for r in rows
            ]
        console.print_json(json.dumps(out))
        return
    if not summary:
        console.print(f"job {job}: no bookmark recorded (the next bookmarked run reads every file)")
        return
    table = Table(title=f"job {job}")
    for header in ("Source (transformation_ctx)", "Files", "Bytes", "Last run", "Last commit"):
        table.add_column(header, overflow="fold")
    for s in summary:
        table.add_row(s.transformation_ctx, str(s.files), str(s.bytes), s.last_run_id, s.last_commit.isoformat())
    console.print(table)
    if list_files:
        listing = Table()
        for header in ("Source", "Path", "Size", "Modified", "Run"):
            listing.add_column(header, overflow="fold")
        for r in rows:
            modified = datetime.fromtimestamp(r.mtime, UTC).isoformat()
            listing.add_row(r.transformation_ctx, r.path, str(r.size), modified, r.run_id)
        console.print(listing)


@bookmark_app.command("reset")
def reset(
    job: str,
    ctx: str = typer.Option(None, "--ctx", help="Reset only this transformation_ctx."),
    catalog: str = CatalogOption,
) -> None:
    """Forget the recorded files: the next run reads everything."""
    dropped = _bookmarks().reset(_engine(catalog), job, ctx)
    scope = f"source {ctx!r} of job {job}" if ctx else f"job {job}"
    console.print(f"reset the bookmark of {scope}: {dropped} file record(s) dropped")


@bookmark_app.command("rewind")
def rewind(
    job: str,
    to_run: str = typer.Option(..., "--to-run", help="The run whose bookmark state to return to."),
    catalog: str = CatalogOption,
) -> None:
    """Return the bookmark to its state as of a run; later runs' files are read again."""
    dropped = _bookmarks().rewind(_engine(catalog), job, to_run)
    console.print(f"rewound the bookmark of job {job} to run {to_run}: {dropped} file record(s) dropped")


@bookmark_app.command("set")
def set_processed(
    job: str,
    ctx: str = typer.Option(..., "--ctx", help="The source's transformation_ctx."),
    path: list[str] = PathOption,
    files_before: str = typer.Option(
        None, "--files-before", help="Only files modified before this ISO time (UTC unless it has an offset)."
    ),
    catalog: str = CatalogOption,
) -> None:
    """Record the data files under PATH as processed by source CTX."""
    before = _iso_time(files_before) if files_before else None
    count, marker = _bookmarks().mark_processed(_engine(catalog), job, ctx, path, before)
    when = f" modified before {before.isoformat()}" if before else ""
    console.print(f"job {job}, source {ctx!r}: {count} file(s){when} recorded as processed (run id {marker})")
