"""Delta Lake helpers: upsert (MERGE) by primary keys and time travel."""

from __future__ import annotations

from collections.abc import Sequence

from delta.tables import DeltaTable
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession

from etl.errors import ConfigError, DataSinkError


def upsert(
    spark: SparkSession,
    source: DataFrame,
    path: str,
    primary_keys: Sequence[str],
    *,
    partition_keys: Sequence[str] = (),
) -> None:
    """MERGE ``source`` into the Delta table at ``path``: update matches, insert the rest.

    Creates the table when it does not exist. Delta commits atomically: on failure the table
    stays at its previous version.

    Raises:
        ConfigError: a primary key is not a column of the source.
        DataSinkError: the merge failed, e.g. several source rows share a key that matches a
            target row (Delta refuses that MERGE).
    """
    if not primary_keys:
        raise ConfigError("upsert needs at least one primary key")
    missing = [k for k in primary_keys if k not in source.columns]
    if missing:
        raise ConfigError(f"primary keys {missing} are not columns of the source ({source.columns})")
    if not DeltaTable.isDeltaTable(spark, path):
        writer = source.write.format("delta").mode("errorifexists")
        if partition_keys:
            writer = writer.partitionBy(*partition_keys)
        writer.save(path)
        return
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in primary_keys)
    try:
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(source.alias("s"), condition)
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )
    except PySparkException as exc:
        raise DataSinkError(f"upsert into {path} failed: {str(exc).splitlines()[0]}") from exc


def history(spark: SparkSession, path: str) -> DataFrame:
    """The Delta table's commit history (version, timestamp, operation, ...)."""
    return DeltaTable.forPath(spark, path).history()
