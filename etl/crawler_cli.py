"""``etl crawl`` and ``etl crawler ...``: run crawlers, explain them, list their runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

crawler_app = typer.Typer(help="Run crawlers and inspect their runs.", no_args_is_help=True)
console = Console(soft_wrap=True)

CatalogOption = typer.Option(
    None, "--catalog", help="Catalog URL (default: $ETL_CATALOG_URL or SQLite under $ETL_HOME)."
)


def _run(spec, catalog_url: str | None, explain: bool) -> None:  # type: ignore[no-untyped-def]
    from etl.catalog import Catalog
    from etl.crawler.crawler import Crawler

    crawler = Crawler(spec, Catalog(catalog_url))
    result = crawler.run(dry_run=explain)
    if explain:
        _print_explain(result)
        return
    console.print(
        f"crawler [bold]{result.crawler}[/] run {result.run_id}: "
        f"{len(result.tables_created)} table(s) created, {len(result.tables_updated)} updated, "
        f"{len(result.tables_unchanged)} unchanged, {len(result.tables_deleted)} deleted, "
        f"{len(result.tables_deprecated)} deprecated; {result.partitions_added} partition(s) added, "
        f"{result.partitions_deleted} deleted; {result.files_read} file(s) read, "
        f"{result.files_skipped} skipped, {len(result.errors)} error(s) in {result.duration:.2f}s"
    )
    for name in result.tables_created:
        console.print(f"  created {spec.database_name}.{name}")
    for name in result.tables_updated:
        console.print(f"  updated {spec.database_name}.{name}")
    for line in result.logged_changes:
        console.print(f"  logged: {line}")
    for err in result.errors:
        console.print(f"  [red]error[/] {err.path}: {err.reason}")


def _print_explain(result) -> None:  # type: ignore[no-untyped-def]
    for plan in result.plans:
        console.print(f"[bold]table {plan.name}[/] at {plan.location}"
                      + (f", partitioned by {', '.join(plan.partition_keys)}" if plan.partition_keys else ""))
        for reason in plan.reasons:
            console.print(f"  why: {reason}")
        folders: dict[str, list] = {}
        for v in plan.files:
            folders.setdefault(v.file.folder or ".", []).append(v)
        for folder, verdicts in sorted(folders.items()):
            first = verdicts[0].classification
            cols = ", ".join(f"{c.name} {c.type}" for c in first.columns[:8])
            more = "" if len(first.columns) <= 8 else f", ... ({len(first.columns)} columns)"
            console.print(f"  {folder}: {len(verdicts)} file(s), {first.classifier or first.classification} "
                          f"certainty {first.certainty:.2f}: {first.reason}")
            console.print(f"    schema: {cols}{more}")
    for err in result.errors:
        console.print(f"[red]unreadable[/] {err.path}: {err.reason}")


@crawler_app.command("run")
def run_spec(
    spec_file: Path,
    explain: bool = typer.Option(False, "--explain", help="Plan and explain only; change nothing."),
    catalog: str = CatalogOption,
) -> None:
    """Run the crawler defined in SPEC_FILE (YAML mirroring Glue's CreateCrawler)."""
    from etl.config import load_yaml
    from etl.crawler.spec import CrawlerSpec

    _run(load_yaml(spec_file, CrawlerSpec), catalog, explain)


@crawler_app.command("explain")
def explain_spec(spec_file: Path, catalog: str = CatalogOption) -> None:
    """Show, per folder, the winning classifier, its certainty, the schema and the grouping."""
    from etl.config import load_yaml
    from etl.crawler.spec import CrawlerSpec

    _run(load_yaml(spec_file, CrawlerSpec), catalog, True)


@crawler_app.command("runs")
def runs(name: str, catalog: str = CatalogOption, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the runs of crawler NAME, newest first."""
    from etl.catalog import Catalog
    from etl.catalog.crawls import CrawlStore

    rows = CrawlStore(Catalog(catalog)).runs(name)
    if as_json:
        console.print_json(json.dumps({"CrawlerRuns": rows}, default=str))
        return
    table = Table("Run", "State", "Start", "Seconds", "Created", "Updated", "Deleted", "Partitions+",
                  "Files read", "Skipped", "Errors")
    for r in rows:
        table.add_row(str(r["RunId"]), r["State"], r["StartTime"][:19],
                      f"{r['DurationSeconds'] or 0:.2f}", str(r["TablesCreated"]), str(r["TablesUpdated"]),
                      str(r["TablesDeleted"]), str(r["PartitionsAdded"]), str(r["FilesRead"]),
                      str(r["FilesSkipped"]), str(len(r["Errors"])))
    console.print(table)


def crawl_command(
    path: str = typer.Argument(..., help="Folder to crawl."),
    database: str = typer.Option(..., "--database", help="Catalog database for the tables."),
    table_prefix: str = typer.Option("", "--table-prefix"),
    name: str = typer.Option(None, "--name", help="Crawler name (default: crawl_<database>)."),
    explain: bool = typer.Option(False, "--explain", help="Plan and explain only; change nothing."),
    catalog: str = CatalogOption,
) -> None:
    """Crawl PATH ad hoc into DATABASE (a crawler with default policies)."""
    from etl.config import parse_model
    from etl.crawler.spec import CrawlerSpec

    spec = parse_model({"Name": name or f"crawl_{database}", "DatabaseName": database,
                        "Targets": {"S3Targets": [{"Path": path}]}, "TablePrefix": table_prefix},
                       CrawlerSpec, source="etl crawl")
    _run(spec, catalog, explain)


@crawler_app.command("schedule")
def schedule(
    spec_files: list[Path] = typer.Argument(None, help="Crawler specs (default: conf/crawlers/*.yaml)."),  # noqa: B008
    max_runs: int = typer.Option(None, "--max-runs", help="Stop after this many runs (default: run until stopped)."),
    catalog: str = CatalogOption,
) -> None:
    """Run crawlers on their Schedule (Glue's cron(...) syntax) until stopped."""
    from etl.catalog import Catalog
    from etl.config import load_yaml
    from etl.crawler.crawler import Crawler
    from etl.crawler.spec import CrawlerSpec
    from etl.schedule import Schedule, ScheduledItem, run_loop

    files = spec_files or sorted(Path("conf/crawlers").glob("*.yaml"))
    store = Catalog(catalog)
    items = []
    for path in files:
        spec = load_yaml(path, CrawlerSpec)
        if not spec.schedule:
            console.print(f"{path}: no Schedule; not scheduled")
            continue
        crawler = Crawler(spec, store)
        items.append(ScheduledItem(spec.name, Schedule.parse(spec.schedule), crawler.run))
        console.print(f"scheduled crawler {spec.name}: {spec.schedule}")

    def report(name: str, fired, result) -> None:  # type: ignore[no-untyped-def]
        console.print(f"{fired:%Y-%m-%d %H:%M} crawler {name}: run {result.run_id}, "
                      f"{len(result.tables_created)} created, {len(result.tables_updated)} updated, "
                      f"{result.partitions_added} partitions added, {len(result.errors)} errors")

    try:
        run_loop(items, max_runs=max_runs, on_run=report)
    except KeyboardInterrupt:
        console.print("scheduler stopped")
