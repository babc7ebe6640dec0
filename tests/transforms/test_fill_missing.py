"""FillMissingValues: a random forest trained on the present values fills the missing ones,
through the DynamicFrame method, the Transform class and Glue's ``awsglueml`` import."""

from __future__ import annotations

import datetime
import random

import pytest
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.dynamicframe import DynamicFrame
from etl.transforms.base import get_transform
from etl.transforms.fill_missing import MAX_CATEGORIES, FillMissingValues, _choose_features, _Profile

DDL = (
    "id long, name string, size double, kind string, noise double, `box.qty` int, day date, big boolean, "
    "tags array<string>, meta struct<src:string>, blob binary, price double, color string"
)
COLORS = {"a": "red", "b": "green", "c": "blue"}


def _rows() -> tuple[list[tuple], dict[int, tuple]]:
    """200 records: price = 3 * size, box.qty = size // 10, color decided by kind; about 10%
    of each target missing (color: null or empty string), nulls in the noise feature."""
    rng = random.Random(20240601)
    rows, truth = [], {}
    for i in range(200):
        size = round(rng.uniform(10, 100), 2)
        kind = rng.choice("abc")
        price, qty, color = size * 3, int(size // 10), COLORS[kind]
        truth[i] = (price, qty, color)
        noise = None if rng.random() < 0.2 else rng.uniform(-1, 1)
        rows.append(
            (
                i,
                f"user-{i}",
                size,
                kind,
                noise,
                None if rng.random() < 0.1 else qty,
                None if i % 7 == 0 else datetime.date(2024, 1, 1) + datetime.timedelta(days=i),
                size > 50,
                [kind] * (i % 3),
                (f"s{i}",),
                bytes([i % 256]),
                None if rng.random() < 0.1 else price,
                rng.choice([None, ""]) if rng.random() < 0.1 else color,
            )
        )
    return rows, truth


@pytest.fixture(scope="module")
def data(spark, glue):
    rows, truth = _rows()
    return DynamicFrame.fromDF(spark.createDataFrame(rows, DDL), glue, "items"), truth


def test_numeric_target_filled_close_to_truth_and_present_values_copied(data):
    frame, truth = data
    out = frame.fill_missing_values("price").toDF()
    assert out.columns == [*frame.toDF().columns, "price_filled"]
    assert out.schema["price_filled"].dataType == T.DoubleType()
    rows = out.collect()
    missing = [r for r in rows if r.price is None]
    assert len(missing) >= 10
    assert all(r.price_filled == r.price for r in rows if r.price is not None)
    assert all(r.price_filled is not None for r in missing)
    error = sum(abs(r.price_filled - truth[r.id][0]) for r in missing) / len(missing)
    assert error < 10, f"mean absolute error {error} on a 30..300 range"


def test_string_target_nulls_and_empty_strings_predicted(data):
    frame, truth = data
    out = FillMissingValues.apply(frame=frame, missing_values_column="color").toDF().collect()
    missing = [r for r in out if r.color in (None, "")]
    assert {r.color for r in missing} == {None, ""}
    assert all(r.color_filled == r.color for r in out if r.color not in (None, ""))
    accuracy = sum(r.color_filled == truth[r.id][2] for r in missing) / len(missing)
    assert accuracy > 0.9


def test_integral_target_with_dotted_name_and_output_column(data):
    frame, truth = data
    out = FillMissingValues.apply(frame=frame, missing_values_column="`box.qty`", output_column="qty.guess").toDF()
    assert out.columns[-1] == "qty.guess" and "box.qty_filled" not in out.columns
    assert out.schema["qty.guess"].dataType == T.IntegerType()
    rows = [r.asDict() for r in out.collect()]
    missing = [r for r in rows if r["box.qty"] is None]
    assert missing and all(isinstance(r["qty.guess"], int) for r in missing)
    assert all(r["qty.guess"] == r["box.qty"] for r in rows if r["box.qty"] is not None)
    error = sum(abs(r["qty.guess"] - truth[r["id"]][1]) for r in missing) / len(missing)
    assert error < 1


def test_nothing_missing_is_a_plain_copy(spark, glue):
    df = spark.createDataFrame([(1, "old", 2.0), (2, None, 4.0)], "id long, v_filled string, v double")
    out = FillMissingValues.apply(frame=DynamicFrame.fromDF(df, glue, "full"), missing_values_column="v").toDF()
    assert out.columns == ["id", "v_filled", "v"]  # an existing output column is replaced in place
    assert [tuple(r) for r in out.collect()] == [(1, 2.0, 2.0), (2, 4.0, 4.0)]


def test_glue_import_and_registry():
    from awsglueml.transforms import FillMissingValues as GlueFillMissingValues

    assert GlueFillMissingValues is FillMissingValues
    assert get_transform("FillMissingValues") is FillMissingValues


def test_feature_rule_skips_ids_nested_and_empty_columns():
    fields = [
        T.StructField("id_text", T.StringType()),  # 90 distinct of 100 training rows: an id
        T.StructField("kind", T.StringType()),
        T.StructField("huge", T.StringType()),  # more than MAX_CATEGORIES
        T.StructField("empty", T.StringType()),  # all null
        T.StructField("n", T.IntegerType()),
        T.StructField("flag", T.BooleanType()),
        T.StructField("day", T.DateType()),
        T.StructField("void", T.DoubleType()),  # no training value
        T.StructField("tags", T.ArrayType(T.StringType())),
        T.StructField("meta", T.StructType([T.StructField("a", T.StringType())])),
        T.StructField("blob", T.BinaryType()),
    ]
    values = {"id_text": 900, "kind": 3, "huge": MAX_CATEGORIES + 1, "empty": 0, "n": 10, "flag": 10, "day": 10}
    means = {"n": 1.5, "flag": 0.5, "day": 19000.0}
    features = _choose_features(fields, _Profile(missing=5, training=1000, values={**values, "void": 0}, means=means))
    assert [f.name for f in features.numeric] == ["n", "flag", "day"]
    assert [f.name for f in features.categorical] == ["kind"]
    assert features.means == means


def test_errors_name_the_column(spark, glue, data):
    frame, _ = data
    with pytest.raises(TransformError, match="'nope' not found"):
        frame.fill_missing_values("nope")
    with pytest.raises(TransformError, match="'meta' is struct"):
        frame.fill_missing_values("meta")
    with pytest.raises(TransformError, match="'tags' is array"):
        frame.fill_missing_values("tags")

    df = spark.createDataFrame([(1, 2.0, None), (2, None, None)], "id long, x double, y double")
    with pytest.raises(TransformError, match="'y' has no non-missing values"):
        FillMissingValues.apply(frame=DynamicFrame.fromDF(df, glue, "empty"), missing_values_column="y")

    df = spark.createDataFrame([("u1", 2.0), ("u2", None), ("u3", 5.0)], "user string, y double")
    with pytest.raises(TransformError, match="no usable feature column to predict 'y'"):
        DynamicFrame.fromDF(df, glue, "ids").fill_missing_values("y")
