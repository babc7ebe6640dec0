"""Listing partition folders and data files without Spark, and partition key typing (no JVM)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import types as T

from etl.errors import DataSourceError
from etl.io.listing import PartitionDir, data_files, is_hidden, locate, partition_dirs
from etl.io.pruning import HIVE_NULL, partition_keys, partition_schema


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def relative_names(root: Path, files) -> list[str]:
    return sorted(str(Path(f.path).relative_to(root)) for f in files)


# --------------------------------------------------------------------------------------------
# locate
# --------------------------------------------------------------------------------------------


def test_locate_local_and_file_uri(tmp_path):
    plain = locate(str(tmp_path) + "/")
    assert plain.root == str(tmp_path)
    assert plain.prefix == ""
    uri = locate(f"file://{tmp_path}/with%20space")
    assert uri.root == f"{tmp_path}/with space"
    assert uri.spark_path(uri.root) == f"{tmp_path}/with space"


# --------------------------------------------------------------------------------------------
# partition_dirs
# --------------------------------------------------------------------------------------------


@pytest.fixture
def partitioned(tmp_path: Path) -> Path:
    root = tmp_path / "sales"
    touch(root / "year=2024" / "month=1" / "part-0.parquet")
    touch(root / "year=2024" / "month=12" / "part-0.parquet")
    touch(root / "year=2023" / "month=12" / "part-0.parquet")
    touch(root / "_SUCCESS", "")
    # hidden folders: Spark/Glue bookkeeping, never partitions
    touch(root / "_temporary" / "0" / "year=1999" / "month=1" / "part-0.parquet")
    touch(root / ".staging" / "year=1998" / "month=1" / "part-0.parquet")
    touch(root / "year=2024" / "_temporary" / "part-9.parquet")
    return root


def test_partition_dirs_nested_two_levels(partitioned):
    found = partition_dirs(locate(str(partitioned)))
    assert [p.values for p in found] == [
        (("year", "2023"), ("month", "12")),
        (("year", "2024"), ("month", "1")),
        (("year", "2024"), ("month", "12")),
    ]
    assert [p.path for p in found] == [
        str(partitioned / "year=2023" / "month=12"),
        str(partitioned / "year=2024" / "month=1"),
        str(partitioned / "year=2024" / "month=12"),
    ]
    assert all(isinstance(p, PartitionDir) for p in found)


def test_partition_dirs_skips_hidden_folders(partitioned):
    found = partition_dirs(locate(str(partitioned)))
    years = {dict(p.values)["year"] for p in found}
    assert years == {"2023", "2024"}  # not 1999 (_temporary) nor 1998 (.staging)
    assert not any("_temporary" in p.path or ".staging" in p.path for p in found)


def test_dot_folders_are_never_partitions(tmp_path):
    # what an interrupted overwrite of out/year=2024 leaves beside it (see etl.io.writer)
    touch(tmp_path / "year=2024" / "f.parquet")
    touch(tmp_path / ".year=2024.staging-0a1b2c" / "f.parquet")
    touch(tmp_path / ".year=2024.previous-3d4e5f" / "f.parquet")
    found = partition_dirs(locate(str(tmp_path)))
    assert [p.values for p in found] == [(("year", "2024"),)]
    assert partition_keys(found) == ["year"]
    files = data_files(locate(str(tmp_path)))
    assert relative_names(tmp_path, files) == ["year=2024/f.parquet"]


def test_partition_values_are_url_decoded(tmp_path):
    touch(tmp_path / "city=New%20York" / "day=2024-01-01%2000%3A00%3A00" / "f.csv")
    touch(tmp_path / "city=a%2Fb" / "day=x" / "f.csv")
    found = partition_dirs(locate(str(tmp_path)))
    assert [p.values for p in found] == [
        (("city", "New York"), ("day", "2024-01-01 00:00:00")),
        (("city", "a/b"), ("day", "x")),
    ]
    # the path keeps the folder name as it is on disk
    assert found[0].path.endswith("city=New%20York/day=2024-01-01%2000%3A00%3A00")


def test_partition_value_may_contain_equals_and_be_empty(tmp_path):
    touch(tmp_path / "expr=a=b" / "f.csv")
    touch(tmp_path / "expr=" / "f.csv")
    found = partition_dirs(locate(str(tmp_path)))
    assert sorted(p.values for p in found) == [(("expr", ""),), (("expr", "a=b"),)]


def test_partition_dirs_empty_when_not_partitioned(tmp_path):
    touch(tmp_path / "a.csv")
    touch(tmp_path / "sub" / "b.csv")
    assert partition_dirs(locate(str(tmp_path))) == []


def test_partition_dirs_empty_for_an_empty_folder(tmp_path):
    assert partition_dirs(locate(str(tmp_path))) == []


def test_partition_dirs_missing_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataSourceError, match="path not found") as info:
        partition_dirs(locate(str(missing)))
    assert str(missing) in str(info.value)


def test_partition_dirs_ignores_plain_subfolders_of_a_partition(tmp_path):
    touch(tmp_path / "year=2024" / "extra" / "f.csv")
    touch(tmp_path / "year=2024" / "f.csv")
    found = partition_dirs(locate(str(tmp_path)))
    assert [p.values for p in found] == [(("year", "2024"),)]


# --------------------------------------------------------------------------------------------
# data_files
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for rel in [
        "a.csv", "b.json", "c.tmp", "d.bak",
        "logs/x.json", "logs/y.csv", "logs/deep/z.json", "logs/deep/w.tmp",
        "other/q.csv",
    ]:
        touch(root / rel)
    # hidden names Spark and Glue skip
    for rel in ["_SUCCESS", ".a.csv.crc", "logs/.x.json.crc", "_temporary/0/part-1.csv",
                "logs/_temporary/part-2.csv", ".hidden/h.csv"]:
        touch(root / rel)
    return root


def test_data_files_skips_hidden_names(tree):
    names = relative_names(tree, data_files(locate(str(tree))))
    assert names == sorted([
        "a.csv", "b.json", "c.tmp", "d.bak",
        "logs/x.json", "logs/y.csv", "logs/deep/z.json", "logs/deep/w.tmp",
        "other/q.csv",
    ])


def test_data_files_keeps_underscore_partition_folders(tmp_path):
    touch(tmp_path / "_part=1" / "f.csv")  # '=' makes it a partition, as in Spark
    assert relative_names(tmp_path, data_files(locate(str(tmp_path)))) == ["_part=1/f.csv"]


def test_recurse_false_lists_only_the_top_level(tree):
    names = relative_names(tree, data_files(locate(str(tree)), recurse=False))
    assert names == ["a.csv", "b.json", "c.tmp", "d.bak"]


def test_single_star_stays_within_a_folder(tree):
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["*.json"]))
    assert "b.json" not in names
    # '*' does not cross '/', so nested JSON files stay
    assert "logs/x.json" in names and "logs/deep/z.json" in names


def test_folder_then_star_excludes_only_that_folder_level(tree):
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["logs/*"]))
    assert "logs/x.json" not in names and "logs/y.csv" not in names
    assert "logs/deep/z.json" in names and "logs/deep/w.tmp" in names
    assert "a.csv" in names


def test_double_star_crosses_folders(tree):
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["**.json"]))
    assert not [n for n in names if n.endswith(".json")]
    assert "a.csv" in names and "logs/y.csv" in names

    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["logs/**"]))
    assert names == ["a.csv", "b.json", "c.tmp", "d.bak", "other/q.csv"]


def test_brace_alternatives(tree):
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["**.{tmp,bak}"]))
    assert names == sorted([
        "a.csv", "b.json", "logs/x.json", "logs/y.csv", "logs/deep/z.json", "other/q.csv",
    ])
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["{logs,other}/*.csv"]))
    assert "logs/y.csv" not in names and "other/q.csv" not in names
    assert "a.csv" in names


def test_brace_alternatives_may_hold_wildcards(tree):
    # Unix/Java glob: each alternative is itself a pattern
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["{*.tmp,logs/**}"]))
    assert names == ["a.csv", "b.json", "d.bak", "other/q.csv"]


def test_question_mark_and_character_class(tree):
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["?.csv", "[bc].*"]))
    assert names == sorted(["d.bak", "logs/x.json", "logs/y.csv", "logs/deep/z.json",
                            "logs/deep/w.tmp", "other/q.csv"])


def test_exclusions_match_whole_relative_path(tree):
    # 'x.json' alone does not match 'logs/x.json'
    names = relative_names(tree, data_files(locate(str(tree)), exclusions=["x.json"]))
    assert "logs/x.json" in names


def test_several_exclusions_combine(tree):
    names = relative_names(
        tree, data_files(locate(str(tree)), exclusions=["**.json", "**.tmp", "**.bak", "other/**"])
    )
    assert names == ["a.csv", "logs/y.csv"]


def test_data_files_of_a_single_file(tree):
    files = data_files(locate(str(tree / "a.csv")))
    assert [f.path for f in files] == [str(tree / "a.csv")]


def test_data_files_missing_path(tmp_path):
    with pytest.raises(DataSourceError, match="path not found"):
        data_files(locate(str(tmp_path / "missing")))


@pytest.mark.parametrize(
    ("name", "hidden"),
    [("_SUCCESS", True), (".x.crc", True), ("_temporary", True), ("_delta_log", True),
     (".year=2024.staging-0a1b2c", True), ("part-0.csv", False), ("year=2024", False),
     ("_col=1", False)],
)
def test_is_hidden(name, hidden):
    assert is_hidden(name) is hidden


# --------------------------------------------------------------------------------------------
# pruning.partition_schema / partition_keys (pure Python; no SparkSession is needed)
# --------------------------------------------------------------------------------------------


def pdirs(*rows: dict[str, str]) -> list[PartitionDir]:
    return [
        PartitionDir("/" + "/".join(f"{k}={v}" for k, v in row.items()), tuple(row.items()))
        for row in rows
    ]


def test_partition_schema_infers_types():
    schema = partition_schema(pdirs(
        {"year": "2024", "big": "3000000000", "price": "1.5", "region": "north", "mixed": "1"},
        {"year": "2023", "big": "1", "price": "2", "region": "south", "mixed": "x"},
    ))
    assert schema == T.StructType([
        T.StructField("year", T.IntegerType(), True),
        T.StructField("big", T.LongType(), True),
        T.StructField("price", T.DoubleType(), True),
        T.StructField("region", T.StringType(), True),
        T.StructField("mixed", T.StringType(), True),
    ])


def test_partition_schema_negative_and_boundary_ints():
    schema = partition_schema(pdirs({"n": "-5"}, {"n": str(2**31 - 1)}))
    assert schema["n"].dataType == T.IntegerType()
    schema = partition_schema(pdirs({"n": "-5"}, {"n": str(2**31)}))
    assert schema["n"].dataType == T.LongType()
    schema = partition_schema(pdirs({"n": str(-(2**31) - 1)}))
    assert schema["n"].dataType == T.LongType()


def test_partition_schema_ignores_hive_null_when_typing():
    schema = partition_schema(pdirs({"month": "1"}, {"month": HIVE_NULL}))
    assert schema["month"].dataType == T.IntegerType()


def test_partition_schema_of_nothing_is_empty():
    assert partition_schema([]) == T.StructType([])


def test_partition_keys_in_order():
    assert partition_keys(pdirs({"year": "1", "month": "2"}, {"year": "3", "month": "4"})) == [
        "year", "month"
    ]
    assert partition_keys([]) == []


@pytest.mark.parametrize(
    "other",
    [{"month": "1", "year": "2024"}, {"year": "2024"}, {"year": "2024", "day": "1"}],
)
def test_partition_keys_rejects_inconsistent_folders(other):
    dirs = pdirs({"year": "2024", "month": "1"}, other)
    with pytest.raises(DataSourceError, match="inconsistent partition folders") as info:
        partition_keys(dirs)
    assert dirs[1].path in str(info.value)
    with pytest.raises(DataSourceError):
        partition_schema(dirs)


def test_partition_keys_from_a_real_listing(tmp_path):
    touch(tmp_path / "year=2024" / "month=1" / "f")
    touch(tmp_path / "year=2024" / "f2")  # a file beside the month folders: fine
    touch(tmp_path / "month=2" / "year=2024" / "f")
    with pytest.raises(DataSourceError, match="inconsistent"):
        partition_keys(partition_dirs(locate(str(tmp_path))))
