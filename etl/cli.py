"""The ``etl`` command line: thin, it parses, calls the library and prints with rich."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console

from etl.errors import EtlError, spark_error_summary

app = typer.Typer(
    help="Glue-style ETL on open-source Spark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def _register_groups() -> None:
    from etl.bookmark_cli import bookmark_app
    from etl.catalog_cli import catalog_app
    from etl.crawler_cli import crawl_command, crawler_app
    from etl.findmatches_cli import findmatches_app
    from etl.jobs_cli import run_command, run_status_command, runs_command
    from etl.workflow_cli import scheduler_command, workflow_app

    app.add_typer(bookmark_app, name="bookmark")
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(crawler_app, name="crawler")
    app.add_typer(findmatches_app, name="findmatches")
    app.command("crawl")(crawl_command)
    app.command("run")(run_command)
    app.command("runs")(runs_command)
    app.command("run-status")(run_status_command)
    app.add_typer(workflow_app, name="workflow")
    app.command("scheduler")(scheduler_command)


_register_groups()


@app.command()
def setup(force: bool = typer.Option(False, help="Re-download the Spark packages.")) -> None:
    """Resolve Spark packages (Delta, Avro, JDBC) into the cache and configure Spark."""
    from etl.setup_env import setup as run_setup

    report = run_setup(force=force)
    console.print(f"Java {report.java_major}: ok")
    console.print(f"Spark packages: {len(report.jars)} jars cached in {report.jars[0].parent}")
    console.print(f"Spark defaults: {report.defaults_file}")


@app.command()
def info() -> None:
    """Show versions, Java, the catalog home and the jar cache."""
    from importlib.metadata import version

    from etl import jars
    from etl.home import cache_dir, etl_home
    from etl.javacheck import java_executable, java_major_version

    console.print(f"localglue {version('localglue')}, pyspark {version('pyspark')}, "
                  f"delta-spark {version('delta-spark')}")
    console.print(f"java: {java_executable()} (Java {java_major_version()})")
    console.print(f"catalog home: {etl_home()}")
    cached = jars.cached_jars(jars.default_packages())
    state = f"{len(cached)} jars" if cached else "not resolved (run `etl setup`)"
    console.print(f"jar cache: {cache_dir()} ({state})")


@app.command()
def demo(
    rows: int = typer.Option(200_000, help="Rows of sample sales data to generate."),
    customers: int = typer.Option(1_000, help="Customer sign-ups per day for the workflow part."),
) -> None:
    """Run the demo end to end from the repository root (writes under catalog/demo): a Glue script
    through spark-submit, then the demo workflow (crawl, clean, FindMatches, quality, Parquet and
    Delta) and its bookmarked re-run."""
    from etl.demo import run_demo

    run_demo(rows=rows, customers=customers, console=console)


@app.command()
def sql(
    query: str = typer.Argument(..., help="Spark SQL over catalogued tables, e.g. SELECT * FROM db.t"),
    limit: int = typer.Option(20, help="Rows to print."),
    catalog: str = typer.Option(None, "--catalog", help="Catalog URL."),
    as_json: bool = typer.Option(False, "--json", help="Print rows as JSON lines."),
) -> None:
    """Run Spark SQL over every catalogued table, as Athena queries the Glue catalog."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException
    from rich.table import Table

    from etl.catalog import Catalog
    from etl.catalog.spark import register
    from etl.session import get_session

    spark = get_session("etl-sql")
    registration = register(spark, Catalog(catalog))
    for table, reason in registration.skipped.items():
        err_console.print(f"[yellow]skipped[/] {table}: {reason}")
    try:
        frame = spark.sql(query)
        rows = frame.take(limit)
    except (PySparkException, Py4JJavaError) as exc:
        raise EtlError(f"query failed: {spark_error_summary(exc)}") from exc
    if as_json:
        for row in rows:
            console.print(json.dumps(row.asDict(recursive=True), default=str), highlight=False)
        return
    table = Table(*frame.columns)
    for row in rows:
        table.add_row(*["NULL" if v is None else str(v) for v in row])
    console.print(table)


def main() -> None:
    try:
        app()
    except EtlError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
