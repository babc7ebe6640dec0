"""SplitFields and SplitRows on nested, messy frames, through ``frame.split_fields`` /
``frame.split_rows`` and the Transform classes."""

from __future__ import annotations

import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from etl.errors import ErrorThresholdExceededError, TransformError
from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection
from etl.frame.records import ERROR_SCHEMA
from etl.frame.types import choice_column, is_choice
from etl.transforms.base import get_transform
from etl.transforms.split import SplitFields, SplitRows

PEOPLE_DDL = (
    "id long, name string, `a.b` string, "
    "location struct<state:string, county:string, `zip.code`:string>, "
    "friends array<struct<name:string, age:int>>, age int, born date"
)
PEOPLE = [
    (1, "Sally", "x", ("WY", "Fremont", "82501"), [], 15, datetime.date(2009, 1, 2)),
    (2, "Varun", "", ("NE", "Douglas", None), [("Arjun", 3)], 10, None),
    (3, "George", None, ("NY", None, None), [("Fred", None), ("Amy", 15)], None, datetime.date(1990, 5, 6)),
    (4, "Haruki", "y", None, None, 20, datetime.date(2000, 1, 1)),
    (5, None, "z", ("AK", "Denali", "99755"), [None, ("Nancy", 22)], 19, datetime.date(2001, 7, 8)),
]


@pytest.fixture
def people_df(spark):
    return spark.createDataFrame(PEOPLE, PEOPLE_DDL)


@pytest.fixture
def people(people_df, glue):
    return DynamicFrame.fromDF(people_df, glue, "people")


def same(actual, expected):
    """Equal schemas (field metadata included) and rows; projections and filters keep row order
    (chispa's row sorting cannot handle names with dots)."""
    assert_df_equality(actual, expected, ignore_nullable=True)


def ids(frame):
    return sorted(r["id"] for r in frame.toDF().collect())


def with_errors(frame, spark, count):
    errors = spark.createDataFrame([("read", "", f"bad {i}", "src", "{}") for i in range(count)], ERROR_SCHEMA)
    return DynamicFrame(frame.toDF(), frame.glue_ctx, frame.name, errors=errors)


# ----- SplitFields ---------------------------------------------------------------------------
def test_split_fields_method_nested_and_dotted(people, people_df):
    dfc = people.split_fields(["name", "`a.b`", "location.`zip.code`", "friends[].age"], "picked", "rest")
    assert isinstance(dfc, DynamicFrameCollection)
    assert dfc.keys() == ["picked", "rest"]
    assert dfc["picked"].name == "picked" and dfc["rest"].name == "rest"
    picked = people_df.select(
        "name",
        "`a.b`",
        F.col("location").dropFields("state", "county").alias("location"),
        F.transform("friends", lambda f: f.dropFields("name")).alias("friends"),
    )
    rest = people_df.select(
        "id",
        F.col("location").dropFields("`zip.code`").alias("location"),
        F.transform("friends", lambda f: f.dropFields("age")).alias("friends"),
        "age",
        "born",
    )
    same(dfc["picked"].toDF(), picked)
    same(dfc["rest"].toDF(), rest)
    # null structs, null arrays and null elements stay null on both sides
    haruki = dfc["rest"].toDF().filter("id = 4").first()
    assert haruki["location"] is None and haruki["friends"] is None
    nancy = dfc["picked"].toDF().filter("name IS NULL").first()
    assert nancy["friends"] == [None, (22,)]


def test_split_fields_class_form_default_names(people):
    dfc = SplitFields.apply(frame=people, paths=["id"])
    assert dfc.keys() == ["people1", "people2"]
    assert dfc["people1"].toDF().columns == ["id"]
    assert dfc["people2"].toDF().columns == ["name", "a.b", "location", "friends", "age", "born"]
    unnamed = DynamicFrame.fromDF(people.toDF(), people.glue_ctx)
    assert SplitFields.apply(frame=unnamed, paths="id").keys() == ["frame1", "frame2"]
    assert get_transform("SplitFields") is SplitFields


def test_split_fields_whole_struct_absorbs_its_children(people, people_df):
    dfc = people.split_fields(["location.state", "location", "friends[].name"], "a", "b")
    same(
        dfc["a"].toDF(),
        people_df.select("location", F.transform("friends", lambda f: f.dropFields("age")).alias("friends")),
    )
    assert "location" not in dfc["b"].toDF().columns


def test_split_fields_taking_every_child_moves_the_struct(people, people_df):
    dfc = people.split_fields(["location.state", "location.county", "location.`zip.code`"], "a", "b")
    same(dfc["a"].toDF(), people_df.select("location"))
    assert dfc["b"].toDF().columns == ["id", "name", "a.b", "friends", "age", "born"]


def test_split_fields_ignores_paths_not_in_the_schema(people, people_df):
    dfc = people.split_fields(["nope", "location.nope", "id.nope", "friends.nope", "name"], "a", "b")
    same(dfc["a"].toDF(), people_df.select("name"))
    same(dfc["b"].toDF(), people_df.drop("name"))
    nothing = people.split_fields(["missing"], "a", "b")
    assert nothing["a"].toDF().columns == [] and nothing["a"].count() == 5
    same(nothing["b"].toDF(), people_df)


def test_split_fields_keeps_choice_columns_intact(people, glue):
    ch = choice_column({"long": F.when(F.col("id") % 2 == 1, F.col("id")), "string": F.lit("s")})
    df = people.toDF().select("id", ch.alias("ch"), F.struct(ch.alias("inner"), F.col("name")).alias("meta"))
    dfc = DynamicFrame.fromDF(df, glue, "c").split_fields(["ch", "meta.name"], "a", "b")
    assert is_choice(dfc["a"].toDF().schema["ch"].dataType)
    assert is_choice(dfc["b"].toDF().schema["meta"].dataType["inner"].dataType)
    same(dfc["a"].toDF(), df.select("ch", F.col("meta").dropFields("inner").alias("meta")))


def test_split_fields_carries_errors_to_both_frames(people, spark):
    dfc = with_errors(people, spark, 2).split_fields(["id"], "a", "b", transformation_ctx="split")
    assert [dfc[k].errorsCount() for k in dfc] == [2, 2]
    assert dfc["a"].transformation_ctx == "split"
    with pytest.raises(ErrorThresholdExceededError, match="total"):
        SplitFields.apply(frame=with_errors(people, spark, 2), paths=["id"], totalThreshold=1)


def test_split_fields_errors(people):
    with pytest.raises(TransformError, match="both 'x'"):
        people.split_fields(["id"], "x", "x")
    with pytest.raises(TransformError, match="unbalanced back-tick"):
        SplitFields.apply(frame=people, paths=["`a.b"])


# ----- SplitRows -----------------------------------------------------------------------------
def test_split_rows_method_nulls_go_to_the_second_frame(people):
    dfc = people.split_rows({"age": {">": 10, "<": 20}}, "teens", "others")
    assert dfc.keys() == ["teens", "others"]
    assert ids(dfc["teens"]) == [1, 5]
    assert ids(dfc["others"]) == [2, 3, 4]  # 3 has a null age
    assert dfc["teens"].name == "teens"
    assert dfc["teens"].toDF().columns == people.toDF().columns


def test_split_rows_class_form_default_names_and_all_comparisons(people):
    dfc = SplitRows.apply(frame=people, comparison_dict={"age": {">=": 10}, "location.state": {"!=": "WY"}})
    assert dfc.keys() == ["frame1", "frame2"]
    assert ids(dfc["frame1"]) == [2, 5]  # 4 has a null location: not a match
    assert ids(dfc["frame2"]) == [1, 3, 4]
    assert get_transform("SplitRows") is SplitRows


@pytest.mark.parametrize(
    ("op", "value", "matched"),
    [
        ("<", 15, [2]),
        (">", 15, [4, 5]),
        ("<=", 15, [1, 2]),
        (">=", 15, [1, 4, 5]),
        ("=", 15, [1]),
        ("!=", 15, [2, 4, 5]),
    ],
)
def test_split_rows_operators(people, op, value, matched):
    dfc = people.split_rows({"age": {op: value}}, "yes", "no")
    assert ids(dfc["yes"]) == matched
    assert ids(dfc["no"]) == sorted({1, 2, 3, 4, 5} - set(matched))


def test_split_rows_nested_dotted_strings_floats_and_dates(people):
    assert ids(people.split_rows({"location.`zip.code`": {"=": "82501"}}, "a", "b")["a"]) == [1]
    assert ids(people.split_rows({"`a.b`": {">": "x"}}, "a", "b")["a"]) == [4, 5]
    assert ids(people.split_rows({"age": {">": 14.5}}, "a", "b")["a"]) == [1, 4, 5]
    assert ids(people.split_rows({"born": {"<": datetime.date(2000, 1, 1)}}, "a", "b")["a"]) == [3]
    assert ids(people.split_rows({"born": {">=": "2001-01-01"}}, "a", "b")["a"]) == [1, 5]


def test_split_rows_choice_field_compares_matching_alternatives(people, glue):
    ch = choice_column(
        {"long": F.when(F.col("id") % 2 == 1, F.col("id")), "string": F.when(F.col("id") % 2 == 0, F.lit("even"))}
    )
    choices = DynamicFrame.fromDF(people.toDF().select("id", ch.alias("ch")), glue, "c")
    assert ids(choices.split_rows({"ch": {">": 1}}, "a", "b")["a"]) == [3, 5]
    assert ids(choices.split_rows({"ch": {"=": "even"}}, "a", "b")["a"]) == [2, 4]
    assert is_choice(choices.split_rows({"ch": {">": 1}}, "a", "b")["b"].toDF().schema["ch"].dataType)


def test_split_rows_missing_field_matches_nothing(people):
    dfc = people.split_rows({"nope.deeper": {"=": 1}}, "a", "b")
    assert dfc["a"].count() == 0
    assert ids(dfc["b"]) == [1, 2, 3, 4, 5]


def test_split_rows_carries_errors_to_both_frames(people, spark):
    dfc = with_errors(people, spark, 3).split_rows({"id": {"<": 3}}, "a", "b")
    assert [dfc[k].errorsCount() for k in dfc] == [3, 3]
    with pytest.raises(ErrorThresholdExceededError):
        SplitRows.apply(frame=with_errors(people, spark, 3), comparison_dict={"id": {"<": 3}}, totalThreshold=2)


@pytest.mark.parametrize(
    ("comparison_dict", "message"),
    [
        ({"age": {"~": 1}}, "unknown operator '~'"),
        ({"age": {"=": None}}, "never matches"),
        ({"name": {">": 10}}, "'name' (string) cannot be compared with 10 (int)"),
        ({"age": {"=": "ten"}}, "'age' (int) cannot be compared"),
        ({"location": {"=": "x"}}, "cannot be compared"),
        ({"age": {"=": True}}, "cannot be compared"),
        ({"friends[].age": {">": 1}}, "goes into an array"),
        ({}, "at least one comparison"),
        ({"age": 10}, "must map to {operator: value}"),
        ({"age": {}}, "must map to {operator: value}"),
    ],
)
def test_split_rows_errors(people, comparison_dict, message):
    with pytest.raises(TransformError, match="SplitRows") as info:
        people.split_rows(comparison_dict, "a", "b")
    assert message in str(info.value)


def test_split_rows_names_must_differ(people):
    with pytest.raises(TransformError, match="both 'frame1'"):
        SplitRows.apply(frame=people, comparison_dict={"id": {"=": 1}}, name2="frame1")


def test_split_rows_comparisons_reach_the_parquet_reader(people_df, glue, tmp_path):
    """Both frames' conditions are pushed down to Parquet (row groups can be skipped)."""
    people_df.write.parquet(str(tmp_path / "people"))
    frame = DynamicFrame.fromDF(glue.spark_session.read.parquet(str(tmp_path / "people")), glue, "people")
    parts = frame.split_rows({"age": {">": 12}}, "older", "rest")

    def pushed(name: str) -> str:
        plan = parts.select(name).toDF()._jdf.queryExecution().executedPlan().toString()
        return plan.split("PushedFilters: ")[1].split("]")[0] + "]"

    assert "GreaterThan(age,12)" in pushed("older")
    assert "LessThanOrEqual(age,12)" in pushed("rest") and "IsNull(age)" in pushed("rest")
    assert sorted(r["id"] for r in parts.select("rest").toDF().collect()) == [2, 3]
