"""DropFields, SelectFields, RenameField, DropNullFields and UnnestFrame on nested, messy frames,
through both the DynamicFrame methods and the Transform classes."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import Column
from pyspark.sql import functions as F

from etl.errors import TransformError
from etl.frame.dynamicframe import DynamicFrame
from etl.frame.types import choice_column, is_choice
from etl.transforms.base import get_transform
from etl.transforms.fields import DropFields, DropNullFields, RenameField, SelectFields, UnnestFrame

# Glue's drop_fields example data, made messier: an empty string, a null struct, a null array,
# an empty array, a null array element, and names with dots at the top and nested.
PEOPLE_DDL = (
    "id long, name string, `a.b` string, "
    "location struct<state:string, county:string, `zip.code`:string>, "
    "friends array<struct<name:string, age:int>>"
)
PEOPLE_ROWS = [
    (1, "Sally", "x", ("WY", "Fremont", "82501"), []),
    (2, "Varun", "", ("NE", "Douglas", None), [("Arjun", 3)]),
    (3, "George", None, ("NY", None, None), [("Fred", None), ("Amy", 15)]),
    (4, "Haruki", "y", None, None),
    (5, None, "z", ("AK", "Denali", "99755"), [None, ("Nancy", 22)]),
]


def same(actual, expected):
    """Equal schemas (field metadata included) and rows. These transforms are projections, so rows
    keep their order (chispa's row sorting cannot handle column names with dots)."""
    assert_df_equality(actual, expected, ignore_nullable=True)


def choice_of_id() -> Column:
    """A long/string choice: odd ids as long, even ids as string."""
    return choice_column(
        {
            "long": F.when(F.col("id") % 2 == 1, F.col("id")),
            "string": F.when(F.col("id") % 2 == 0, F.col("id").cast("string")),
        }
    )


def with_choices(df):
    """Add a top-level choice ``ch`` and a struct ``meta`` holding a choice next to a string."""
    return df.withColumn("ch", choice_of_id()).withColumn(
        "meta", F.struct(choice_of_id().alias("ch"), F.lit("n").alias("note"))
    )


@pytest.fixture
def people_df(spark):
    return spark.createDataFrame(PEOPLE_ROWS, PEOPLE_DDL)


@pytest.fixture
def people(glue, people_df):
    return DynamicFrame.fromDF(people_df, glue, "people")


@pytest.fixture
def chosen(glue, people_df):
    return DynamicFrame.fromDF(with_choices(people_df.select("id", "name")), glue, "chosen")


def assert_choices_kept(df, *paths: tuple[str, ...]):
    for path in paths:
        dtype = df.schema[path[0]].dataType
        for name in path[1:]:
            dtype = dtype[name].dataType
        assert is_choice(dtype), f"{'.'.join(path)} lost its choice marker: {dtype.simpleString()}"


def test_transforms_are_registered_under_glue_names():
    for cls in (DropFields, SelectFields, RenameField, DropNullFields, UnnestFrame):
        assert get_transform(cls.__name__) is cls


# ----- DropFields --------------------------------------------------------------------------------
def test_drop_fields_method_drops_top_level_nested_and_array_element_fields(spark, people):
    # Glue's documented example: top-level, struct child, and a field of an array of structs.
    result = people.drop_fields(["name", "location.county", "friends.age"])
    expected = spark.createDataFrame(
        [
            (1, "x", ("WY", "82501"), []),
            (2, "", ("NE", None), [("Arjun",)]),
            (3, None, ("NY", None), [("Fred",), ("Amy",)]),
            (4, "y", None, None),
            (5, "z", ("AK", "99755"), [None, ("Nancy",)]),
        ],
        "id long, `a.b` string, location struct<state:string, `zip.code`:string>, friends array<struct<name:string>>",
    )
    same(result.toDF(), expected)
    assert result.name == "people"


def test_drop_fields_class_with_back_ticks_and_array_brackets(spark, people):
    result = DropFields.apply(
        frame=people,
        paths=["`a.b`", "location.`zip.code`", "friends[].name", "friends[].age"],
        transformation_ctx="drop1",
    )
    # friends lost every field of its elements, so the array goes too
    expected = spark.createDataFrame(
        [(r[0], r[1], r[3][:2] if r[3] else None) for r in PEOPLE_ROWS],
        "id long, name string, location struct<state:string, county:string>",
    )
    same(result.toDF(), expected)
    assert result.transformation_ctx == "drop1"


def test_drop_fields_ignores_paths_that_do_not_exist(people, people_df):
    missing = ["nope", "location.nope", "id.x", "friends[].nope", "name[].x", "`location.state`", "Name"]
    # nothing to drop: the very same DataFrame comes back, no projection added
    assert people.drop_fields(missing).toDF() is people_df
    assert DropFields.apply(frame=people, paths=[]).toDF() is people_df


def test_drop_fields_accepts_one_path_as_a_string(people, people_df):
    same(people.drop_fields("location").toDF(), people_df.drop("location"))


def test_drop_fields_dropping_every_child_drops_the_struct(people, people_df):
    result = people.drop_fields(["location.state", "location.county", "location.`zip.code`", "location.state"])
    same(result.toDF(), people_df.drop("location"))


def test_drop_fields_keeps_choice_columns(spark, chosen):
    result = chosen.drop_fields(["name", "meta.note"])
    df = result.toDF()
    assert_choices_kept(df, ("ch",), ("meta", "ch"))
    base = spark.createDataFrame([(i,) for i in range(1, 6)], "id long")
    expected = base.withColumn("ch", choice_of_id()).withColumn("meta", F.struct(choice_of_id().alias("ch")))
    same(df, expected)
    # a path into a choice's variants is not a field path: it is ignored
    assert_choices_kept(chosen.drop_fields(["ch.long", "meta.ch.string"]).toDF(), ("ch",), ("meta", "ch"))


@pytest.mark.parametrize(
    ("paths", "message"),
    [(["location.`state"], "back-tick"), (["a..b"], "empty name"), ([3], "must be strings")],
)
def test_drop_fields_rejects_malformed_paths(people, paths, message):
    with pytest.raises(TransformError, match=message) as info:
        DropFields.apply(frame=people, paths=paths)
    assert "DropFields" in str(info.value)


# ----- SelectFields ------------------------------------------------------------------------------
def test_select_fields_method_keeps_nesting(spark, people):
    result = people.select_fields(["id", "location.state", "friends.age"])
    expected = spark.createDataFrame(
        [
            (1, ("WY",), []),
            (2, ("NE",), [(3,)]),
            (3, ("NY",), [(None,), (15,)]),
            (4, None, None),
            (5, ("AK",), [None, (22,)]),
        ],
        "id long, location struct<state:string>, friends array<struct<age:int>>",
    )
    same(result.toDF(), expected)


def test_select_fields_class_with_back_ticks_keeps_frame_order(spark, people):
    result = SelectFields.apply(frame=people, paths=["location.`zip.code`", "`a.b`", "nope", "id.x"])
    expected = spark.createDataFrame(
        [(r[2], (r[3][2],) if r[3] else None) for r in PEOPLE_ROWS],
        "`a.b` string, location struct<`zip.code`:string>",
    )
    same(result.toDF(), expected)


def test_select_fields_whole_field_wins_over_a_path_below_it(people, people_df):
    result = people.select_fields(["location.state", "location", "friends[].name", "friends"])
    same(result.toDF(), people_df.select("location", "friends"))


def test_select_fields_of_nothing_that_exists_keeps_the_records_but_no_fields(people):
    result = people.select_fields(["nope", "location.nope"])
    assert result.toDF().columns == []
    assert result.count() == len(PEOPLE_ROWS)


def test_select_fields_keeps_choice_columns(spark, chosen):
    df = SelectFields.apply(frame=chosen, paths=["ch", "meta.ch", "ch.long"]).toDF()
    assert_choices_kept(df, ("ch",), ("meta", "ch"))
    base = spark.createDataFrame([(i,) for i in range(1, 6)], "id long")
    expected = base.select(choice_of_id().alias("ch"), F.struct(choice_of_id().alias("ch")).alias("meta"))
    same(df, expected)


def test_select_fields_rejects_malformed_paths(people):
    with pytest.raises(TransformError, match="SelectFields.*back-tick"):
        people.select_fields(["`a.b"])


# ----- RenameField -------------------------------------------------------------------------------
def test_rename_field_method_renames_a_nested_field_in_place(spark, people):
    result = people.rename_field("location.state", "location.st")
    expected = spark.createDataFrame(PEOPLE_ROWS, PEOPLE_DDL.replace("<state:", "<st:"))
    same(result.toDF(), expected)
    assert result.toDF().schema["location"].dataType.names == ["st", "county", "zip.code"]


def test_rename_field_class_renames_a_dotted_top_level_name(spark, people):
    # Glue's documented example: back-ticks around an old name with dots
    result = RenameField.apply(frame=people, old_name="`a.b`", new_name="ab", transformation_ctx="r")
    expected = spark.createDataFrame(PEOPLE_ROWS, PEOPLE_DDL.replace("`a.b`", "ab"))
    same(result.toDF(), expected)
    assert result.transformation_ctx == "r"


def test_rename_field_through_arrays_and_to_dotted_names(spark, people):
    result = people.rename_field("friends.age", "friends[].years").rename_field("location.`zip.code`", "location.zip")
    ddl = PEOPLE_DDL.replace("age:int", "years:int").replace("`zip.code`:string", "zip:string")
    same(result.toDF(), spark.createDataFrame(PEOPLE_ROWS, ddl))
    renamed = people.rename_field("name", "`full.name`").toDF()
    assert renamed.columns == ["id", "full.name", "a.b", "location", "friends"]


def test_rename_field_of_a_missing_field_changes_nothing(people, people_df):
    assert people.rename_field("nope", "x").toDF() is people_df
    assert people.rename_field("location.nope", "location.x").toDF() is people_df
    assert people.rename_field("location.state", "location.state").toDF() is people_df


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("location.state", "state", "same parent.*location.<new name>"),
        ("location.state", "friends.state", "same parent"),
        ("name", "location.name", "same parent"),
        ("location.state", "location.county", "'county' exists already"),
        ("name", "id", "'id' exists already"),
        ("friends.age", "friends.name", "'name' exists already"),
        ("`a.b", "x", "back-tick"),
        ("name", "a..b", "empty name"),
    ],
)
def test_rename_field_errors_name_the_transform_and_paths(people, old, new, message):
    with pytest.raises(TransformError, match=message) as info:
        people.rename_field(old, new)
    assert "RenameField" in str(info.value)


def test_rename_field_keeps_choice_columns(chosen):
    df = chosen.rename_field("ch", "choice").rename_field("meta.note", "meta.remark").toDF()
    assert df.columns == ["id", "name", "choice", "meta"]
    assert df.schema["meta"].dataType.names == ["ch", "remark"]
    assert_choices_kept(df, ("choice",), ("meta", "ch"))
    moved = RenameField.apply(frame=chosen, old_name="meta.ch", new_name="meta.kind").toDF()
    assert_choices_kept(moved, ("ch",), ("meta", "kind"))
    same(moved.select("meta.kind"), chosen.toDF().select(F.col("meta.ch").alias("kind")))


# ----- DropNullFields ----------------------------------------------------------------------------
def test_drop_null_fields_method_drops_fields_null_everywhere(spark, glue):
    df = spark.createDataFrame(
        [
            (1, "a", "", None, (1, None, None), [("k1", None)], None),
            (2, None, "", None, (None, None, (None,)), [], None),
            (3, None, "", None, None, None, None),
        ],
        "id long, some string, blank string, nothing string, "
        "info struct<x:long, y:string, z:struct<q:string>>, tags array<struct<k:string, v:string>>, "
        "gone struct<p:long>",
    ).withColumn("untyped", F.lit(None))
    result = DynamicFrame.fromDF(df, glue, "messy").drop_null_fields()
    # dropped: a typed all-null column, a NullType column, info.y, info.z (its only child is
    # always null), tags[].v and a struct null in every record; empty strings are values
    expected = spark.createDataFrame(
        [(1, "a", "", (1,), [("k1",)]), (2, None, "", (None,), []), (3, None, "", None, None)],
        "id long, some string, blank string, info struct<x:long>, tags array<struct<k:string>>",
    )
    same(result.toDF(), expected)


def test_drop_null_fields_class_keeps_fields_with_any_value(people, people_df):
    # every field of the people frame has a value somewhere, even if null in most records
    assert DropNullFields.apply(frame=people).toDF() is people_df


def test_drop_null_fields_treats_choices_as_leaves(spark, glue):
    df = spark.createDataFrame([(1,), (2,)], "id long")
    only_longs = choice_column({"long": F.col("id"), "string": F.lit(None).cast("string")})
    never = choice_column({"long": F.lit(None).cast("long"), "struct": F.when(F.lit(False), F.struct(F.col("id")))})
    df = (
        df.withColumn("ch", only_longs).withColumn("never", never).withColumn("meta", F.struct(never.alias("ch"), "id"))
    )
    result = DropNullFields.apply(frame=DynamicFrame.fromDF(df, glue, "c"), transformation_ctx="dn")
    # the choice keeps its always-null variant; a choice with no variant ever set goes
    out = result.toDF()
    assert out.columns == ["id", "ch", "meta"]
    assert_choices_kept(out, ("ch",))
    same(out, df.select("id", "ch", F.struct("id").alias("meta")))
    assert result.transformation_ctx == "dn"


def test_drop_null_fields_on_an_empty_frame_drops_only_null_typed_fields(spark, glue):
    df = spark.createDataFrame([], "id long, s struct<x:string>").withColumn("n", F.lit(None))
    result = DynamicFrame.fromDF(df, glue, "empty").drop_null_fields()
    assert result.toDF().columns == ["id", "s"]
    assert result.count() == 0


# ----- UnnestFrame -------------------------------------------------------------------------------
def test_unnest_method_flattens_structs_with_glue_names(spark, people):
    result = people.unnest()
    expected = spark.createDataFrame(
        [(r[0], r[1], r[2], *(r[3] or (None, None, None)), r[4]) for r in PEOPLE_ROWS],
        "id long, name string, `a.b` string, `location.state` string, `location.county` string, "
        "`location.zip.code` string, friends array<struct<name:string, age:int>>",
    )
    same(result.toDF(), expected)


def test_unnest_class_flattens_deep_structs_and_keeps_choices(spark, glue):
    df = spark.createDataFrame(
        [(1, ((10,), "d1")), (2, (None, "d2")), (3, None)],
        "id long, a struct<b:struct<c:long>, d:string>",
    )
    result = UnnestFrame.apply(frame=DynamicFrame.fromDF(with_choices(df), glue, "deep"), transformation_ctx="u")
    out = result.toDF()
    assert out.columns == ["id", "a.b.c", "a.d", "ch", "meta.ch", "meta.note"]
    assert_choices_kept(out, ("ch",), ("meta.ch",))
    base = spark.createDataFrame(
        [(1, 10, "d1"), (2, None, "d2"), (3, None, None)], "id long, `a.b.c` long, `a.d` string"
    )
    expected = base.select(
        "*", choice_of_id().alias("ch"), choice_of_id().alias("meta.ch"), F.lit("n").alias("meta.note")
    )
    same(out, expected)
    assert result.transformation_ctx == "u"


def test_unnest_leaves_flat_frames_alone(glue, spark):
    df = spark.createDataFrame([(1, [1, 2])], "id long, xs array<long>")
    same(DynamicFrame.fromDF(df, glue, "flat").unnest().toDF(), df)


def test_unnest_rejects_two_fields_with_the_same_flat_name(glue, spark):
    df = spark.createDataFrame([("top", ("nested",))], "`a.b` string, a struct<b:string>")
    with pytest.raises(TransformError, match="UnnestFrame.*'a.b'"):
        DynamicFrame.fromDF(df, glue, "clash").unnest()


# ----- paths through a struct, then an array of structs, then a struct ---------------------------
def test_deep_paths_through_structs_and_arrays(spark, glue):
    ddl = "o struct<items:array<struct<p:long, q:struct<r:long, s:long>>>, t:long>"
    rows = [(([(1, (2, 3)), None], 4),), ((None, 5),), (None,)]
    df = spark.createDataFrame(rows, ddl)
    frame = DynamicFrame.fromDF(df, glue, "deep")
    dropped = DropFields.apply(frame=frame, paths=["o.items.q.s", "o.t"], stageThreshold=1, totalThreshold=1)
    same(
        dropped.toDF(),
        spark.createDataFrame(
            [(([(1, (2,)), None],),), ((None,),), (None,)], "o struct<items:array<struct<p:long, q:struct<r:long>>>>"
        ),
    )
    selected = frame.select_fields(["o.items[].q.r"])
    same(
        selected.toDF(),
        spark.createDataFrame(
            [(([((2,),), None],),), ((None,),), (None,)], "o struct<items:array<struct<q:struct<r:long>>>>"
        ),
    )
    renamed = frame.rename_field("o.items.q.r", "o.items.q.rr")
    same(renamed.toDF(), spark.createDataFrame(rows, ddl.replace("<r:", "<rr:")))
