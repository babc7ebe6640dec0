"""ApplyMapping on choice-typed sources and with the ``strict`` extension (bad casts become
error records). The plain mapping forms are covered in tests/spark/test_dynamicframe.py."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from etl.errors import ErrorThresholdExceededError
from etl.frame.dynamicframe import DynamicFrame
from etl.frame.types import choice_column
from etl.transforms import ApplyMapping


@pytest.fixture
def frame(spark, glue):
    df = spark.createDataFrame(
        [(1, "10", 7, None), (2, "x", None, "12"), (3, None, None, "y")],
        "id int, qty string, pid_long bigint, pid_string string",
    )
    df = df.select(
        "id", "qty", choice_column({"long": F.col("pid_long"), "string": F.col("pid_string")}).alias("provider_id")
    )
    return DynamicFrame.fromDF(df, glue, "orders")


def test_choice_source_is_cast_from_the_alternative_each_record_holds(spark, frame):
    mapped = frame.apply_mapping([("id", "int", "id", "long"), ("provider_id", "choice", "provider_id", "long")])
    expected = spark.createDataFrame([(1, 7), (2, 12), (3, None)], "id bigint, provider_id bigint")
    assert_df_equality(mapped.toDF(), expected, ignore_row_order=True, ignore_nullable=True)


def test_lenient_cast_nulls_what_cannot_be_cast(spark, frame):
    mapped = frame.apply_mapping([("id", "int", "id", "int"), ("qty", "string", "qty", "int")])
    expected = spark.createDataFrame([(1, 10), (2, None), (3, None)], "id int, qty int")
    assert_df_equality(mapped.toDF(), expected, ignore_row_order=True, ignore_nullable=True)
    assert mapped.stageErrorsCount() == 0


@pytest.mark.parametrize("form", ["method", "class"])
def test_strict_cast_turns_the_record_into_an_error_record(spark, frame, form):
    mappings = [("id", "int", "id", "int"), ("qty", "string", "qty", "int")]
    if form == "method":
        mapped = frame.apply_mapping(mappings, transformation_ctx="typed", info="typing", strict=True)
    else:
        mapped = ApplyMapping.apply(
            frame=frame, mappings=mappings, transformation_ctx="typed", info="typing", strict=True
        )
    expected = spark.createDataFrame([(1, 10), (3, None)], "id int, qty int")
    assert_df_equality(mapped.toDF(), expected, ignore_row_order=True, ignore_nullable=True)
    assert mapped.stageErrorsCount() == 1
    error = mapped.errorsAsDynamicFrame().toDF().collect()[0]
    assert error["transformation_ctx"] == "typed"
    assert error["info"] == "typing"
    assert 'cannot cast "x" to int (qty)' in error["error_message"]
    assert json.loads(error["input"])["id"] == 2


def test_strict_errors_count_against_the_stage_threshold(frame):
    with pytest.raises(ErrorThresholdExceededError, match="typed"):
        ApplyMapping.apply(
            frame=frame,
            mappings=[("qty", "string", "qty", "int"), ("provider_id", "choice", "provider_id", "long")],
            transformation_ctx="typed",
            strict=True,
            stageThreshold=1,
        )
