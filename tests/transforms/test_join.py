"""Join on nested, messy frames, through ``frame.join`` and ``Join.apply``: Glue's naming of
clashing fields, null keys, choice keys, dotted names and error records of both inputs."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from etl.errors import ErrorThresholdExceededError, TransformError
from etl.frame.dynamicframe import DynamicFrame
from etl.frame.records import ERROR_SCHEMA
from etl.frame.types import choice_column
from etl.transforms.base import get_transform
from etl.transforms.join import Join

PERSONS_DDL = "id long, name string, `home.town` string, address struct<city:string, `zip.code`:string>"
PERSONS = [
    (1, "ann", "Oslo", ("Oslo", "0150")),
    (2, "bob", None, None),
    (3, None, "Rome", ("Rome", None)),
    (None, "nul", "Nowhere", ("Nowhere", "000")),
]
MEMBERSHIPS_DDL = "person_id long, org string, roles array<struct<role:string, since:int>>"
MEMBERSHIPS = [
    (1, "acme", [("dev", 2020), None]),
    (1, "globex", []),
    (3, "initech", None),
    (None, "ghost", [("none", None)]),
    (9, "nobody", [("x", 1)]),
]


def frame(spark, glue, rows, ddl, name, errors=()):
    """A DynamicFrame, with upstream error records whose messages are ``errors``."""
    error_df = None
    if errors:
        error_df = spark.createDataFrame([("read", "", msg, "src", "{}") for msg in errors], ERROR_SCHEMA)
    return DynamicFrame(spark.createDataFrame(rows, ddl), glue, name, errors=error_df)


def rows(result):
    """Rows as sorted tuples (``.``-prefixed names defeat chispa's row sorting)."""
    return sorted((tuple(r) for r in result.toDF().collect()), key=repr)


def python_free(df) -> bool:
    """Whether the executed plan runs no Python code (UDFs, RDD maps)."""
    plan = df._jdf.queryExecution().executedPlan().toString()
    return "EvalPython" not in plan and "PythonRDD" not in plan


@pytest.fixture
def persons(spark, glue):
    return frame(spark, glue, PERSONS, PERSONS_DDL, "persons")


@pytest.fixture
def memberships(spark, glue):
    return frame(spark, glue, MEMBERSHIPS, MEMBERSHIPS_DDL, "memberships")


def test_method_joins_on_keys_and_keeps_all_fields(persons, memberships):
    joined = persons.join(["id"], ["person_id"], memberships)
    assert joined.toDF().columns == ["id", "name", "home.town", "address", "person_id", "org", "roles"]
    assert rows(joined) == sorted(
        [
            (1, "ann", "Oslo", ("Oslo", "0150"), 1, "acme", [("dev", 2020), None]),
            (1, "ann", "Oslo", ("Oslo", "0150"), 1, "globex", []),
            (3, None, "Rome", ("Rome", None), 3, "initech", None),
        ],
        key=repr,
    )
    assert joined.name == "personsmemberships"  # Glue: self.name + frame2.name
    assert python_free(joined.toDF())


def test_null_keys_never_match(spark, glue):
    left = frame(spark, glue, [(None, "a"), (1, "b")], "k long, v string", "l")
    right = frame(spark, glue, [(None, "x"), (1, "y")], "k2 long, w string", "r")
    assert rows(left.join(["k"], ["k2"], right)) == [(1, "b", 1, "y")]


def test_class_form_accepts_single_key_strings(persons, memberships):
    joined = Join.apply(frame1=memberships, frame2=persons, keys1="person_id", keys2="id")
    assert joined.toDF().columns == ["person_id", "org", "roles", "id", "name", "home.town", "address"]
    assert sorted(r["org"] for r in joined.toDF().collect()) == ["acme", "globex", "initech"]
    assert joined.name == "membershipspersons"
    assert get_transform("Join") is Join


def test_same_key_name_on_both_sides_gives_dotted_copy(spark, glue):
    # Glue's result for dyf1.join(["a", "b"], ["a", "b"], dyf2) (aws-glue-libs issue 76), except
    # that keys match pairwise: (2, 1) does not match (1, 2).
    left = frame(spark, glue, [(1, 2), (2, 1)], "a long, b long", "dyf1")
    right = frame(spark, glue, [(1, 2)], "a long, b long", "dyf2")
    joined = left.join(["a", "b"], ["a", "b"], right)
    assert joined.toDF().columns == ["a", "b", ".a", ".b"]
    assert rows(joined) == [(1, 2, 1, 2)]


def test_clashing_non_key_fields_are_renamed_until_free(spark, glue):
    left = frame(spark, glue, [(1, "l", "dot")], "id long, Name string, `.name` string", "l")
    right = frame(spark, glue, [(1, "r", "other")], "rid long, name string, `home.town` string", "r")
    joined = Join.apply(frame1=left, frame2=right, keys1=["id"], keys2=["rid"])
    # "name" clashes with "Name" (Spark compares names case-insensitively) and then with ".name".
    assert joined.toDF().columns == ["id", "Name", ".name", "rid", "..name", "home.town"]
    assert rows(joined) == [(1, "l", "dot", 1, "r", "other")]
    assert joined.toDF().select("`..name`").first()[0] == "r"


def test_nested_and_dotted_key_paths(persons, spark, glue):
    towns = frame(
        spark,
        glue,
        [(("Oslo", "0150"), "cold"), (("Rome", None), "warm"), (None, "void")],
        "place struct<city:string, `zip.code`:string>, climate string",
        "towns",
    )
    by_city = persons.join(["address.city"], ["place.city"], towns)
    assert sorted(((r["name"], r["climate"]) for r in by_city.toDF().collect()), key=repr) == [
        ("ann", "cold"),
        (None, "warm"),
    ]
    # a dotted top-level name and a dotted nested name, both back-ticked
    by_zip = Join.apply(frame1=persons, frame2=towns, keys1=["`home.town`"], keys2=["place.city"])
    assert sorted(r["climate"] for r in by_zip.toDF().collect()) == ["cold", "warm"]
    by_code = persons.join(["address.`zip.code`"], ["place.`zip.code`"], towns)
    assert [r["climate"] for r in by_code.toDF().collect()] == ["cold"]  # null zip codes never match


def test_struct_keys_compare_whole_values(spark, glue):
    left = frame(
        spark, glue, [((1, "a"), "x"), ((1, "b"), "y"), (None, "z")], "k struct<n:int, s:string>, v string", "l"
    )
    right = frame(spark, glue, [((1, "a"), "X"), (None, "Z")], "k struct<n:int, s:string>, w string", "r")
    assert rows(left.join(["k"], ["k"], right)) == [((1, "a"), "x", (1, "a"), "X")]


def test_numeric_keys_of_different_widths_match(spark, glue):
    left = frame(spark, glue, [(1, "a"), (2, "b")], "k int, v string", "l")
    right = frame(spark, glue, [(2.0, "two"), (3.5, "x")], "k double, w string", "r")
    assert rows(left.join(["k"], ["k"], right)) == [(2, "b", 2.0, "two")]


def test_choice_key_matches_through_its_alternatives(spark, glue):
    df = spark.createDataFrame([(1, "1"), (2, "x"), (3, None)], "n long, s string")
    ids = df.select(
        choice_column(
            {"long": F.when(F.col("n") != 2, F.col("n")), "string": F.when(F.col("n") == 2, F.col("s"))}
        ).alias("id"),
        F.col("n"),
    )
    choices = DynamicFrame.fromDF(ids, glue, "choices")
    longs = frame(spark, glue, [(1, "one"), (2, "two")], "k long, label string", "longs")
    strings = frame(spark, glue, [("x", "ex"), ("1", "str-one")], "k string, label string", "strings")
    assert sorted(r["label"] for r in choices.join(["id"], ["k"], longs).toDF().collect()) == ["one"]
    assert sorted(r["label"] for r in choices.join(["id"], ["k"], strings).toDF().collect()) == ["ex"]
    # choice against choice: alternatives of the same kind are compared
    both = choices.join(["id"], ["id"], choices)
    assert sorted(r["n"] for r in both.toDF().collect()) == [1, 2, 3]
    assert both.toDF().columns == ["id", "n", ".id", ".n"]


def test_self_join(persons):
    joined = persons.join(["id"], ["id"], persons)
    assert joined.toDF().columns == [
        "id",
        "name",
        "home.town",
        "address",
        ".id",
        ".name",
        ".home.town",
        ".address",
    ]
    assert sorted(r["id"] for r in joined.toDF().collect()) == [1, 2, 3]


def test_error_records_of_both_inputs_carry_over(spark, glue):
    left = frame(spark, glue, [(1, "a")], "k long, v string", "l", errors=["bad left 1", "bad left 2"])
    right = frame(spark, glue, [(1, "x")], "k2 long, w string", "r", errors=["bad right"])
    joined = left.join(["k"], ["k2"], right)
    assert joined.errorsCount() == 3
    assert joined.stageErrorsCount() == 0
    messages = sorted(r["error_message"] for r in joined.errorsAsDynamicFrame().toDF().collect())
    assert messages == ["bad left 1", "bad left 2", "bad right"]
    # right-side errors alone count too
    clean = frame(spark, glue, [(1, "a")], "k long, v string", "c")
    assert Join.apply(frame1=clean, frame2=right, keys1=["k"], keys2=["k2"]).errorsCount() == 1
    assert clean.join(["k"], ["k"], clean).errorsCount() == 0


def test_total_threshold_counts_errors_of_both_inputs(spark, glue):
    left = frame(spark, glue, [(1, "a")], "k long, v string", "l", errors=["e1"])
    right = frame(spark, glue, [(1, "x")], "k2 long, w string", "r", errors=["e2"])
    with pytest.raises(ErrorThresholdExceededError, match="total") as info:
        left.join(["k"], ["k2"], right, transformation_ctx="joined", totalThreshold=1)
    assert info.value.count == 2
    assert "joined" in str(info.value)
    assert left.join(["k"], ["k2"], right, totalThreshold=2).errorsCount() == 2


@pytest.mark.parametrize(
    ("keys1", "keys2", "message"),
    [
        (["id"], ["nope"], "key 'nope' not found in the schema of frame2"),
        (["address.nope"], ["person_id"], "key 'address.nope' not found in the schema of frame1"),
        (["id", "name"], ["person_id"], "same number of paths"),
        ([], [], "keys1 needs at least one key path"),
        (["id"], ["roles[].since"], "goes into an array"),
        (["name"], ["person_id"], "key 'name' of frame1 (string) cannot be compared with key 'person_id'"),
        (["address"], ["org"], "cannot be compared"),
    ],
)
def test_bad_keys_raise(persons, memberships, keys1, keys2, message):
    with pytest.raises(TransformError, match="Join") as info:
        persons.join(keys1, keys2, memberships)
    assert message in str(info.value)


def test_map_keys_cannot_be_compared(spark, glue):
    maps = frame(spark, glue, [({"a": 1},)], "m map<string,int>", "maps")
    with pytest.raises(TransformError, match="cannot be compared"):
        Join.apply(frame1=maps, frame2=maps, keys1=["m"], keys2=["m"])
