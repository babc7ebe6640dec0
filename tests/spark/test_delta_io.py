"""Delta tables: partitioned writes, reads, upserts by primary key, time travel, and
``DynamicFrame.mergeDynamicFrame``."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality

from etl.errors import ConfigError, DataSinkError, TransformError
from etl.frame.dynamicframe import DynamicFrame

SCHEMA = "id long, name string, amount double, year int"
ORIGINAL = [(1, "ann", 10.0, 2024), (2, "bob", 20.0, 2024), (3, "cy", 30.0, 2025)]


def _same(actual, expected):
    assert_df_equality(
        actual.select(*expected.columns), expected,
        ignore_row_order=True, ignore_nullable=True,
    )


def _read(glue, path, **options):
    return glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [str(path)], **options},
        format="delta",
    ).toDF()


def _write_delta(glue, df, path, **options):
    return glue.write_data_frame.from_options(
        df, "s3", {"path": str(path), **options}, format="delta"
    )


@pytest.fixture
def original(spark):
    return spark.createDataFrame(ORIGINAL, SCHEMA)


@pytest.fixture
def table(glue, original, tmp_path):
    path = tmp_path / "table"
    _write_delta(glue, original, path, partitionKeys=["year"])
    return path


def _partition_columns(path) -> list[str]:
    """The partition columns recorded in the table's first commit."""
    first_commit = path / "_delta_log" / f"{0:020d}.json"
    for line in first_commit.read_text().splitlines():
        action = json.loads(line)
        if "metaData" in action:
            return action["metaData"]["partitionColumns"]
    raise AssertionError("no metaData action in the first commit")


def test_partitioned_delta_write_and_read(glue, original, table):
    assert (table / "_delta_log").is_dir()
    folders = {p.name for p in table.iterdir() if p.name.startswith("year=")}
    assert folders == {"year=2024", "year=2025"}
    assert _partition_columns(table) == ["year"]
    _same(_read(glue, table), original)


def test_delta_write_with_dynamic_frame_writer(glue, original, tmp_path):
    path = tmp_path / "dyf_table"
    frame = DynamicFrame.fromDF(original, glue, "orig")
    returned = glue.write_dynamic_frame.from_options(
        frame, "s3", {"path": str(path), "partitionKeys": ["year"]}, format="delta"
    )
    assert returned is frame
    assert _partition_columns(path) == ["year"]
    _same(_read(glue, path), original)


def test_delta_overwrite_replaces_rows_in_a_new_version(spark, glue, table):
    extra = spark.createDataFrame([(4, "dee", 40.0, 2025)], SCHEMA)
    _write_delta(glue, extra, table, partitionKeys=["year"], mode="overwrite")
    _same(_read(glue, table), extra)
    assert (table / "_delta_log" / f"{1:020d}.json").is_file()


def test_upsert_updates_matches_and_inserts_new_rows(spark, glue, original, table):
    changes = spark.createDataFrame(
        [(2, "bobby", 25.0, 2024), (4, "dee", 40.0, 2025)], SCHEMA
    )
    assert _write_delta(glue, changes, table, primaryKeys=["id"]) is None
    expected = spark.createDataFrame(
        [(1, "ann", 10.0, 2024), (2, "bobby", 25.0, 2024), (3, "cy", 30.0, 2025),
         (4, "dee", 40.0, 2025)],
        SCHEMA,
    )
    _same(_read(glue, table), expected)
    # time travel: version 0 is the table as first written
    _same(_read(glue, table, versionAsOf=0), original)


def test_upsert_creates_missing_table(spark, glue, original, tmp_path):
    path = tmp_path / "fresh"
    _write_delta(glue, original, path, primaryKeys=["id"], partitionKeys=["year"])
    _same(_read(glue, path), original)
    assert (path / "year=2024").is_dir()


def test_upsert_with_unknown_key_is_config_error(glue, original, table):
    with pytest.raises(ConfigError, match="missing_key"):
        _write_delta(glue, original, table, primaryKeys=["missing_key"])


def test_upsert_with_duplicate_source_keys_fails_and_keeps_table(spark, glue, original, table):
    dupes = spark.createDataFrame([(1, "x", 1.0, 2024), (1, "y", 2.0, 2024)], SCHEMA)
    with pytest.raises(DataSinkError, match=str(table)):
        _write_delta(glue, dupes, table, primaryKeys=["id"])
    _same(_read(glue, table), original)


# ----- mergeDynamicFrame ------------------------------------------------------------------------
def test_merge_dynamic_frame_replaces_by_key_and_keeps_the_rest(spark, glue):
    source = DynamicFrame.fromDF(
        spark.createDataFrame(
            [(1, "ann", 10.0), (2, "bob", 20.0), (3, "cy", 30.0), (3, "cy", 31.0), (4, "dee", 40.0),
             (4, "dee-dup", 41.0)],
            "id long, name string, amount double",
        ),
        glue, "source",
    )
    stage = DynamicFrame.fromDF(
        spark.createDataFrame(
            [(2, "bobby", 25.0), (4, "deedee", 44.0), (5, "eve", 50.0)],
            "id long, name string, amount double",
        ),
        glue, "stage",
    )
    merged = source.mergeDynamicFrame(stage, ["id"])
    expected = spark.createDataFrame(
        [(1, "ann", 10.0), (3, "cy", 30.0), (3, "cy", 31.0),  # unmatched, duplicates kept
         (2, "bobby", 25.0), (4, "deedee", 44.0), (5, "eve", 50.0)],  # staging rows
        "id long, name string, amount double",
    )
    assert_df_equality(merged.toDF(), expected, ignore_row_order=True, ignore_nullable=True)


def test_merge_dynamic_frame_composite_keys_and_null_keys(spark, glue):
    schema = "k1 string, k2 int, v string"
    source = DynamicFrame.fromDF(
        spark.createDataFrame(
            [("a", 1, "old"), ("a", 2, "keep"), (None, 1, "null-old"), ("b", None, "b-null")],
            schema,
        ),
        glue,
    )
    stage = DynamicFrame.fromDF(
        spark.createDataFrame([("a", 1, "new"), (None, 1, "null-new")], schema), glue
    )
    merged = source.mergeDynamicFrame(stage, ["k1", "k2"]).toDF()
    expected = spark.createDataFrame(
        [("a", 2, "keep"), ("b", None, "b-null"), ("a", 1, "new"), (None, 1, "null-new")], schema
    )
    assert_df_equality(merged, expected, ignore_row_order=True, ignore_nullable=True)


def test_merge_dynamic_frame_of_same_lineage(spark, glue):
    base = spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], "id long, v string")
    source = DynamicFrame.fromDF(base, glue)
    stage = DynamicFrame.fromDF(base.where("id = 2").selectExpr("id", "'B' AS v"), glue)
    merged = source.mergeDynamicFrame(stage, ["id"]).toDF()
    expected = spark.createDataFrame([(1, "a"), (2, "B"), (3, "c")], "id long, v string")
    assert_df_equality(merged, expected, ignore_row_order=True, ignore_nullable=True)


def test_merge_dynamic_frame_missing_key_is_transform_error(spark, glue):
    frame = DynamicFrame.fromDF(spark.createDataFrame([(1,)], "id long"), glue)
    with pytest.raises(TransformError, match="nope"):
        frame.mergeDynamicFrame(frame, ["nope"])
