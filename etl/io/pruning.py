"""Partition pruning at listing time: evaluate a Spark SQL predicate over folder names.

The predicate (Glue's ``push_down_predicate``) is evaluated by Spark itself on a tiny frame of
partition values, one row per leaf folder, so its semantics are exactly Spark SQL's. Only
folders that match are handed to the reader; the files of the others are never listed or opened.
"""

from __future__ import annotations

import re

from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from etl.errors import DataSourceError
from etl.io.listing import PartitionDir

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_INT = re.compile(r"^-?\d{1,18}$")
_FLOAT = re.compile(r"^-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$")


def partition_schema(partitions: list[PartitionDir]) -> T.StructType:
    """Key types inferred as Spark does for partition folders: integral, fractional or string."""
    keys = partition_keys(partitions)
    fields = []
    for i, key in enumerate(keys):
        values = [p.values[i][1] for p in partitions if p.values[i][1] != HIVE_NULL]
        if values and all(_INT.match(v) for v in values):
            dtype: T.DataType = T.IntegerType() if all(
                -(2**31) <= int(v) < 2**31 for v in values
            ) else T.LongType()
        elif values and all(_INT.match(v) or _FLOAT.match(v) for v in values):
            dtype = T.DoubleType()
        else:
            dtype = T.StringType()
        fields.append(T.StructField(key, dtype, True))
    return T.StructType(fields)


def partition_keys(partitions: list[PartitionDir]) -> list[str]:
    """The partition keys, checking every folder uses the same ones in the same order."""
    if not partitions:
        return []
    keys = [k for k, _ in partitions[0].values]
    for p in partitions[1:]:
        other = [k for k, _ in p.values]
        if other != keys:
            raise DataSourceError(
                f"inconsistent partition folders: {p.path} has keys {other}, expected {keys}"
            )
    return keys


def _typed(value: str, dtype: T.DataType) -> object:
    if value == HIVE_NULL:
        return None
    if isinstance(dtype, (T.IntegerType, T.LongType)):
        return int(value)
    if isinstance(dtype, T.DoubleType):
        return float(value)
    return value


def prune(spark: SparkSession, partitions: list[PartitionDir], predicate: str) -> list[PartitionDir]:
    """The partitions whose values satisfy ``predicate``.

    Raises:
        DataSourceError: the predicate is not valid Spark SQL over the partition columns.
    """
    if not partitions:
        return []
    schema = partition_schema(partitions)
    rows = [
        (index, *(_typed(v, f.dataType) for (_, v), f in zip(p.values, schema.fields, strict=True)))
        for index, p in enumerate(partitions)
    ]
    frame_schema = T.StructType([T.StructField("__partition_index", T.IntegerType()), *schema.fields])
    frame = spark.createDataFrame(rows, frame_schema)
    try:
        kept = frame.where(predicate).select("__partition_index").collect()
    except (AnalysisException, ParseException) as exc:
        keys = ", ".join(schema.fieldNames())
        first_line = str(exc).strip().splitlines()[0]
        raise DataSourceError(
            f"push_down_predicate {predicate!r} must use only partition columns ({keys}): {first_line}"
        ) from exc
    return [partitions[row[0]] for row in sorted(kept)]
