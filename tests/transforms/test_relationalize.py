"""Relationalize: Glue's table names, flattened columns, join keys, nested pivots and staging."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import ErrorThresholdExceededError, TransformError
from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection
from etl.frame.records import error_frame
from etl.frame.types import CHOICE_KEY, choice_column, is_choice
from etl.transforms.relationalize import Relationalize

PERSONS_SCHEMA = (
    "id string, name string, family_name string, "
    "area struct<id: string, place: struct<city: string, state: string>>, "
    "contact_details array<struct<type: string, value: string>>, "
    "identifiers array<struct<identifier: string, scheme: string>>, "
    "other_names array<struct<lang: string, name: string, note: string>>, "
    "tags array<string>"
)
PERSONS = [
    (
        "f4fc30ee",
        "Mike Ross",
        "Ross",
        ("ar", ("Little Rock", "AR")),
        [("fax", "202-225-1314"), ("phone", "202-225-3772"), ("twitter", "MikeRossUpdates")],
        [("R000557", "bioguide"), ("1234", "govtrack")],
        [("en", "Michael Ross", "alternate")],
        ["house", "democrat"],
    ),
    (
        "e3c60f34",
        "Shelley Capito",
        "Capito",
        ("wv", None),
        [("fax", "202-225-7856")],
        None,  # a null array: null join key, no child rows
        [],  # an empty array: a join key, no child rows
        [None, "senate"],  # a null element keeps its index
    ),
    ("a1b2c3d4", "Nobody", None, None, None, [("X1", None)], None, []),
]

ROOT_SCHEMA = (
    "id string, name string, family_name string, `area.id` string, `area.place.city` string, "
    "`area.place.state` string, contact_details long, identifiers long, other_names long, tags long"
)


@pytest.fixture(scope="module")
def persons_df(spark):
    return spark.createDataFrame(PERSONS, PERSONS_SCHEMA)


@pytest.fixture(scope="module")
def persons(glue, persons_df):
    return DynamicFrame.fromDF(persons_df, glue, "persons")


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    return tmp_path_factory.mktemp("relationalize_stage")


@pytest.fixture(scope="module")
def hist(persons, stage):
    """The method form with a staging path, as in Glue's legislators example (run once)."""
    return persons.relationalize("hist_root", str(stage))


@pytest.fixture(scope="module")
def unstaged(persons):
    """The class form with its defaults: no staging path, root table ``roottable``."""
    return Relationalize.apply(frame=persons)


def assert_table(actual, expected):
    """chispa equality, rows ordered first (chispa cannot sort by names with dots)."""

    def ordered(df):
        return df.orderBy(*[F.col(f"`{c}`") for c in df.columns])

    assert_df_equality(ordered(actual), ordered(expected), ignore_nullable=True)


def _array_back(dfc: DynamicFrameCollection, table: str, column: str):
    """The child table folded back into arrays, keyed by the join key, ordered by index."""
    child = dfc.select(table).toDF()
    values = [c for c in child.columns if c not in ("id", "index")]
    prefix = f"{column}.val."
    if values == [f"{column}.val"]:
        element = F.col(f"`{values[0]}`")
    else:  # the element's own field names, without the ``<column>.val.`` prefix
        element = F.struct(*[F.col(f"`{c}`").alias(c[len(prefix) :]) for c in values])
    return child.groupBy("id").agg(
        F.transform(F.sort_array(F.collect_list(F.struct("index", element.alias("e")))), lambda x: x["e"]).alias(column)
    )


# ----- Glue's legislators example ---------------------------------------------------------
def test_method_form_table_names(hist):
    dfc = hist
    assert isinstance(dfc, DynamicFrameCollection)
    assert dfc.keys() == [
        "hist_root",
        "hist_root_contact_details",
        "hist_root_identifiers",
        "hist_root_other_names",
        "hist_root_tags",
    ]
    assert [dfc.select(k).name for k in dfc.keys()] == dfc.keys()


def test_root_table_flattens_structs_and_keys_arrays(spark, hist):
    root = hist.select("hist_root").toDF()
    expected = spark.createDataFrame(
        [
            ("f4fc30ee", "Mike Ross", "Ross", "ar", "Little Rock", "AR", 1, 1, 1, 1),
            ("e3c60f34", "Shelley Capito", "Capito", "wv", None, None, 2, None, 2, 2),
            ("a1b2c3d4", "Nobody", None, None, None, None, None, 3, None, 3),
        ],
        ROOT_SCHEMA,
    )
    assert_table(root, expected)


def test_child_table_of_structs_as_glue_names_it(spark, hist):
    child = hist.select("hist_root_contact_details")
    expected = spark.createDataFrame(
        [
            (1, 0, "fax", "202-225-1314"),
            (1, 1, "phone", "202-225-3772"),
            (1, 2, "twitter", "MikeRossUpdates"),
            (2, 0, "fax", "202-225-7856"),
        ],
        "id long, index int, `contact_details.val.type` string, `contact_details.val.value` string",
    )
    assert_table(child.toDF(), expected)


def test_child_table_of_scalars_has_a_val_column(spark, unstaged):
    child = unstaged.select("roottable_tags").toDF()
    expected = spark.createDataFrame(
        [(1, 0, "house"), (1, 1, "democrat"), (2, 0, None), (2, 1, "senate")],
        "id long, index int, `tags.val` string",
    )
    assert_table(child, expected)


@pytest.mark.parametrize("column", ["contact_details", "identifiers", "other_names", "tags"])
def test_joining_children_back_on_id_gives_the_original_arrays(hist, persons_df, column):
    dfc = hist
    root = dfc.select("hist_root").toDF()
    back = _array_back(dfc, f"hist_root_{column}", column)
    rebuilt = root.join(back.withColumnRenamed("id", "key"), root[column] == F.col("key"), "left").select(
        "id",
        # a key without child rows is an empty array; a null key a null array
        F.when(root[column].isNotNull(), F.coalesce(back[column], F.array())).alias(column),
    )
    original = persons_df.select("id", F.col(column))
    assert_df_equality(rebuilt, original, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)


def test_class_form_defaults_to_roottable_without_staging(unstaged):
    dfc = unstaged
    assert dfc.keys()[0] == "roottable"
    assert "roottable_contact_details" in dfc
    assert dfc.select("roottable_identifiers").toDF().columns == [
        "id",
        "index",
        "identifiers.val.identifier",
        "identifiers.val.scheme",
    ]


def test_staging_writes_each_table_as_parquet(spark, hist, stage):
    for table in hist.keys():
        assert list((stage / table).glob("*.parquet")), table
    staged = spark.read.parquet(str(stage / "hist_root_other_names"))
    assert_table(staged, hist.select("hist_root_other_names").toDF())


def test_class_form_staged_or_not_gives_the_same_tables(hist, unstaged):
    for table in hist.keys():
        assert_table(hist.select(table).toDF(), unstaged.select(table.replace("hist_root", "roottable")).toDF())


@pytest.mark.parametrize("staging", [False, True])
def test_keys_stay_consistent_across_actions_on_a_nondeterministic_input(glue, persons_df, tmp_path, staging):
    shuffled = persons_df.withColumn("r", F.rand()).orderBy("r").drop("r")  # new order on every evaluation
    frame = DynamicFrame.fromDF(shuffled, glue, "persons")
    dfc = frame.relationalize("root", str(tmp_path / "stage") if staging else None)
    # two separate actions, one per table: the keys must still agree
    owners = {row["contact_details"]: row["id"] for row in dfc.select("root").toDF().collect()}
    children = dfc.select("root_contact_details").toDF().collect()
    by_person = {}
    for row in children:
        by_person.setdefault(owners[row["id"]], []).append((row["index"], row["contact_details.val.type"]))
    assert {k: [t for _, t in sorted(v)] for k, v in by_person.items()} == {
        "f4fc30ee": ["fax", "phone", "twitter"],
        "e3c60f34": ["fax"],
    }
    assert len(owners) == 3
    assert set(owners) - {None} <= {1, 2, 3}


# ----- nesting --------------------------------------------------------------------------------
NESTED_SCHEMA = (
    "k int, orders array<struct<no: string, lines: array<struct<sku: string, qty: int>>, "
    "meta: struct<flags: array<boolean>>>>, grid array<array<int>>"
)
NESTED = [
    (1, [("o1", [("a", 1), ("b", 2)], ([True],)), ("o2", [], None)], [[1, 2], [3]]),
    (2, [("o3", None, ([False, None],))], [[], None]),
    (3, None, None),
]


@pytest.fixture(scope="module")
def nested(spark, glue, stage):
    frame = DynamicFrame.fromDF(spark.createDataFrame(NESTED, NESTED_SCHEMA), glue, "nested")
    return Relationalize.apply(frame=frame, staging_path=str(stage / "nested"), name="r", transformation_ctx="rel")


def test_arrays_inside_arrays_pivot_recursively(nested):
    dfc = nested
    assert dfc.keys() == [
        "r",
        "r_orders",
        "r_orders.val.lines",
        "r_orders.val.meta.flags",
        "r_grid",
        "r_grid.val",
    ]
    assert dfc.select("r_orders").toDF().columns == [
        "id",
        "index",
        "orders.val.no",
        "orders.val.lines",
        "orders.val.meta.flags",
    ]
    assert dfc.select("r_orders.val.lines").toDF().columns == [
        "id",
        "index",
        "orders.val.lines.val.sku",
        "orders.val.lines.val.qty",
    ]
    assert dfc.select("r_grid.val").toDF().columns == ["id", "index", "grid.val.val"]


def test_nested_pivots_join_back_to_the_original(spark, nested):
    dfc = nested
    orders = dfc.select("r_orders").toDF()
    lines = dfc.select("r_orders.val.lines").toDF()
    joined = (
        orders.join(lines.withColumnRenamed("id", "lid"), orders["`orders.val.lines`"] == F.col("lid"))
        .join(dfc.select("r").toDF().withColumnRenamed("orders", "oid"), orders["id"] == F.col("oid"))
        .select("k", "`orders.val.no`", "`orders.val.lines.val.sku`", "`orders.val.lines.val.qty`")
    )
    expected = spark.createDataFrame(
        [(1, "o1", "a", 1), (1, "o1", "b", 2)],
        "k int, `orders.val.no` string, `orders.val.lines.val.sku` string, `orders.val.lines.val.qty` int",
    )
    assert_table(joined, expected)
    grid = dfc.select("r_grid").toDF()
    assert_table(
        grid,
        spark.createDataFrame([(1, 0, 1), (1, 1, 2), (2, 0, 3), (2, 1, None)], "id long, index int, `grid.val` long"),
    )
    inner = dfc.select("r_grid.val").toDF()
    assert_table(
        inner, spark.createDataFrame([(1, 0, 1), (1, 1, 2), (2, 0, 3)], "id long, index int, `grid.val.val` int")
    )


def test_keys_are_unique_per_table(nested):
    dfc = nested
    for table, column in [("r", "orders"), ("r_orders", "orders.val.lines"), ("r_grid", "grid.val")]:
        keys = [row[0] for row in dfc.select(table).toDF().select(F.col(f"`{column}`")).collect() if row[0] is not None]
        assert len(keys) == len(set(keys)), table


# ----- messy data and options -----------------------------------------------------------------
def test_no_arrays_gives_only_the_flattened_root(spark, glue):
    df = spark.createDataFrame([(1, ("a", (2.5,)))], "k int, s struct<x: string, `y.z`: struct<w: double>>")
    dfc = DynamicFrame.fromDF(df, glue, "flat").relationalize("only", None)
    assert dfc.keys() == ["only"]
    expected = spark.createDataFrame([(1, "a", 2.5)], "k int, `s.x` string, `s.y.z.w` double")
    assert_table(dfc.select("only").toDF(), expected)


def test_maps_and_choices_stay_whole(spark, glue):
    df = spark.createDataFrame([(1, {"a": 1}, 5), (2, None, None)], "k int, m map<string, int>, n long")
    df = df.select("k", "m", choice_column({"long": F.col("n"), "string": F.lit(None).cast("string")}).alias("c"))
    root = DynamicFrame.fromDF(df, glue, "x").relationalize("root", None).select("root").toDF()
    assert root.columns == ["k", "m", "c"]
    assert isinstance(root.schema["m"].dataType, T.MapType)
    assert is_choice(root.schema["c"].dataType)
    assert all(f.metadata.get(CHOICE_KEY) for f in root.schema["c"].dataType.fields)


def test_array_named_with_dots(spark, glue):
    df = spark.createDataFrame([(1, [7, 8])], "k int, `a.b` array<int>")
    dfc = DynamicFrame.fromDF(df, glue, "x").relationalize("root", None)
    assert dfc.keys() == ["root", "root_a.b"]
    assert dfc.select("root").toDF().collect()[0]["a.b"] == 1
    assert dfc.select("root_a.b").toDF().columns == ["id", "index", "a.b.val"]


def test_empty_frame_gives_empty_tables(spark, glue):
    empty = spark.createDataFrame([], "k int, xs array<struct<a: int>>")
    dfc = DynamicFrame.fromDF(empty, glue, "x").relationalize("root", None)
    assert dfc.keys() == ["root", "root_xs"]
    assert dfc.select("root_xs").toDF().columns == ["id", "index", "xs.val.a"]
    assert dfc.select("root").count() == dfc.select("root_xs").count() == 0


def test_options_are_accepted_and_ignored(persons):
    dfc = persons.relationalize("root", None, options={"unknownKey": 1})
    assert "root_contact_details" in dfc


def test_upstream_errors_carry_to_every_table(spark, glue, persons_df):
    bad = spark.createDataFrame([("x",), ("y",)], "v string")
    errors = error_frame(bad, transformation_ctx="up", info="", message="bad", source=None, input_record=F.col("v"))
    frame = DynamicFrame(persons_df, glue, "persons", errors=errors)
    dfc = frame.relationalize("root", None, transformation_ctx="rel")
    for table in dfc.keys():
        assert dfc.select(table).errorsCount() == 2
        assert dfc.select(table).stageErrorsCount() == 0
    with pytest.raises(ErrorThresholdExceededError, match="total"):
        frame.relationalize("root", None, totalThreshold=1)


def test_colliding_flattened_names_are_an_error(spark, glue):
    df = spark.createDataFrame([("x", ("y",))], "`a.b` string, a struct<b: string>")
    with pytest.raises(TransformError, match=r"two columns named 'a\.b'"):
        DynamicFrame.fromDF(df, glue, "x").relationalize("root", None)


@pytest.mark.parametrize("name", ["", None])
def test_root_name_is_required(persons, name):
    with pytest.raises(TransformError, match="root table name"):
        Relationalize.apply(frame=persons, name=name)


def test_options_must_be_a_dict(persons):
    with pytest.raises(TransformError, match="options must be a dict"):
        Relationalize.apply(frame=persons, options=["a"])
