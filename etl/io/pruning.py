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
from etl.sqltext import sql_string

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


def _literal(value: str, dtype: T.DataType) -> str:
    """A SQL literal of the partition value, typed like the column."""
    if value == HIVE_NULL:
        return f"CAST(NULL AS {dtype.simpleString()})"
    if isinstance(dtype, T.StringType):
        return sql_string(value)
    return f"CAST({sql_string(value)} AS {dtype.simpleString()})"


_CATALOG_TYPES: dict[str, T.DataType] = {
    "tinyint": T.ByteType(), "smallint": T.ShortType(), "int": T.IntegerType(), "integer": T.IntegerType(),
    "bigint": T.LongType(), "long": T.LongType(), "float": T.FloatType(), "double": T.DoubleType(),
    "date": T.DateType(), "timestamp": T.TimestampType(), "boolean": T.BooleanType(),
}


def schema_from_catalog(keys: list[dict]) -> T.StructType:
    """Partition key types as the catalog declares them (unknown types compare as strings)."""
    return T.StructType([
        T.StructField(k["Name"], _CATALOG_TYPES.get(k.get("Type", "string").lower(), T.StringType()))
        for k in keys
    ])


def prune_in_python(
    partitions: list[PartitionDir], predicate: str, schema: T.StructType
) -> list[PartitionDir] | None:
    """Evaluate simple predicates (comparisons, IN, BETWEEN, LIKE, IS NULL, AND/OR/NOT) without
    a Spark query; None when the predicate needs Spark (functions, casts, anything whose result
    could differ from Spark SQL's)."""
    from etl.catalog.expression import compile_expression
    from etl.errors import InvalidInputError

    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    try:
        test = compile_expression(predicate, types, spark_equivalent=True)
    except InvalidInputError:
        return None
    return [p for p in partitions if test({k: (None if v == HIVE_NULL else v) for k, v in p.values})]


def prune(
    spark: SparkSession, partitions: list[PartitionDir], predicate: str, schema: T.StructType | None = None
) -> list[PartitionDir]:
    """The partitions whose values satisfy ``predicate``; key types are inferred from the
    values unless ``schema`` gives them (as the catalog does). Simple predicates are evaluated
    in Python; anything else by Spark itself over a VALUES relation.

    Raises:
        DataSourceError: the predicate is not valid Spark SQL over the partition columns.
    """
    if not partitions:
        return []
    schema = schema or partition_schema(partitions)
    fast = prune_in_python(partitions, predicate, schema)
    if fast is not None:
        return fast
    return prune_with_spark(spark, partitions, predicate, schema)


def prune_with_spark(
    spark: SparkSession, partitions: list[PartitionDir], predicate: str, schema: T.StructType
) -> list[PartitionDir]:
    """Evaluate ``predicate`` with Spark SQL itself (any expression Spark accepts)."""
    # A VALUES list is a local relation: Spark evaluates it on the driver without launching
    # tasks, which keeps pruning in milliseconds rather than a job's worth of seconds.
    rows = ", ".join(
        "(" + ", ".join([str(index), *(_literal(v, f.dataType) for (_, v), f in
                                       zip(p.values, schema.fields, strict=True))]) + ")"
        for index, p in enumerate(partitions)
    )
    columns = ", ".join(["__partition_index", *(f"`{f.name}`" for f in schema.fields)])
    try:
        frame = spark.sql(f"SELECT * FROM VALUES {rows} AS partitions({columns})")
        kept = frame.where(predicate).select("__partition_index").collect()
    except (AnalysisException, ParseException) as exc:
        keys = ", ".join(schema.fieldNames())
        first_line = str(exc).strip().splitlines()[0]
        raise DataSourceError(
            f"push_down_predicate {predicate!r} must use only partition columns ({keys}): {first_line}"
        ) from exc
    return [partitions[row[0]] for row in sorted(kept)]
