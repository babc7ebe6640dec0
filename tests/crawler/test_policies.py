"""Re-crawls under Glue's SchemaChangePolicy and RecrawlPolicy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from etl.catalog.crawls import CrawlStore
from etl.errors import ConfigError

from .helpers import (
    columns,
    crawl,
    partition_values,
    spec_of,
    table,
    table_names,
    write_json_lines,
    write_parquet,
)

NEW_ONLY = {
    "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
    "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
}


def _order(i: int, **extra) -> dict:
    return {"order_id": i, "customer": f"c{i}", "amount": i * 1.5, "paid": True, **extra}


def _lake(root: Path) -> Path:
    """Three tables of different shapes: orders (JSON by dt), users (JSON), items (Parquet)."""
    write_json_lines(root / "orders" / "dt=1" / "a.json", [_order(1), _order(2)])
    write_json_lines(root / "orders" / "dt=2" / "a.json", [_order(3)])
    write_json_lines(root / "users" / "u.json", [{"uid": 1, "name": "ann", "age": 41}])
    write_parquet(root / "items" / "i.parquet", {"sku": ["a", "b"], "price": [1.0, 2.0]})
    return root


def _versions(catalog, name: str) -> int:
    return len(catalog.get_table_versions("db", name)["TableVersions"])


def test_recrawl_with_a_new_column_updates_the_table_and_archives_a_version(
    catalog, tmp_path: Path
):
    root = _lake(tmp_path / "lake")
    crawl(catalog, root)
    assert _versions(catalog, "orders") == 1

    write_json_lines(root / "orders" / "dt=3" / "a.json", [_order(4, coupon="X1")])
    result = crawl(catalog, root, SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE"})

    assert result.tables_updated == ["orders"]
    assert sorted(result.tables_unchanged) == ["items", "users"]
    assert result.partitions_added == 1
    assert list(columns(table(catalog, "orders"))) == [
        "order_id",
        "customer",
        "amount",
        "paid",
        "coupon",
    ]
    versions = catalog.get_table_versions("db", "orders")["TableVersions"]
    assert len(versions) == 2
    assert "coupon" not in columns(versions[-1]["Table"])  # the original definition is archived
    assert partition_values(catalog, "orders") == [["1"], ["2"], ["3"]]
    assert _versions(catalog, "users") == 1


def test_update_behavior_log_leaves_the_table_and_logs_the_change(catalog, tmp_path: Path):
    root = _lake(tmp_path / "lake")
    crawl(catalog, root)
    before = table(catalog, "orders")

    write_json_lines(root / "orders" / "dt=3" / "a.json", [_order(4, coupon="X1")])
    result = crawl(catalog, root, SchemaChangePolicy={"UpdateBehavior": "LOG"})

    assert result.tables_updated == []
    assert any(line.startswith("orders:") and "LOG" in line for line in result.logged_changes), (
        result.logged_changes
    )
    after = table(catalog, "orders")
    assert after["StorageDescriptor"]["Columns"] == before["StorageDescriptor"]["Columns"]
    assert after["VersionId"] == before["VersionId"]
    assert _versions(catalog, "orders") == 1


def test_recrawl_without_changes_archives_no_version(catalog, tmp_path: Path):
    root = _lake(tmp_path / "lake")
    first = crawl(catalog, root)
    second = crawl(catalog, root)

    assert sorted(first.tables_created) == ["items", "orders", "users"]
    assert second.tables_created == [] and second.tables_updated == []
    assert sorted(second.tables_unchanged) == ["items", "orders", "users"]
    assert second.partitions_added == 0 and second.partitions_deleted == 0
    assert all(_versions(catalog, n) == 1 for n in ("items", "orders", "users"))
    runs = CrawlStore(catalog).runs("c")
    assert [r["TablesCreated"] for r in runs] == [0, 3]  # newest first


@pytest.mark.parametrize("behavior", ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"])
def test_a_deleted_folder_follows_the_delete_behavior(catalog, tmp_path: Path, behavior: str):
    root = _lake(tmp_path / "lake")
    crawl(catalog, root)
    shutil.rmtree(root / "users")

    result = crawl(catalog, root, SchemaChangePolicy={"DeleteBehavior": behavior})

    names = table_names(catalog)
    if behavior == "DELETE_FROM_DATABASE":
        assert result.tables_deleted == ["users"]
        assert names == ["items", "orders"]
    elif behavior == "DEPRECATE_IN_DATABASE":
        assert result.tables_deprecated == ["users"]
        assert "users" in names
        assert float(table(catalog, "users")["Parameters"]["DEPRECATED_BY_CRAWLER"]) > 0
        assert "DEPRECATED_BY_CRAWLER" not in table(catalog, "orders")["Parameters"]
    else:
        assert result.tables_deleted == [] and result.tables_deprecated == []
        assert "users" in names
        assert "DEPRECATED_BY_CRAWLER" not in table(catalog, "users")["Parameters"]
        assert any(line.startswith("users:") for line in result.logged_changes), (
            result.logged_changes
        )


def test_tables_of_other_crawlers_are_never_deleted(catalog, tmp_path: Path):
    root = _lake(tmp_path / "lake")
    other = write_json_lines(tmp_path / "other" / "x.json", [{"a": 1}]).parent
    crawl(catalog, other, Name="someone_else")
    crawl(catalog, root)
    shutil.rmtree(root / "users")

    crawl(catalog, root, SchemaChangePolicy={"DeleteBehavior": "DELETE_FROM_DATABASE"})

    assert table_names(catalog) == ["items", "orders", "other"]


@pytest.mark.parametrize("behavior", ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"])
def test_removed_partitions_are_deleted_only_with_delete_from_database(
    catalog, tmp_path: Path, behavior: str
):
    root = _lake(tmp_path / "lake")
    crawl(catalog, root)
    shutil.rmtree(root / "orders" / "dt=1")

    result = crawl(catalog, root, SchemaChangePolicy={"DeleteBehavior": behavior})

    if behavior == "DELETE_FROM_DATABASE":
        assert result.partitions_deleted == 1
        assert partition_values(catalog, "orders") == [["2"]]
    else:
        assert result.partitions_deleted == 0
        assert partition_values(catalog, "orders") == [["1"], ["2"]]
        assert any(
            "orders: 1 partition(s) no longer found" in line for line in result.logged_changes
        )


def test_crawl_new_folders_only_reads_nothing_when_nothing_is_new(catalog, tmp_path: Path):
    root = _lake(tmp_path / "lake")
    first = crawl(catalog, root, Name="incremental", **NEW_ONLY)
    assert first.files_read == 4 and sorted(first.tables_created) == ["items", "orders", "users"]

    again = crawl(catalog, root, Name="incremental", **NEW_ONLY)

    assert again.files_read == 0
    assert again.files_skipped == 4
    assert again.tables_created == [] and again.partitions_added == 0 and again.errors == []
    assert CrawlStore(catalog).runs("incremental")[0]["FilesRead"] == 0


def test_crawl_new_folders_only_adds_the_new_partition_to_its_table(catalog, tmp_path: Path):
    root = _lake(tmp_path / "lake")
    crawl(catalog, root, Name="incremental", **NEW_ONLY)
    write_json_lines(root / "orders" / "dt=3" / "a.json", [_order(5), _order(6)])

    result = crawl(catalog, root, Name="incremental", **NEW_ONLY)

    assert result.files_read == 1 and result.files_skipped == 4
    assert result.tables_created == []
    assert result.partitions_added == 1
    assert sorted(table_names(catalog)) == ["items", "orders", "users"]
    assert partition_values(catalog, "orders") == [["1"], ["2"], ["3"]]
    part = catalog.get_partition("db", "orders", ["3"])["Partition"]
    assert part["StorageDescriptor"]["Location"] == str(root / "orders" / "dt=3")
    assert part["Parameters"]["recordCount"] == "2"

    # the new file is remembered: the next run reads nothing again
    assert crawl(catalog, root, Name="incremental", **NEW_ONLY).files_read == 0


def test_crawl_new_folders_only_with_plain_partition_folders(catalog, tmp_path: Path):
    root = tmp_path / "events"
    for year in ("2023", "2024"):
        write_json_lines(root / year / "e.json", [{"event": "view", "user": "u", "ms": 3}])
    crawl(catalog, root, **NEW_ONLY)
    assert table(catalog, "events")["PartitionKeys"] == [{"Name": "partition_0", "Type": "int"}]

    write_json_lines(root / "2025" / "e.json", [{"event": "view", "user": "v", "ms": 4}])
    result = crawl(catalog, root, **NEW_ONLY)

    assert result.files_read == 1 and result.tables_created == []
    assert table_names(catalog) == ["events"]
    assert partition_values(catalog, "events") == [["2023"], ["2024"], ["2025"]]


def test_crawl_new_folders_only_makes_a_table_of_a_new_top_folder(catalog, tmp_path: Path):
    root = _lake(tmp_path / "lake")
    crawl(catalog, root, TablePrefix="raw_", **NEW_ONLY)
    write_parquet(
        root / "payments" / "p.parquet", {"pid": [1], "total": [9.5], "currency": ["EUR"]}
    )
    write_json_lines(root / "orders" / "dt=3" / "a.json", [_order(7)])

    result = crawl(catalog, root, TablePrefix="raw_", **NEW_ONLY)

    assert result.tables_created == ["raw_payments"]
    assert result.files_read == 2
    assert sorted(table_names(catalog)) == ["raw_items", "raw_orders", "raw_payments", "raw_users"]
    assert partition_values(catalog, "raw_orders") == [["1"], ["2"], ["3"]]


def test_crawl_new_folders_only_with_update_in_database_is_a_config_error():
    with pytest.raises(ConfigError) as excinfo:
        spec_of(
            "/data",
            RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
            SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE"},
        )
    message = str(excinfo.value)
    assert "CRAWL_NEW_FOLDERS_ONLY" in message and "UpdateBehavior" in message


def test_crawl_new_folders_only_defaults_to_update_in_database_and_is_refused():
    with pytest.raises(ConfigError, match="UpdateBehavior"):
        spec_of("/data", RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"})
