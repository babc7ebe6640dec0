"""Read a catalogued table into Spark, pruning partitions through the catalog."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from etl.catalog.formats import spark_format
from etl.catalog.grok_tables import is_grok_table, read_grok_table
from etl.catalog.store import Catalog
from etl.io.listing import PartitionDir
from etl.io.pruning import prune, schema_from_catalog
from etl.io.reader import ReadPlan, ReadResult, read_plans


def _hive_style(table_location: str, keys: list[str], partition: dict[str, Any]) -> bool:
    location = partition.get("StorageDescriptor", {}).get("Location", "")
    expected = "/".join(f"{k}={v}" for k, v in zip(keys, partition["Values"], strict=True))
    return location.rstrip("/") == f"{table_location.rstrip('/')}/{expected}"


def _columnar_schema(source: str, table: dict[str, Any]) -> str | None:
    """Parquet and ORC tables are read with the catalog's columns, as Glue reads a catalogued
    table: a column a later write or crawl added is there for every file (Spark alone takes one
    file's schema), and a file typed narrower than the table (int vs bigint) is widened."""
    columns = table.get("StorageDescriptor", {}).get("Columns") or []
    if source not in ("parquet", "orc") or not columns:
        return None
    return ", ".join(f"`{c['Name'].replace('`', '``')}` {c.get('Type', 'string')}" for c in columns)


def _select_partitions(spark: SparkSession, keys: list[dict[str, Any]], partitions: list[dict[str, Any]],
                       push_down_predicate: str | None) -> list[dict[str, Any]]:
    if not push_down_predicate or not partitions:
        return partitions
    names = [k["Name"] for k in keys]
    dirs = [
        PartitionDir(p.get("StorageDescriptor", {}).get("Location", ""), tuple(zip(names, p["Values"], strict=True)))
        for p in partitions
    ]
    chosen = {d.path for d in prune(spark, dirs, push_down_predicate, schema_from_catalog(keys))}
    return [p for p in partitions if p.get("StorageDescriptor", {}).get("Location", "") in chosen]


def _read_log_table(spark: SparkSession, catalog: Catalog, database: str, table: dict[str, Any],
                    push_down_predicate: str | None, catalog_partition_predicate: str | None,
                    transformation_ctx: str) -> ReadResult:
    location = table["StorageDescriptor"]["Location"]
    keys = table.get("PartitionKeys", [])
    inputs, base, empty = [location], None, False
    if keys:
        partitions = catalog.get_partitions(database, table["Name"], catalog_partition_predicate)["Partitions"]
        selected = _select_partitions(spark, keys, partitions, push_down_predicate)
        inputs = [p["StorageDescriptor"]["Location"] for p in selected] or [location]
        base, empty = location, not selected
    rows, errors = read_grok_table(spark, table, inputs, base, transformation_ctx)
    if empty:
        rows, errors = rows.where(F.lit(False)), errors.where(F.lit(False))
    return ReadResult(rows, errors)


def read_table(
    spark: SparkSession,
    catalog: Catalog,
    database: str,
    table_name: str,
    *,
    push_down_predicate: str | None = None,
    catalog_partition_predicate: str | None = None,
    transformation_ctx: str = "",
) -> ReadResult:
    """Read ``database.table_name`` as the catalog describes it.

    ``catalog_partition_predicate`` (Glue's catalog expression syntax) filters partitions in the
    catalog; ``push_down_predicate`` (Spark SQL) then filters the remaining partition values.
    Only the selected partitions' folders are read.
    """
    table = catalog.get_table(database, table_name)["Table"]
    if is_grok_table(table):
        return _read_log_table(spark, catalog, database, table, push_down_predicate,
                               catalog_partition_predicate, transformation_ctx)
    fmt = spark_format(table)
    schema = _columnar_schema(fmt.source, table)
    location = table["StorageDescriptor"]["Location"]
    keys = table.get("PartitionKeys", [])
    if not keys:
        plans = [ReadPlan(inputs=[location], schema=schema)]
        return read_plans(spark, plans, fmt.source, fmt.format_options, transformation_ctx=transformation_ctx)
    partitions = catalog.get_partitions(database, table_name, catalog_partition_predicate)["Partitions"]
    names = [k["Name"] for k in keys]
    selected = _select_partitions(spark, keys, partitions, push_down_predicate)
    types = {k["Name"]: k.get("Type", "string") for k in keys}
    if not selected:
        plan = ReadPlan(inputs=[location], empty=True, recursive_lookup=True,
                        constants={n: (None, types[n]) for n in names}, schema=schema)
        return read_plans(spark, [plan], fmt.source, fmt.format_options, transformation_ctx=transformation_ctx)
    if all(_hive_style(location, names, p) for p in selected):
        inputs = [p["StorageDescriptor"]["Location"] for p in selected]
        plan = ReadPlan(inputs=inputs, base_path=location, partitions_total=len(partitions),
                        partitions_selected=len(selected), schema=schema)
        result = read_plans(spark, [plan], fmt.source, fmt.format_options, transformation_ctx=transformation_ctx)
        result.frame = result.frame.withColumns({n: result.frame[n].cast(types[n]) for n in names})
        return result
    # Folders not named key=value: each partition is read on its own, values from the catalog.
    plans = [
        ReadPlan(inputs=[p["StorageDescriptor"]["Location"]],
                 constants={n: (v, types[n]) for n, v in zip(names, p["Values"], strict=True)},
                 schema=schema)
        for p in selected
    ]
    return read_plans(spark, plans, fmt.source, fmt.format_options, transformation_ctx=transformation_ctx)
