"""Grouping files into tables and partitions, as Glue's crawler does."""

from __future__ import annotations

from pathlib import Path

from .helpers import (
    columns,
    crawl,
    partition_values,
    table,
    table_names,
    write_csv,
    write_json_lines,
    write_parquet,
)


def _orders(i: int) -> dict:
    return {"order_id": i, "customer": f"c{i}", "amount": i * 1.25, "paid": i % 2 == 0}


def test_year_month_folders_become_one_table_with_int_partition_keys(catalog, tmp_path: Path):
    root = tmp_path / "sales"
    for year in (2023, 2024):
        for month in ("01", "02", "11"):
            write_json_lines(
                root / f"year={year}" / f"month={month}" / "part-0.json",
                [_orders(i) for i in range(3)],
            )

    result = crawl(catalog, root)

    assert result.tables_created == ["sales"]
    assert result.partitions_added == 6
    assert result.files_read == 6 and result.errors == []
    t = table(catalog, "sales")
    assert t["PartitionKeys"] == [{"Name": "year", "Type": "int"}, {"Name": "month", "Type": "int"}]
    assert columns(t) == {
        "order_id": "int",
        "customer": "string",
        "amount": "double",
        "paid": "boolean",
    }
    assert t["StorageDescriptor"]["Location"] == str(root)
    assert partition_values(catalog, "sales") == [
        ["2023", "01"],
        ["2023", "02"],
        ["2023", "11"],
        ["2024", "01"],
        ["2024", "02"],
        ["2024", "11"],
    ]
    part = catalog.get_partition("db", "sales", ["2024", "02"])["Partition"]
    assert part["StorageDescriptor"]["Location"] == str(root / "year=2024" / "month=02")
    assert part["Parameters"]["recordCount"] == "3" and part["Parameters"]["objectCount"] == "1"
    assert "grouped" in " ".join(result.plans[0].reasons)


def test_plain_subfolders_become_partition_n_keys(catalog, tmp_path: Path):
    root = tmp_path / "events"
    for year in ("2024", "2025"):
        for region in ("eu", "us"):
            write_json_lines(
                root / year / region / "e.json", [{"event": "click", "n": 1, "user": "u"}]
            )

    result = crawl(catalog, root)

    assert result.tables_created == ["events"]
    t = table(catalog, "events")
    assert [k["Name"] for k in t["PartitionKeys"]] == ["partition_0", "partition_1"]
    assert {k["Name"]: k["Type"] for k in t["PartitionKeys"]} == {
        "partition_0": "int",
        "partition_1": "string",
    }
    assert partition_values(catalog, "events") == [
        ["2024", "eu"],
        ["2024", "us"],
        ["2025", "eu"],
        ["2025", "us"],
    ]


def test_folders_of_different_formats_are_split_into_tables(catalog, tmp_path: Path):
    root = tmp_path / "lake"
    write_json_lines(
        root / "clicks" / "a.json", [{"id": 1, "page": "home"}, {"id": 2, "page": "cart"}]
    )
    write_parquet(root / "orders" / "a.parquet", {"id": [1, 2], "page": ["x", "y"]})
    write_csv(
        root / "users" / "a.csv", [[1, "ann", 3.5], [2, "bob", 4.0]], header=["id", "page", "score"]
    )

    result = crawl(catalog, root)

    assert sorted(result.tables_created) == ["clicks", "orders", "users"]
    assert {
        table(catalog, n)["Parameters"]["classification"] for n in ("clicks", "orders", "users")
    } == {"json", "parquet", "csv"}
    for plan in result.plans:
        assert "mixed classifications" in plan.reasons[0], plan.reasons
        assert plan.partition_keys == []


def test_same_format_with_very_different_schemas_is_split(catalog, tmp_path: Path):
    root = tmp_path / "raw"
    write_json_lines(root / "a" / "x.json", [{"id": 1, "name": "n", "price": 2.5}])
    write_json_lines(root / "b" / "x.json", [{"host": "h", "cpu": 0.5, "mem": 12}])

    result = crawl(catalog, root)

    assert sorted(result.tables_created) == ["a", "b"]
    assert all("similar" in p.reasons[0] and "split" in p.reasons[0] for p in result.plans), [
        p.reasons for p in result.plans
    ]
    assert columns(table(catalog, "b")) == {"host": "string", "cpu": "double", "mem": "int"}


def test_combine_compatible_schemas_merges_dissimilar_folders(catalog, tmp_path: Path):
    root = tmp_path / "raw"
    write_json_lines(root / "a" / "x.json", [{"id": 1, "name": "n", "price": 2.5}])
    write_json_lines(root / "b" / "x.json", [{"host": "h", "cpu": 0.5, "mem": 12}])

    result = crawl(
        catalog,
        root,
        Configuration={
            "Version": 1.0,
            "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
        },
    )

    assert result.tables_created == ["raw"]
    t = table(catalog, "raw")
    assert columns(t) == {
        "id": "int",
        "name": "string",
        "price": "double",
        "host": "string",
        "cpu": "double",
        "mem": "int",
    }
    assert t["PartitionKeys"] == [{"Name": "partition_0", "Type": "string"}]
    assert "CombineCompatibleSchemas" in " ".join(result.plans[0].reasons)


def test_configuration_may_be_glue_json_string(catalog, tmp_path: Path):
    root = tmp_path / "raw"
    write_json_lines(root / "a" / "x.json", [{"id": 1, "name": "n", "price": 2.5}])
    write_json_lines(root / "b" / "x.json", [{"host": "h", "cpu": 0.5, "mem": 12}])

    result = crawl(
        catalog,
        root,
        Configuration='{"Version":1.0,"Grouping":'
        '{"TableGroupingPolicy":"CombineCompatibleSchemas"}}',
    )

    assert result.tables_created == ["raw"]


def test_table_level_configuration_forces_the_table_roots(catalog, tmp_path: Path):
    root = tmp_path / "warehouse"
    for name in ("orders", "refunds"):
        for day in ("1", "2"):
            write_json_lines(root / name / f"dt={day}" / "x.json", [_orders(int(day))])

    # Same format and schema everywhere: by default the include path is one table.
    default = crawl(catalog, root, Name="default_grouping", DatabaseName="one")
    assert default.tables_created == ["warehouse"]
    assert [k["Name"] for k in table(catalog, "warehouse", "one")["PartitionKeys"]] == [
        "partition_0",
        "dt",
    ]

    # Level 2 (the include path's sub-folders) forces one table per sub-folder.
    result = crawl(catalog, root, Configuration={"Grouping": {"TableLevelConfiguration": 2}})
    assert sorted(result.tables_created) == ["orders", "refunds"]
    for name in ("orders", "refunds"):
        assert table(catalog, name)["PartitionKeys"] == [{"Name": "dt", "Type": "int"}]
        assert partition_values(catalog, name) == [["1"], ["2"]]
    assert all("TableLevelConfiguration" in " ".join(p.reasons) for p in result.plans)


def test_table_name_clash_is_resolved_with_the_parent_folder(catalog, tmp_path: Path):
    root = tmp_path / "src"
    # Every level mixes formats, so each leaf folder is its own table; two are named "data".
    write_json_lines(root / "shop" / "data" / "x.json", [{"id": 1, "sku": "a"}])
    write_parquet(root / "shop" / "meta" / "x.parquet", {"k": ["a"], "v": [1]})
    write_parquet(root / "crm" / "data" / "x.parquet", {"cid": [1], "email": ["e"]})
    write_json_lines(root / "crm" / "meta" / "x.json", [{"k": "a", "v": 1}])

    result = crawl(catalog, root)

    names = sorted(result.tables_created)
    assert len(names) == 4 and len(set(names)) == 4, names
    assert {"shop_data", "crm_data"} <= set(names), names
    assert table(catalog, "shop_data")["Parameters"]["classification"] == "json"
    assert table(catalog, "crm_data")["Parameters"]["classification"] == "parquet"
    assert table(catalog, "crm_data")["StorageDescriptor"]["Location"] == str(root / "crm" / "data")


def test_table_prefix_is_applied(catalog, tmp_path: Path):
    root = tmp_path / "Sales Data"
    write_json_lines(root / "x.json", [_orders(1)])

    result = crawl(catalog, root, TablePrefix="raw_")

    assert result.tables_created == ["raw_sales_data"]
    assert table_names(catalog) == ["raw_sales_data"]


def test_each_target_is_crawled(catalog, tmp_path: Path):
    a = write_json_lines(tmp_path / "a" / "x.json", [{"id": 1, "v": "x"}]).parent
    b = write_parquet(tmp_path / "b" / "x.parquet", {"k": [1.5]}).parent

    result = crawl(catalog, [a, b])

    assert sorted(result.tables_created) == ["a", "b"]
    assert columns(table(catalog, "b")) == {"k": "double"}
