"""Unbox: JSON and CSV strings parsed into structs in place; unparseable values become error
records of the stage."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import ErrorThresholdExceededError, TransformError
from etl.frame.dynamicframe import DynamicFrame
from etl.frame.types import CHOICE_KEY, choice_column
from etl.transforms.unbox import Unbox, variant_schema

ERROR_COLUMNS = ["transformation_ctx", "info", "error_message", "source", "input"]


def frame(spark, glue, rows, ddl, name="events"):
    return DynamicFrame.fromDF(spark.createDataFrame(rows, ddl), glue, name)


def assert_frame(actual, expected):
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# ----- JSON -----------------------------------------------------------------------------------
JSON_ROWS = [
    (1, '{"user": "ann", "n": 1, "tags": ["a", "b"], "geo": {"lat": 1.5}}'),
    (2, '{"user": "bob", "n": "two", "extra": true}'),  # n is a number and a string: string
    (3, None),  # null stays null
    (4, '{"user": "cy", "geo": {"lat": 2, "lon": -3.25}}'),
]
JSON_STRUCT = (
    "struct<extra: boolean, geo: struct<lat: double, lon: double>, n: string, tags: array<string>, user: string>"
)


def test_json_method_form_infers_one_struct_over_varying_records(spark, glue):
    events = frame(spark, glue, JSON_ROWS, "id int, payload string")
    out = events.unbox("payload", "json")
    expected = spark.createDataFrame(
        [
            (1, (None, (1.5, None), "1", ["a", "b"], "ann")),
            (2, (True, None, "two", None, "bob")),
            (3, None),
            (4, (None, (2.0, -3.25), None, None, "cy")),
        ],
        f"id int, payload {JSON_STRUCT}",
    )
    assert_frame(out.toDF(), expected)
    assert out.errorsCount() == 0


def test_json_class_form(spark, glue):
    events = frame(spark, glue, [(1, '{"a": {"b": [1, 2]}}')], "id int, payload string")
    out = Unbox.apply(frame=events, path="payload", format="JSON", transformation_ctx="unbox")
    assert_frame(
        out.toDF(), spark.createDataFrame([(1, (([1, 2],),))], "id int, payload struct<a: struct<b: array<long>>>")
    )


def test_json_nested_path_keeps_the_other_fields(spark, glue):
    rows = [(1, ("web", '{"x": 1}')), (2, None), (3, ("app", None))]
    events = frame(spark, glue, rows, "id int, a struct<channel: string, payload: string>")
    out = events.unbox("a.payload", "json")
    expected = spark.createDataFrame(
        [(1, ("web", (1,))), (2, None), (3, ("app", None))],
        "id int, a struct<channel: string, payload: struct<x: long>>",
    )
    assert_frame(out.toDF(), expected)


def test_json_names_with_dots_and_back_ticks(spark, glue):
    events = frame(spark, glue, [('{"a.b": 1, "odd`name": "x"}',)], "`p.q` string")
    out = events.unbox("`p.q`", "json")
    assert out.toDF().schema["p.q"].dataType.fieldNames() == ["a.b", "odd`name"]
    assert out.toDF().collect()[0][0] == (1, "x")


BAD_JSON = [
    (1, '{"ok": 1}'),
    (2, "{not json"),
    (3, '{"ok": 2}'),
    (4, "[1, 2]"),  # valid JSON, but not an object
    (5, "'single'"),
]


def test_json_bad_values_become_error_records(spark, glue):
    events = frame(spark, glue, BAD_JSON, "id int, payload string")
    out = events.unbox("payload", "json", transformation_ctx="unbox_payload", info="parse payload")
    assert_frame(out.toDF(), spark.createDataFrame([(1, (1,)), (3, (2,))], "id int, payload struct<ok: long>"))
    assert out.errorsCount() == 3
    assert out.stageErrorsCount() == 3
    errors = out.errorsAsDynamicFrame().toDF()
    assert errors.columns == ERROR_COLUMNS
    expected = spark.createDataFrame(
        [
            (
                "unbox_payload",
                "parse payload",
                "Unbox: 'payload' is not valid JSON",
                "payload",
                '{"id":2,"payload":"{not json"}',
            ),
            (
                "unbox_payload",
                "parse payload",
                "Unbox: 'payload' is JSON but not an object",
                "payload",
                '{"id":4,"payload":"[1, 2]"}',
            ),
            (
                "unbox_payload",
                "parse payload",
                "Unbox: 'payload' is not valid JSON",
                "payload",
                '{"id":5,"payload":"\'single\'"}',
            ),
        ],
        ", ".join(f"{c} string" for c in ERROR_COLUMNS),
    )
    assert_frame(errors, expected)
    assert sorted(json.loads(r["input"])["id"] for r in errors.collect()) == [2, 4, 5]


def test_stage_threshold_raises_when_crossed(spark, glue):
    events = frame(spark, glue, BAD_JSON[:3], "id int, payload string")  # one bad value
    assert events.unbox("payload", "json", stageThreshold=1).stageErrorsCount() == 1
    two_bad = frame(spark, glue, [(1, "nope"), (2, "{x"), (3, '{"a": 1}')], "id int, payload string")
    with pytest.raises(ErrorThresholdExceededError) as info:
        two_bad.unbox("payload", "json", transformation_ctx="unbox", stageThreshold=1)
    assert (info.value.kind, info.value.count, info.value.threshold) == ("stage", 2, 1)
    with pytest.raises(ErrorThresholdExceededError):
        Unbox.apply(frame=two_bad, path="payload", format="json", stageThreshold=1)


def test_errors_accumulate_over_stages(spark, glue):
    rows = [(1, "bad", "1,2"), (2, '{"a": 1}', "x"), (3, '{"a": 2}', "3,4"), (4, '{"a": 3}', "5,6")]
    events = frame(spark, glue, rows, "id int, j string, c string")
    first = events.unbox("j", "json", transformation_ctx="j")
    second = first.unbox("c", "csv", transformation_ctx="c", totalThreshold=5)
    assert (first.errorsCount(), first.stageErrorsCount()) == (1, 1)
    assert (second.errorsCount(), second.stageErrorsCount()) == (2, 1)
    contexts = sorted(r["transformation_ctx"] for r in second.errorsAsDynamicFrame().toDF().collect())
    assert contexts == ["c", "j"]
    assert sorted(r["id"] for r in second.toDF().collect()) == [3, 4]
    with pytest.raises(ErrorThresholdExceededError, match="total"):
        first.unbox("c", "csv", totalThreshold=1)


def test_json_with_schema_skips_inference(spark, glue):
    schema = T.StructType([T.StructField("n", T.IntegerType()), T.StructField("s", T.StringType())])
    events = frame(spark, glue, [(1, '{"n": 5, "s": "x", "dropped": 1}'), (2, '{"s": "y"}')], "id int, payload string")
    for given in (schema, schema.json(), "n int, s string"):
        out = events.unbox("payload", "json", withSchema=given)
        assert_frame(
            out.toDF(),
            spark.createDataFrame([(1, (5, "x")), (2, (None, "y"))], "id int, payload struct<n: int, s: string>"),
        )


def test_choice_columns_elsewhere_stay_intact(spark, glue):
    df = spark.createDataFrame([(1, '{"a": 1}')], "n long, payload string")
    df = df.select(choice_column({"long": F.col("n"), "string": F.lit(None).cast("string")}).alias("c"), "payload")
    out = DynamicFrame.fromDF(df, glue, "x").unbox("payload", "json").toDF()
    assert all(f.metadata.get(CHOICE_KEY) for f in out.schema["c"].dataType.fields)


def test_binary_fields_are_read_as_utf8(spark, glue):
    events = frame(spark, glue, [(bytearray(b'{"a": "\xc3\xa9"}'),)], "payload binary")
    assert events.unbox("payload", "json").toDF().collect()[0][0] == ("é",)


@pytest.mark.parametrize(
    ("text", "ddl"),
    [
        ("OBJECT<a: BIGINT, b: DECIMAL(3,1), c: DECIMAL(21,0)>", "struct<a: bigint, b: double, c: decimal(21,0)>"),
        ("OBJECT<x: VARIANT, y: VOID, `a.b`: OBJECT<>>", "struct<x: string, y: string, `a.b`: struct<>>"),
        ("OBJECT<l: ARRAY<OBJECT<`q``r`: BOOLEAN>>>", "struct<l: array<struct<`q``r`: boolean>>>"),
        (None, "struct<>"),
        ("VOID", "struct<>"),
    ],
)
def test_variant_schema_follows_spark_json_inference(spark, text, ddl):
    assert variant_schema(text) == T._parse_datatype_string(ddl)


@pytest.mark.parametrize("text", ["OBJECT<a: BIGINT", "DECIMAL(3", "OBJECT<a: INT> x", "%"])
def test_variant_schema_rejects_malformed_text(text):
    with pytest.raises(TransformError, match="inferred schema"):
        variant_schema(text)


# ----- CSV ------------------------------------------------------------------------------------
def test_csv_infers_glue_column_names_and_types(spark, glue):
    rows = [(1, '7,ann,10.5,true,"Smith, J"'), (2, "8,bob,20,false,x"), (3, None), (4, "9,,,,")]
    events = frame(spark, glue, rows, "id int, line string")
    out = events.unbox("line", "csv")
    expected = spark.createDataFrame(
        [
            (1, (7, "ann", 10.5, True, "Smith, J")),
            (2, (8, "bob", 20.0, False, "x")),
            (3, None),
            (4, (9, None, None, None, None)),
        ],
        "id int, line struct<col0: int, col1: string, col2: double, col3: boolean, col4: string>",
    )
    assert_frame(out.toDF(), expected)


def test_csv_separator_and_delimiter_alias(spark, glue):
    events = frame(spark, glue, [(1, "a|1"), (2, "b|2")], "id int, line string")
    expected = spark.createDataFrame([(1, ("a", 1)), (2, ("b", 2))], "id int, line struct<col0: string, col1: int>")
    assert_frame(events.unbox("line", "csv", separator="|").toDF(), expected)
    assert_frame(Unbox.apply(frame=events, path="line", format="csv", delimiter="|").toDF(), expected)


def test_csv_quote_char_and_escaper(spark, glue):
    events = frame(spark, glue, [(1, "'a;b';1"), (2, "'it\\'s';2")], "id int, line string")
    out = events.unbox("line", "csv", separator=";", quoteChar="'", escaper="\\")
    expected = spark.createDataFrame(
        [(1, ("a;b", 1)), (2, ("it's", 2))], "id int, line struct<col0: string, col1: int>"
    )
    assert_frame(out.toDF(), expected)


def test_csv_malformed_records_are_errors(spark, glue):
    rows = [(1, "1,a"), (2, "2"), (3, "3,b,c"), (4, "4,d")]  # two fields is the common shape
    events = frame(spark, glue, rows, "id int, line string")
    out = events.unbox("line", "csv", info="csv payload")
    assert_frame(
        out.toDF(),
        spark.createDataFrame([(1, (1, "a")), (4, (4, "d"))], "id int, line struct<col0: int, col1: string>"),
    )
    errors = out.errorsAsDynamicFrame().toDF().collect()
    assert sorted(json.loads(r["input"])["id"] for r in errors) == [2, 3]
    assert {r["error_message"] for r in errors} == {"Unbox: 'line' is not a CSV record of struct<col0:int,col1:string>"}
    assert {r["info"] for r in errors} == {"csv payload"}


def test_csv_with_header_names_the_columns(spark, glue):
    rows = [(1, "name,qty\nann,3"), (2, "name,qty\r\nbob,4\n"), (3, "name,qty")]
    events = frame(spark, glue, rows, "id int, line string")
    out = events.unbox("line", "csv", withHeader=True)
    assert_frame(
        out.toDF(),
        spark.createDataFrame([(1, ("ann", 3)), (2, ("bob", 4))], "id int, line struct<name: string, qty: int>"),
    )
    errors = out.errorsAsDynamicFrame().toDF().collect()
    assert [r["error_message"] for r in errors] == ["Unbox: 'line' has no record after its first line"]


def test_csv_skip_first_keeps_glue_names(spark, glue):
    events = frame(spark, glue, [(1, "ignored line\n5,x")], "id int, line string")
    out = events.unbox("line", "csv", skipFirst=True)
    assert_frame(out.toDF(), spark.createDataFrame([(1, (5, "x"))], "id int, line struct<col0: int, col1: string>"))


def test_csv_with_schema(spark, glue):
    schema = T.StructType([T.StructField("code", T.StringType()), T.StructField("amount", T.LongType())])
    events = frame(spark, glue, [(1, "007,12"), (2, "008,lots")], "id int, line string")
    out = events.unbox("line", "csv", withSchema=schema.json())
    assert_frame(
        out.toDF(), spark.createDataFrame([(1, ("007", 12))], "id int, line struct<code: string, amount: long>")
    )
    assert out.stageErrorsCount() == 1


def test_csv_different_headers_are_refused(spark, glue):
    events = frame(spark, glue, [(1, "a,b\n1,2"), (2, "c,d\n3,4")], "id int, line string")
    with pytest.raises(TransformError, match="different CSV headers"):
        events.unbox("line", "csv", withHeader=True)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_all_null_values_give_an_empty_struct(spark, glue, fmt):
    out = frame(spark, glue, [(1, None)], "id int, payload string").unbox("payload", fmt)
    assert out.toDF().schema["payload"].dataType == T.StructType([])
    assert out.toDF().collect()[0]["payload"] is None
    assert out.errorsCount() == 0


# ----- wrong calls ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "fmt", "options", "message"),
    [
        ("missing", "json", {}, "field 'missing' not found"),
        ("id", "json", {}, "'id' is int, not a string"),
        ("items[].p", "json", {}, "goes into an array"),
        ("payload", "xml", {}, "format 'xml' is not supported"),
        ("payload", "json", {"separator": ","}, r"unknown json option\(s\) \['separator'\]"),
        ("payload", "csv", {"sep": ";"}, r"unknown csv option\(s\) \['sep'\]"),
        ("payload", "csv", {"separator": ";;"}, "separator must be one character"),
        ("payload", "json", {"withSchema": "not a schema ((("}, "neither StructType JSON nor DDL"),
        ("payload", "json", {"withSchema": "int"}, "must describe a struct"),
    ],
)
def test_wrong_calls_raise_transform_error(spark, glue, path, fmt, options, message):
    events = frame(spark, glue, [(1, "{}", [("x",)])], "id int, payload string, items array<struct<p: string>>")
    with pytest.raises(TransformError, match=message):
        events.unbox(path, fmt, **options)
