"""``etl catalog ...``: read the local Glue catalog; ``--json`` prints Glue's API shapes."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

catalog_app = typer.Typer(help="Read the local Glue Data Catalog.", no_args_is_help=True)
console = Console(soft_wrap=True)

CatalogOption = typer.Option(
    None, "--catalog", help="Catalog URL (default: $ETL_CATALOG_URL or SQLite under $ETL_HOME)."
)
JsonOption = typer.Option(False, "--json", help="Print Glue's API response as JSON.")


def _open(url: str | None):  # type: ignore[no-untyped-def]
    from etl.catalog import Catalog

    return Catalog(url)


def _emit(response: dict[str, Any], as_json: bool, table: Table) -> None:
    if as_json:
        console.print_json(json.dumps(response, default=str))
    else:
        console.print(table)


@catalog_app.command("get-databases")
def get_databases(catalog: str = CatalogOption, as_json: bool = JsonOption) -> None:
    """List databases."""
    response = _open(catalog).get_databases()
    table = Table("Name", "Description", "CreateTime")
    for db in response["DatabaseList"]:
        table.add_row(db["Name"], db.get("Description", ""), db["CreateTime"])
    _emit(response, as_json, table)


@catalog_app.command("get-tables")
def get_tables(
    database: str,
    expression: str = typer.Option(None, "--expression", help="Regular expression on table names."),
    catalog: str = CatalogOption,
    as_json: bool = JsonOption,
) -> None:
    """List the tables of DATABASE."""
    response = _open(catalog).get_tables(database, expression)
    table = Table("Name", "Classification", "Location", "Partition keys", "Version")
    for t in response["TableList"]:
        table.add_row(
            t["Name"], t.get("Parameters", {}).get("classification", ""),
            t.get("StorageDescriptor", {}).get("Location", ""),
            ", ".join(k["Name"] for k in t.get("PartitionKeys", [])), t["VersionId"],
        )
    _emit(response, as_json, table)


@catalog_app.command("get-table")
def get_table(database: str, name: str, catalog: str = CatalogOption, as_json: bool = JsonOption) -> None:
    """Show one table: columns, partition keys, location, parameters."""
    response = _open(catalog).get_table(database, name)
    t = response["Table"]
    table = Table("Column", "Type", "Comment", title=f"{database}.{name} (version {t['VersionId']})")
    for col in t.get("StorageDescriptor", {}).get("Columns", []):
        table.add_row(col["Name"], col.get("Type", ""), col.get("Comment", ""))
    for key in t.get("PartitionKeys", []):
        table.add_row(key["Name"], key.get("Type", ""), "partition key")
    _emit(response, as_json, table)


@catalog_app.command("get-partitions")
def get_partitions(
    database: str,
    name: str,
    expression: str = typer.Option(None, "--expression", help="Glue partition expression, e.g. \"year = '2024'\"."),
    catalog: str = CatalogOption,
    as_json: bool = JsonOption,
) -> None:
    """List the partitions of a table, optionally filtered."""
    response = _open(catalog).get_partitions(database, name, expression)
    table = Table("Values", "Location")
    for p in response["Partitions"]:
        table.add_row("/".join(p["Values"]), p.get("StorageDescriptor", {}).get("Location", ""))
    _emit(response, as_json, table)


@catalog_app.command("get-table-versions")
def get_table_versions(database: str, name: str, catalog: str = CatalogOption, as_json: bool = JsonOption) -> None:
    """List the archived versions of a table, newest first."""
    response = _open(catalog).get_table_versions(database, name)
    table = Table("VersionId", "UpdateTime", "Columns")
    for v in response["TableVersions"]:
        cols = v["Table"].get("StorageDescriptor", {}).get("Columns", [])
        table.add_row(v["VersionId"], v["Table"]["UpdateTime"], ", ".join(c["Name"] for c in cols))
    _emit(response, as_json, table)
