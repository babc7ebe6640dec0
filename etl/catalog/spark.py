"""Make catalogued tables queryable with Spark SQL, as Athena queries the Glue catalog.

Each catalog database becomes a Spark database and each table an external table over its
location, with the catalog's partitions (and their locations, Hive-style or not) added, so
``SELECT ... FROM db.table WHERE year = 2024`` prunes partitions through Spark's catalog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from etl.catalog.formats import spark_format
from etl.catalog.grok_tables import is_grok_table, view_statement
from etl.catalog.store import Catalog
from etl.errors import CatalogError
from etl.sqltext import sql_ident, sql_string

log = logging.getLogger("etl.catalog")


@dataclass
class Registration:
    registered: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # table -> reason


def create_statement(database: str, table: dict[str, Any]) -> str:
    fmt = spark_format(table)
    if fmt.json_path:
        raise CatalogError(f"table {table['Name']}: jsonPath {fmt.json_path} tables are read with "
                           "create_dynamic_frame.from_catalog, not registered in Spark SQL")
    sd = table.get("StorageDescriptor", {})
    location = sd.get("Location")
    if not location:
        raise CatalogError(f"table {table['Name']} has no Location")
    target = f"{sql_ident(database)}.{sql_ident(table['Name'])}"
    if fmt.source == "delta":
        return f"CREATE TABLE IF NOT EXISTS {target} USING delta LOCATION {sql_string(location)}"
    keys = table.get("PartitionKeys", [])
    columns = [*sd.get("Columns", []), *keys]
    cols = ", ".join(f"{sql_ident(c['Name'])} {c.get('Type', 'string')}" for c in columns)
    options = ", ".join(f"{sql_ident(k)} {sql_string(v)}" for k, v in fmt.spark_options().items())
    stmt = f"CREATE TABLE IF NOT EXISTS {target} ({cols}) USING {fmt.source}"
    if options:
        stmt += f" OPTIONS ({options})"
    if keys:
        stmt += f" PARTITIONED BY ({', '.join(sql_ident(k['Name']) for k in keys)})"
    return stmt + f" LOCATION {sql_string(location)}"


def partition_statement(database: str, table: dict[str, Any], partitions: list[dict[str, Any]]) -> str | None:
    keys = [k["Name"] for k in table.get("PartitionKeys", [])]
    if not keys or not partitions:
        return None
    specs = []
    for p in partitions:
        pairs = ", ".join(f"{sql_ident(k)} = {sql_string(v)}" for k, v in zip(keys, p["Values"], strict=True))
        location = p.get("StorageDescriptor", {}).get("Location")
        specs.append(f"PARTITION ({pairs})" + (f" LOCATION {sql_string(location)}" if location else ""))
    return (f"ALTER TABLE {sql_ident(database)}.{sql_ident(table['Name'])} ADD IF NOT EXISTS " + " ".join(specs))


def register(spark: SparkSession, catalog: Catalog, databases: list[str] | None = None) -> Registration:
    """Register every table of ``databases`` (default: all) in ``spark``'s session catalog.

    Tables Spark cannot read (e.g. grok log tables) are skipped with a reason, never fatal.
    """
    result = Registration()
    names = databases or [d["Name"] for d in catalog.get_databases()["DatabaseList"]]
    for db in names:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {sql_ident(db)}")
        for table in catalog.get_tables(db)["TableList"]:
            full = f"{db}.{table['Name']}"
            try:
                spark.sql(f"DROP VIEW IF EXISTS {sql_ident(db)}.{sql_ident(table['Name'])}")
                spark.sql(f"DROP TABLE IF EXISTS {sql_ident(db)}.{sql_ident(table['Name'])}")
                if is_grok_table(table):
                    spark.sql(view_statement(db, table))
                    result.registered.append(full)
                    continue
                spark.sql(create_statement(db, table))
                partitions = catalog.get_partitions(db, table["Name"])["Partitions"]
                statement = partition_statement(db, table, partitions)
                if statement:
                    spark.sql(statement)
                result.registered.append(full)
            except (CatalogError, PySparkException) as exc:
                reason = str(exc).strip().splitlines()[0]
                result.skipped[full] = reason
                log.debug("not registered in Spark SQL: %s: %s", full, reason)
    return result
