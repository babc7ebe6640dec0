"""Hive-partitioned writes, partition pruning on read, write modes and failure safety."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from etl.errors import ConfigError, DataSinkError, DataSourceError
from etl.frame.dynamicframe import DynamicFrame

from .conftest import write_text

COLUMNS = ["id", "name", "amount", "year", "month"]
ALL_PARTITIONS = {"year=2024/month=1", "year=2024/month=2", "year=2025/month=1"}


def _write(glue, df, path, fmt="parquet", **options):
    frame = DynamicFrame.fromDF(df, glue, "out")
    return glue.write_dynamic_frame.from_options(
        frame, "s3", {"path": str(path), **options}, format=fmt
    )


def _read(glue, path, fmt="parquet", predicate=""):
    return glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [str(path)]},
        format=fmt,
        push_down_predicate=predicate,
    )


def _same(actual, expected):
    assert_df_equality(
        actual.select(*COLUMNS), expected.select(*COLUMNS),
        ignore_row_order=True, ignore_nullable=True,
    )


def _partition_folders(path: Path) -> set[str]:
    return {
        str(p.relative_to(path))
        for p in path.glob("*/*")
        if p.is_dir() and not p.name.startswith((".", "_"))
    }


def test_partitioned_write_creates_hive_folders(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    returned = _write(glue, sales_df, out, partitionKeys=["year", "month"])
    assert isinstance(returned, DynamicFrame)
    assert _partition_folders(out) == ALL_PARTITIONS
    # partition values live in folder names, not in the files
    data_files = [p for p in out.rglob("*.parquet")]
    assert data_files and all("year=" in str(p) and "month=" in str(p) for p in data_files)
    result = glue.write_results[-1]
    assert result.partitions_written == 3
    assert result.partition_keys == ["year", "month"]


def test_partition_keys_as_json_string(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys='["year"]')
    assert {p.name for p in out.iterdir() if p.is_dir()} == {"year=2024", "year=2025"}


def test_read_back_all_partitions(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    _same(_read(glue, out).toDF(), sales_df)


def test_push_down_predicate_prunes_rows_and_files(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    frame = _read(glue, out, predicate="year = 2024 AND month = 2")
    df = frame.toDF()
    _same(df, sales_df.where("year = 2024 AND month = 2"))
    files = df.inputFiles()
    assert files
    assert all("year=2024/month=2/" in f for f in files), files


def test_push_down_predicate_with_in_and_string_compare(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    df = _read(glue, out, predicate="year IN (2025) OR (year = '2024' AND month < 2)").toDF()
    _same(df, sales_df.where("year = 2025 OR (year = 2024 AND month = 1)"))
    assert not any("month=2/" in f for f in df.inputFiles())


def test_push_down_predicate_on_partitioned_csv(spark, glue, sales_df, tmp_path):
    out = tmp_path / "sales_csv"
    _write(glue, sales_df, out, fmt="csv", partitionKeys=["year", "month"])
    dyf = glue.create_dynamic_frame.from_options(
        "s3", {"paths": [str(out)]}, format="csv", format_options={"withHeader": True},
        push_down_predicate="year = 2025",
    )
    df = dyf.toDF()
    assert sorted(r["id"] for r in df.collect()) == [5, 6]
    assert {r["year"] for r in df.collect()} == {2025}
    assert all("year=2025/" in f for f in df.inputFiles())


def test_push_down_predicate_on_escaped_string_partition_values(spark, glue, tmp_path):
    df = spark.createDataFrame(
        [(1, "O'Brien"), (2, "a b"), (3, "x=y"), (4, "plain")], "id long, owner string"
    )
    out = tmp_path / "owners"
    _write(glue, df, out, partitionKeys=["owner"])
    owners = dict(df.collect())
    for predicate, ids in [("owner = \"O'Brien\"", [1]), ("owner = 'a b'", [2]),
                           ("owner = 'x=y'", [3]), ("owner IN ('plain', 'a b')", [2, 4])]:
        rows = _read(glue, out, predicate=predicate).toDF().collect()
        assert sorted(r["id"] for r in rows) == ids, predicate
        assert all(r["owner"] == owners[r["id"]] for r in rows)


def test_push_down_predicate_with_null_partition(spark, glue, tmp_path):
    df = spark.createDataFrame([(1, 1), (2, None), (3, 2)], "id long, month int")
    out = tmp_path / "nulls"
    _write(glue, df, out, partitionKeys=["month"])
    assert (out / "month=__HIVE_DEFAULT_PARTITION__").is_dir()
    nulls = _read(glue, out, predicate="month IS NULL").toDF()
    assert_df_equality(nulls.select("id", "month"), df.where("month IS NULL"),
                       ignore_nullable=True)
    ones = _read(glue, out, predicate="month <= 1").toDF()
    assert_df_equality(ones.select("id", "month"), df.where("month = 1"), ignore_nullable=True)


def test_predicate_over_non_partition_column_is_source_error(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    with pytest.raises(DataSourceError, match="amount"):
        _read(glue, out, predicate="amount > 10")


def test_predicate_on_unpartitioned_data_is_source_error(glue, sales_df, tmp_path):
    out = tmp_path / "flat"
    _write(glue, sales_df, out)
    with pytest.raises(DataSourceError, match="partition"):
        _read(glue, out, predicate="year = 2024")


def test_predicate_matching_nothing_gives_empty_frame(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    frame = _read(glue, out, predicate="year = 1999")
    df = frame.toDF()
    assert sorted(df.columns) == sorted(COLUMNS)
    assert df.count() == 0
    assert frame.count() == 0
    assert dict(df.dtypes)["amount"] == "double"
    assert dict(df.dtypes)["year"] == "int"


def test_append_is_the_default_mode(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df.where("id <= 3"), out, partitionKeys=["year", "month"])
    _write(glue, sales_df.where("id > 3"), out, partitionKeys=["year", "month"])
    _same(_read(glue, out).toDF(), sales_df)
    _write(glue, sales_df.where("id = 1"), out, partitionKeys=["year", "month"], mode="append")
    assert _read(glue, out).count() == 7


def test_overwrite_replaces_everything(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    replacement = sales_df.where("year = 2024 AND month = 1").withColumn("amount", F.lit(1.0))
    _write(glue, replacement, out, partitionKeys=["year", "month"], mode="overwrite")
    _same(_read(glue, out).toDF(), replacement)
    assert _partition_folders(out) == {"year=2024/month=1"}
    assert [p.name for p in out.parent.iterdir()] == ["sales"]  # no staging or backup left


def test_overwrite_of_missing_target_creates_it(glue, sales_df, tmp_path):
    out = tmp_path / "new"
    _write(glue, sales_df, out, mode="overwrite")
    _same(_read(glue, out).toDF(), sales_df)


def test_dynamic_partition_overwrite_keeps_other_partitions(glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    new_2024_2 = sales_df.where("year = 2024 AND month = 2 AND id = 3").withColumn(
        "amount", F.lit(333.0)
    )
    _write(
        glue, new_2024_2, out,
        partitionKeys=["year", "month"], mode="overwrite", partitionOverwriteMode="dynamic",
    )
    expected = sales_df.where("NOT (year = 2024 AND month = 2)").unionByName(new_2024_2)
    _same(_read(glue, out).toDF(), expected)
    assert _partition_folders(out) == ALL_PARTITIONS


def test_bad_partition_overwrite_mode_is_config_error(glue, sales_df, tmp_path):
    with pytest.raises(ConfigError, match="partitionOverwriteMode"):
        _write(glue, sales_df, tmp_path / "x", mode="overwrite", partitionOverwriteMode="sometimes")


def test_unknown_partition_key_is_config_error(glue, sales_df, tmp_path):
    with pytest.raises(ConfigError, match="day"):
        _write(glue, sales_df, tmp_path / "x", partitionKeys=["year", "day"])


def _failing(df):
    """``df`` with an ``id`` column whose evaluation raises at id 7."""
    return df.withColumn(
        "id", F.when(F.col("id") == 7, F.raise_error(F.lit("boom"))).otherwise(F.col("id"))
    )


def _bad_frame(spark):
    base = spark.range(1, 11).select(
        F.col("id"),
        F.concat(F.lit("n"), F.col("id").cast("string")).alias("name"),
        (F.col("id") * 1.5).alias("amount"),
        F.lit(2024).alias("year"),
        ((F.col("id") % 2) + 1).cast("int").alias("month"),
    )
    return _failing(base)


def _visible(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if not p.name.startswith((".", "_")))


@pytest.mark.parametrize("partitioned", [False, True])
def test_failed_overwrite_leaves_old_data(spark, glue, sales_df, tmp_path, partitioned):
    out = tmp_path / "sales"
    keys = {"partitionKeys": ["year", "month"]} if partitioned else {}
    _write(glue, sales_df, out, **keys)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))

    with pytest.raises(DataSinkError, match="boom"):
        _write(glue, _bad_frame(spark), out, mode="overwrite", **keys)

    _same(_read(glue, out).toDF(), sales_df)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    # nothing left beside or inside the target: no staging, backup or _temporary folders
    assert [p.name for p in tmp_path.iterdir()] == ["sales"]
    assert not list(out.rglob("*staging*")) and not list(out.rglob("_temporary"))


def test_failed_dynamic_overwrite_leaves_every_partition(spark, glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    with pytest.raises(DataSinkError):
        _write(
            glue, _bad_frame(spark), out,
            partitionKeys=["year", "month"], mode="overwrite", partitionOverwriteMode="dynamic",
        )
    _same(_read(glue, out).toDF(), sales_df)
    assert _visible(tmp_path) == ["sales"]
    assert _visible(out) == ["year=2024", "year=2025"]
    assert [p.name for p in tmp_path.iterdir()] == ["sales"]


def test_failed_append_adds_nothing(spark, glue, sales_df, tmp_path):
    out = tmp_path / "sales"
    _write(glue, sales_df, out, partitionKeys=["year", "month"])
    with pytest.raises(DataSinkError):
        _write(glue, _bad_frame(spark), out, partitionKeys=["year", "month"])
    _same(_read(glue, out).toDF(), sales_df)


# ----- pruning combined with exclusions ----------------------------------------------------------
def _hive_csv(root: Path) -> None:
    write_text(root / "year=2024" / "month=1" / "a.csv", "id,name\n1,a\n")
    write_text(root / "year=2024" / "month=1" / "late.tmp", "id,name\n91,tmp\n")
    write_text(root / "year=2024" / "month=2" / "b.csv", "id,name\n2,b\n")
    write_text(root / "year=2024" / "month=2" / "only.tmp", "id,name\n92,tmp\n")
    write_text(root / "year=2025" / "month=1" / "c.csv", "id,name\n3,c\n")


def _read_hive_csv(glue, root, predicate, exclusions):
    return glue.create_dynamic_frame.from_options(
        "s3", {"paths": [str(root)], "exclusions": exclusions}, format="csv",
        format_options={"withHeader": True}, push_down_predicate=predicate,
    ).toDF()


def test_exclusions_apply_inside_pruned_partitions(glue, tmp_path):
    root = tmp_path / "hive"
    _hive_csv(root)
    df = _read_hive_csv(glue, root, "year = 2024", '["**.tmp"]')
    assert sorted((r["id"], r["year"], r["month"]) for r in df.collect()) == [
        (1, 2024, 1), (2, 2024, 2)
    ]
    assert not any(f.endswith(".tmp") for f in df.inputFiles())


def test_exclusions_removing_every_pruned_file_do_not_read_them_anyway(glue, tmp_path):
    # Regression: when the exclusions removed every file of the selected partitions the reader
    # fell back to reading all of them, excluded files included.
    root = tmp_path / "hive"
    _hive_csv(root)
    with pytest.raises(DataSourceError, match="exclusions"):
        _read_hive_csv(glue, root, "year = 2024 AND month = 2", '["**/b.csv", "**.tmp"]')
