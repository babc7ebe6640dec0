"""DynamicFrame, DynamicFrameCollection and ApplyMapping on real Spark frames, and the
``awsglue`` import names Glue scripts use."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection


@pytest.fixture
def people_df(spark):
    return spark.createDataFrame(
        [(1, "ann", "10.5"), (2, "bob", "20"), (3, "cy", "n/a")],
        "id int, name string, amount string",
    )


@pytest.fixture
def people(glue, people_df):
    return DynamicFrame.fromDF(people_df, glue, "people")


# ----- construction and inspection -------------------------------------------------------------
def test_from_df_to_df_roundtrip(glue, people_df):
    frame = DynamicFrame.fromDF(people_df, glue, "people")
    assert frame.name == "people"
    assert frame.glue_ctx is glue
    assert_df_equality(frame.toDF(), people_df)


def test_count_and_schema(people, people_df):
    assert people.count() == 3
    assert people.schema() == people_df.schema
    assert people.schema().fieldNames() == ["id", "name", "amount"]


def test_print_schema(people, capsys):
    people.printSchema()
    out = capsys.readouterr().out
    assert out.startswith("root")
    for line in ("|-- id: int", "|-- name: string", "|-- amount: string"):
        assert line in out


def test_show_prints_json_lines(people, capsys):
    people.show()
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(records, key=lambda r: r["id"]) == [
        {"id": 1, "name": "ann", "amount": "10.5"},
        {"id": 2, "name": "bob", "amount": "20"},
        {"id": 3, "name": "cy", "amount": "n/a"},
    ]


def test_show_limits_rows(people, capsys):
    people.show(2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line)["name"] in {"ann", "bob", "cy"} for line in lines)


def test_repartition_and_coalesce(people):
    four = people.repartition(4)
    assert four.getNumPartitions() == 4
    assert four.count() == 3
    one = four.coalesce(1)
    assert one.getNumPartitions() == 1
    assert sorted(r["id"] for r in one.toDF().collect()) == [1, 2, 3]
    three = one.coalesce(3, shuffle=True)
    assert three.getNumPartitions() == 3
    assert isinstance(four, DynamicFrame) and four.name == "people"


def test_union_merges_schemas(spark, glue, people):
    other = DynamicFrame.fromDF(
        spark.createDataFrame([(4, "dee", True)], "id int, name string, vip boolean"), glue
    )
    merged = people.union(other)
    expected = spark.createDataFrame(
        [(1, "ann", "10.5", None), (2, "bob", "20", None), (3, "cy", "n/a", None),
         (4, "dee", None, True)],
        "id int, name string, amount string, vip boolean",
    )
    assert_df_equality(merged.toDF(), expected, ignore_row_order=True, ignore_nullable=True)


# ----- DynamicFrameCollection ------------------------------------------------------------------
@pytest.fixture
def collection(spark, glue, people):
    small_df = spark.createDataFrame([(9, "zed", "1")], people.schema())
    small = DynamicFrame.fromDF(small_df, glue, "small")
    return DynamicFrameCollection({"people": people, "small": small}, glue)


def test_collection_basics(collection, people):
    assert collection.keys() == ["people", "small"]
    assert len(collection) == 2
    assert [f.count() for f in collection.values()] == [3, 1]
    assert collection["people"] is people
    assert collection.select("people") is people
    assert "small" in collection and "other" not in collection
    assert list(collection) == ["people", "small"]


def test_collection_select_missing_key_is_transform_error(collection):
    with pytest.raises(TransformError, match="nope"):
        collection.select("nope")
    with pytest.raises(KeyError):
        collection["nope"]


def test_collection_map(collection):
    seen = []

    def only_ids(frame, ctx):
        seen.append(ctx)
        return frame.apply_mapping([("id", "int", "id", "long")])

    mapped = collection.map(only_ids, transformation_ctx="m")
    assert isinstance(mapped, DynamicFrameCollection)
    assert mapped.keys() == ["people", "small"]
    assert seen == ["m:people", "m:small"]
    for frame in mapped.values():
        assert frame.schema() == T.StructType([T.StructField("id", T.LongType(), True)])
    assert sorted(r["id"] for r in mapped["people"].toDF().collect()) == [1, 2, 3]


def test_collection_flatmap(glue, collection):
    def split(frame, ctx):
        df = frame.toDF()
        if frame.name == "people":
            return DynamicFrameCollection(
                {
                    "low": DynamicFrame.fromDF(df.where("id < 2"), glue, "low"),
                    "high": DynamicFrame.fromDF(df.where("id >= 2"), glue, "high"),
                },
                glue,
            )
        return frame

    flat = collection.flatmap(split)
    assert sorted(flat.keys()) == ["high", "low", "small"]
    assert flat["low"].count() == 1
    assert flat["high"].count() == 2
    assert flat["small"].count() == 1


# ----- ApplyMapping ----------------------------------------------------------------------------
@pytest.fixture
def orders_df(spark):
    schema = T.StructType(
        [
            T.StructField("order_id", T.StringType()),
            T.StructField("cust_id", T.StringType()),
            T.StructField("cust.name", T.StringType()),  # a dot inside the name
            T.StructField("total", T.StringType()),
            T.StructField(
                "ship", T.StructType([T.StructField("city", T.StringType()),
                                      T.StructField("zip", T.StringType())])
            ),
            T.StructField("internal_note", T.StringType()),
        ]
    )
    rows = [
        ("1", "100", "Ann", "12.50", Row(city="Oslo", zip="0150"), "x"),
        ("2", "200", "Bob", "bad", Row(city="Rome", zip="00100"), "y"),
    ]
    return spark.createDataFrame(rows, schema)


ORDER_MAPPINGS = [
    ("order_id", "string", "order_id", "long"),
    ("cust_id", "string", "customer.id", "int"),
    ("`cust.name`", "string", "customer.name", "string"),
    ("total", "string", "total", "decimal(10,2)"),
    ("ship.city", "string", "city", "string"),
    ("missing_field", "string", "coupon", "string"),
]


def _expected_orders(spark):
    from decimal import Decimal

    schema = T.StructType(
        [
            T.StructField("order_id", T.LongType()),
            T.StructField(
                "customer",
                T.StructType([T.StructField("id", T.IntegerType()),
                              T.StructField("name", T.StringType())]),
            ),
            T.StructField("total", T.DecimalType(10, 2)),
            T.StructField("city", T.StringType()),
            T.StructField("coupon", T.StringType()),
        ]
    )
    return spark.createDataFrame(
        [
            (1, Row(id=100, name="Ann"), Decimal("12.50"), "Oslo", None),
            (2, Row(id=200, name="Bob"), None, "Rome", None),  # "bad" does not cast: null
        ],
        schema,
    )


def test_apply_mapping(spark, glue, orders_df):
    frame = DynamicFrame.fromDF(orders_df, glue, "orders")
    mapped = frame.apply_mapping(ORDER_MAPPINGS, transformation_ctx="map_orders")
    df = mapped.toDF()
    assert df.columns == ["order_id", "customer", "total", "city", "coupon"]  # unmapped dropped
    assert "internal_note" not in df.columns and "ship" not in df.columns
    assert_df_equality(df, _expected_orders(spark), ignore_row_order=True, ignore_nullable=True)


def test_apply_mapping_class_form_matches_method(spark, glue, orders_df):
    from awsglue.transforms import ApplyMapping

    frame = DynamicFrame.fromDF(orders_df, glue, "orders")
    by_class = ApplyMapping.apply(frame=frame, mappings=ORDER_MAPPINGS, transformation_ctx="am")
    by_method = frame.apply_mapping(ORDER_MAPPINGS)
    assert isinstance(by_class, DynamicFrame)
    assert_df_equality(by_class.toDF(), by_method.toDF(), ignore_row_order=True)
    assert_df_equality(by_class.toDF(), _expected_orders(spark), ignore_row_order=True,
                       ignore_nullable=True)


def test_apply_mapping_is_case_insensitive_by_default(spark, glue):
    frame = DynamicFrame.fromDF(spark.createDataFrame([(1, "a")], "ID int, Name string"), glue)
    df = frame.apply_mapping([("id", "int", "id", "int"), ("name", "string", "n", "string")]).toDF()
    assert_df_equality(df, spark.createDataFrame([(1, "a")], "id int, n string"),
                       ignore_nullable=True)
    strict = frame.apply_mapping([("id", "int", "id", "int")], case_sensitive=True).toDF()
    assert strict.collect() == [Row(id=None)]


def test_apply_mapping_keeps_type_with_two_tuple(spark, glue, people):
    df = people.apply_mapping([("id", "ident"), ("name", "who")]).toDF()
    expected = spark.createDataFrame(
        [(1, "ann"), (2, "bob"), (3, "cy")], "ident int, who string"
    )
    assert_df_equality(df, expected, ignore_row_order=True, ignore_nullable=True)


def test_apply_mapping_errors(people):
    with pytest.raises(TransformError):
        people.apply_mapping([])
    with pytest.raises(TransformError, match="twice"):
        people.apply_mapping([("id", "int", "x", "int"), ("name", "string", "x", "string")])


def test_apply_mapping_returns_frame_with_upstream_errors_but_no_stage_errors(people):
    mapped = people.apply_mapping([("id", "int", "id", "long")])
    assert mapped.errorsCount() == 0
    assert mapped.stageErrorsCount() == 0
    assert mapped.toDF().dtypes == [("id", "bigint")]


# ----- awsglue import names ---------------------------------------------------------------------
def test_awsglue_imports(glue):
    from awsglue.context import GlueContext
    from awsglue.dynamicframe import DynamicFrame as GlueDynamicFrame
    from awsglue.dynamicframe import DynamicFrameCollection as GlueCollection
    from awsglue.job import Job
    from awsglue.transforms import ApplyMapping
    from awsglue.utils import getResolvedOptions

    assert GlueDynamicFrame is DynamicFrame
    assert GlueCollection is DynamicFrameCollection
    assert isinstance(glue, GlueContext)
    assert ApplyMapping.name == "ApplyMapping"
    argv = ["script.py", "--JOB_NAME", "j1", "--input=/data"]
    args = getResolvedOptions(argv, ["JOB_NAME", "input"])
    assert args["JOB_NAME"] == "j1" and args["input"] == "/data"
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    job.commit()
    assert job.committed


def test_awsglue_glue_context_wraps_a_spark_context(spark):
    from awsglue.context import GlueContext

    ctx = GlueContext(spark.sparkContext)
    assert ctx.spark_session is spark
    assert ctx.sparkSession is spark
