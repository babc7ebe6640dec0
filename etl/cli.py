"""The ``etl`` command line: thin, it parses, calls the library and prints with rich."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from etl.errors import EtlError

app = typer.Typer(
    help="Glue-style ETL on open-source Spark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


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
    rows: int = typer.Option(200_000, help="Rows of sample data to generate."),
    workdir: str = typer.Option("catalog/demo", help="Where the sample data and output go."),
) -> None:
    """Generate sample sales data and run the demo Glue job on it end to end."""
    from etl.demo import run_demo

    run_demo(rows=rows, workdir=workdir, console=console)


def main() -> None:
    try:
        app()
    except EtlError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
