"""Log tables (classified by grok) read with Spark's own regex functions.

Spark has no grok reader, so a log table is its text files plus one ``regexp_extract`` per
field, compiled from the table's grok pattern. Python's named groups are turned into plain
groups so the numbering is the same in Java's regex engine; lines that do not match become
error records instead of rows of empty strings.
"""

from __future__ import annotations

import re
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.crawler.classifiers.grok import compile_grok
from etl.frame.records import error_frame
from etl.sqltext import sql_string

_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


def is_grok_table(table: dict[str, Any]) -> bool:
    return bool(_grok_parameters(table)[0])


def _grok_parameters(table: dict[str, Any]) -> tuple[str | None, str]:
    params = {**table.get("StorageDescriptor", {}).get("Parameters", {}), **table.get("Parameters", {})}
    return params.get("grokPattern"), params.get("grokCustomPatterns", "")


def field_expressions(table: dict[str, Any]) -> tuple[str, list[str]]:
    """The whole-line Java regex and one SQL expression per column of ``table``."""
    pattern, custom = _grok_parameters(table)
    if not pattern:
        raise ValueError(f"table {table.get('Name')} has no grokPattern")
    grok = compile_grok(pattern, custom)
    java_regex = "^(?:" + _NAMED_GROUP.sub("(", grok.regex.pattern) + ")$"
    index = grok.regex.groupindex
    types = {c["Name"]: c.get("Type", "string") for c in table["StorageDescriptor"].get("Columns", [])}
    expressions = []
    for name, groups in grok.groups.items():
        extracts = [f"nullif(regexp_extract(value, {sql_string(java_regex)}, {index[g]}), '')" for g in groups]
        value = extracts[0] if len(extracts) == 1 else f"coalesce({', '.join(extracts)})"
        expressions.append(f"CAST({value} AS {types.get(name, 'string')}) AS `{name}`")
    return java_regex, expressions


def read_grok_table(
    spark: SparkSession, table: dict[str, Any], inputs: list[str], base_path: str | None, transformation_ctx: str
) -> tuple[DataFrame, DataFrame]:
    """(rows, error records) of a log table's files."""
    java_regex, expressions = field_expressions(table)
    reader = spark.read
    if base_path:
        reader = reader.option("basePath", base_path)
    text = reader.text(inputs)
    partition_cols = [c for c in text.columns if c != "value"]
    text = text.select("value", F.col("_metadata.file_path").alias("__source"), *partition_cols)
    text = text.where(F.trim("value") != "")
    matches = F.col("value").rlike(java_regex)
    rows = text.where(matches).selectExpr(*expressions, *[f"`{c}`" for c in partition_cols])
    errors = error_frame(
        text.where(~matches), transformation_ctx=transformation_ctx, info="read grok",
        message=F.lit("line does not match the table's grok pattern"),
        source=F.col("__source"), input_record=F.col("value"),
    )
    return rows, errors


def view_statement(database: str, table: dict[str, Any]) -> str:
    """CREATE VIEW over the table's text files, for Spark SQL."""
    regex, expressions = field_expressions(table)
    location = table["StorageDescriptor"]["Location"]
    keys = [f"`{k['Name']}`" for k in table.get("PartitionKeys", [])]
    select = ", ".join([*expressions, *keys])
    return (f"CREATE OR REPLACE VIEW `{database}`.`{table['Name']}` AS SELECT {select} "
            f"FROM text.`{location}` WHERE value RLIKE {sql_string(regex)}")
