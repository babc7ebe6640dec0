"""Error records: what a reader or transform could not process, kept instead of lost.

Every stage's error records share one flat schema so they can be unioned along a pipeline and
read back with ``errorsAsDynamicFrame()``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

ERROR_SCHEMA = T.StructType(
    [
        T.StructField("transformation_ctx", T.StringType(), True),
        T.StructField("info", T.StringType(), True),
        T.StructField("error_message", T.StringType(), True),
        T.StructField("source", T.StringType(), True),
        T.StructField("input", T.StringType(), True),
    ]
)


def error_frame(
    spark_df: DataFrame,
    *,
    transformation_ctx: str,
    info: str,
    message: Column | str,
    source: Column | None,
    input_record: Column,
) -> DataFrame:
    """Project rows of ``spark_df`` into the error-record schema."""
    return spark_df.select(
        F.lit(transformation_ctx).cast("string").alias("transformation_ctx"),
        F.lit(info).cast("string").alias("info"),
        (F.lit(message) if isinstance(message, str) else message).cast("string").alias("error_message"),
        (source if source is not None else F.lit(None)).cast("string").alias("source"),
        input_record.cast("string").alias("input"),
    )


def empty_errors(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], ERROR_SCHEMA)


def union_errors(*frames: DataFrame | None) -> DataFrame | None:
    """Union the non-empty error frames; None when there are none."""
    present = [f for f in frames if f is not None]
    if not present:
        return None
    result = present[0]
    for frame in present[1:]:
        result = result.unionByName(frame)
    return result
