"""Crawled tables as Spark sees them: Spark SQL over the registered catalog, from_catalog reads
with partition pruning, and sinks that keep the catalog up to date."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from chispa import assert_df_equality

from etl.catalog.spark import register
from etl.context import GlueContext
from etl.frame.dynamicframe import DynamicFrame

from .helpers import (
    columns,
    crawl,
    partition_values,
    table,
    write_csv,
    write_json_lines,
    write_parquet,
)


def _rows(df, *cols):
    return sorted(tuple(r) for r in df.select(*cols).collect())


@pytest.fixture
def lake(catalog, tmp_path: Path):
    """Partitioned Parquet (year/month, month=01 style), a CSV table and plain-folder JSON."""
    root = tmp_path / "lake"
    for year in (2023, 2024):
        for month in (1, 2, 3):
            ids = [year * 1000 + month * 10 + i for i in range(2)]
            write_parquet(
                root / "sales" / f"year={year}" / f"month={month:02d}" / "part-0.parquet",
                {"id": ids, "amount": [float(i % 100) for i in ids], "sku": [f"s{i}" for i in ids]},
            )
    write_csv(
        root / "people" / "people.csv",
        [
            [1, "ann", 31.5, "2024-01-02"],
            [2, "bob", 27.0, "2023-12-31"],
            [3, "cy", 45.25, "2024-02-29"],
        ],
        header=["id", "name", "score", "joined"],
    )
    for year, region in (("2024", "eu"), ("2024", "us"), ("2025", "eu")):
        write_json_lines(
            root / "events" / year / region / "e.json",
            [
                {"kind": "click", "n": i, "region_code": region.upper()}
                for i in range(int(year) - 2022)
            ],
        )
    result = crawl(catalog, root, DatabaseName="lake")
    assert sorted(result.tables_created) == ["events", "people", "sales"], result.plans
    return root


def test_spark_sql_over_crawled_parquet_prunes_by_partition(spark, catalog, lake):
    registration = register(spark, catalog, ["lake"])
    assert sorted(registration.registered) == ["lake.events", "lake.people", "lake.sales"]

    df = spark.sql("SELECT id, year, month FROM lake.sales WHERE year = 2024")

    assert _rows(df, "id", "year", "month") == [
        (2024000 + m * 10 + i, 2024, m) for m in (1, 2, 3) for i in range(2)
    ]
    assert dict(df.dtypes) == {"id": "bigint", "year": "int", "month": "int"}
    total = spark.sql(
        "SELECT count(*) AS n, sum(amount) AS s FROM lake.sales WHERE year = 2023 AND month = 2"
    )
    assert total.collect()[0].asDict() == {"n": 2, "s": float(2023020 % 100 + 2023021 % 100)}


def test_spark_sql_over_crawled_csv(spark, catalog, lake):
    register(spark, catalog, ["lake"])

    df = spark.sql("SELECT id, name, score, joined FROM lake.people WHERE score > 30 ORDER BY id")

    assert [tuple(r) for r in df.collect()] == [
        (1, "ann", 31.5, datetime.date(2024, 1, 2)),
        (3, "cy", 45.25, datetime.date(2024, 2, 29)),
    ]
    assert dict(df.dtypes) == {
        "id": "bigint",
        "name": "string",
        "score": "double",
        "joined": "date",
    }


def test_spark_sql_over_plain_partition_folders(spark, catalog, lake):
    register(spark, catalog, ["lake"])

    df = spark.sql("SELECT partition_0, partition_1, count(*) AS n FROM lake.events GROUP BY 1, 2")

    assert _rows(df, "partition_0", "partition_1", "n") == [
        (2024, "eu", 2),
        (2024, "us", 2),
        (2025, "eu", 3),
    ]


def test_from_catalog_push_down_predicate_reads_only_that_partition(spark, catalog, lake):
    glue = GlueContext(spark, catalog=catalog)

    dyf = glue.create_dynamic_frame.from_catalog(
        database="lake", table_name="sales", push_down_predicate="month = 2"
    )
    df = dyf.toDF()

    assert _rows(df, "id", "year", "month") == [
        (2023020, 2023, 2),
        (2023021, 2023, 2),
        (2024020, 2024, 2),
        (2024021, 2024, 2),
    ]
    assert all("month=02" in f for f in df.inputFiles())
    assert len(df.inputFiles()) == 2


def test_from_catalog_catalog_partition_predicate(spark, catalog, lake):
    glue = GlueContext(spark, catalog=catalog)

    df = glue.create_dynamic_frame.from_catalog(
        database="lake",
        table_name="sales",
        additional_options={"catalogPartitionPredicate": "month = '2'"},
    ).toDF()

    assert _rows(df, "year", "month") == [(2023, 2), (2023, 2), (2024, 2), (2024, 2)]
    assert len(df.inputFiles()) == 2

    both = glue.create_dynamic_frame.from_catalog(
        database="lake",
        table_name="sales",
        push_down_predicate="year = 2024",
        additional_options={"catalogPartitionPredicate": "month >= 2"},
    ).toDF()
    assert _rows(both, "year", "month") == [(2024, 2), (2024, 2), (2024, 3), (2024, 3)]


def test_from_catalog_reads_plain_partition_folders_with_their_values(spark, catalog, lake):
    glue = GlueContext(spark, catalog=catalog)

    df = glue.create_dynamic_frame.from_catalog(database="lake", table_name="events").toDF()
    assert _rows(df, "partition_0", "partition_1", "region_code", "n") == [
        (2024, "eu", "EU", 0),
        (2024, "eu", "EU", 1),
        (2024, "us", "US", 0),
        (2024, "us", "US", 1),
        (2025, "eu", "EU", 0),
        (2025, "eu", "EU", 1),
        (2025, "eu", "EU", 2),
    ]

    pruned = glue.create_dynamic_frame.from_catalog(
        database="lake", table_name="events", push_down_predicate="partition_1 = 'us'"
    ).toDF()
    assert _rows(pruned, "partition_0", "region_code") == [(2024, "US"), (2024, "US")]


def test_from_catalog_reads_widened_parquet_files(spark, catalog, tmp_path: Path):
    root = tmp_path / "wide"
    shared = [("a", pa.string()), ("b", pa.string()), ("c", pa.string())]
    write_parquet(
        root / "p=1" / "a.parquet",
        {"id": [1, 2], "a": ["x", "y"], "b": ["x", "y"], "c": ["x", "y"]},
        schema=pa.schema([("id", pa.int32()), *shared]),
    )
    write_parquet(
        root / "p=2" / "a.parquet",
        {"id": [2**40], "a": ["z"], "b": ["z"], "c": ["z"], "note": ["big"]},
        schema=pa.schema([("id", pa.int64()), *shared, ("note", pa.string())]),
    )
    crawl(catalog, root)
    assert columns(table(catalog, "wide")) == {
        "id": "bigint",
        "a": "string",
        "b": "string",
        "c": "string",
        "note": "string",
    }
    glue = GlueContext(spark, catalog=catalog)

    # Spark alone would take one file's schema: no 'note', and int32 vs int64 fails the read.
    df = glue.create_dynamic_frame.from_catalog(database="db", table_name="wide").toDF()

    assert _rows(df, "id", "a", "note", "p") == [
        (1, "x", None, 1),
        (2, "y", None, 1),
        (2**40, "z", "big", 2),
    ]
    assert dict(df.dtypes)["id"] == "bigint"


def test_sink_with_enable_update_catalog_creates_then_evolves_the_table(
    spark, catalog, tmp_path: Path
):
    glue = GlueContext(spark, catalog=catalog)
    out = tmp_path / "facts"

    def write(df):
        sink = glue.getSink(
            connection_type="s3",
            path=str(out),
            enableUpdateCatalog=True,
            updateBehavior="UPDATE_IN_DATABASE",
            partitionKeys=["year", "month"],
        )
        sink.setFormat("glueparquet")
        sink.setCatalogInfo(catalogDatabase="wh", catalogTableName="facts")
        sink.writeFrame(DynamicFrame.fromDF(df, glue, "facts"))

    write(
        spark.createDataFrame(
            [(1, "a", 2024, 1), (2, "b", 2024, 2)], "id long, name string, year int, month int"
        )
    )
    t = table(catalog, "facts", "wh")
    assert columns(t) == {"id": "bigint", "name": "string"}
    assert t["PartitionKeys"] == [{"Name": "year", "Type": "int"}, {"Name": "month", "Type": "int"}]
    assert t["StorageDescriptor"]["Location"] == str(out)
    assert partition_values(catalog, "facts", "wh") == [["2024", "1"], ["2024", "2"]]
    assert len(catalog.get_table_versions("wh", "facts")["TableVersions"]) == 1

    write(
        spark.createDataFrame(
            [(3, "c", 9.5, 2025, 1)], "id long, name string, score double, year int, month int"
        )
    )
    t = table(catalog, "facts", "wh")
    assert columns(t) == {"id": "bigint", "name": "string", "score": "double"}
    assert len(catalog.get_table_versions("wh", "facts")["TableVersions"]) == 2
    assert partition_values(catalog, "facts", "wh") == [["2024", "1"], ["2024", "2"], ["2025", "1"]]

    back = glue.create_dynamic_frame.from_catalog(database="wh", table_name="facts").toDF()
    expected = spark.createDataFrame(
        [(1, "a", None, 2024, 1), (2, "b", None, 2024, 2), (3, "c", 9.5, 2025, 1)],
        "id long, name string, score double, year int, month int",
    )
    assert_df_equality(
        back.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_write_dynamic_frame_from_catalog_appends_to_a_crawled_table(
    spark, catalog, tmp_path: Path
):
    root = tmp_path / "items"
    write_parquet(root / "a.parquet", {"sku": ["a", "b"], "qty": [1, 2]})
    crawl(catalog, root)
    glue = GlueContext(spark, catalog=catalog)
    more = spark.createDataFrame([("c", 3)], "sku string, qty long")

    glue.write_dynamic_frame.from_catalog(
        frame=DynamicFrame.fromDF(more, glue, "more"), database="db", table_name="items"
    )

    back = glue.create_dynamic_frame.from_catalog(database="db", table_name="items").toDF()
    assert _rows(back, "sku", "qty") == [("a", 1), ("b", 2), ("c", 3)]
    assert (root / "a.parquet").exists() and len(list(root.glob("*.parquet"))) >= 2  # appended


def test_write_dynamic_frame_from_catalog_with_update_catalog_adds_partitions(spark, catalog, lake):
    glue = GlueContext(spark, catalog=catalog)
    more = spark.createDataFrame(
        [(9, 1.0, "new", 2025, 1)], "id long, amount double, sku string, year int, month int"
    )

    glue.write_dynamic_frame.from_catalog(
        frame=DynamicFrame.fromDF(more, glue, "more"),
        database="lake",
        table_name="sales",
        additional_options={"enableUpdateCatalog": True},
    )

    assert ["2025", "1"] in partition_values(catalog, "sales", "lake")
    df = glue.create_dynamic_frame.from_catalog(
        database="lake", table_name="sales", push_down_predicate="year = 2025"
    ).toDF()
    assert _rows(df, "id", "sku", "year", "month") == [(9, "new", 2025, 1)]
    total = (
        glue.create_dynamic_frame.from_catalog(database="lake", table_name="sales").toDF().count()
    )
    assert total == 13
