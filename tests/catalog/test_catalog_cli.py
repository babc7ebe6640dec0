"""``etl catalog ...`` as a user runs it: the venv's console script in a subprocess, reading a
SQLite catalog this module fills in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from etl.catalog import Catalog

pytestmark = pytest.mark.e2e

ETL = Path(sys.executable).parent / "etl"


@pytest.fixture(scope="module")
def catalog_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli_catalog') / 'catalog.db'}"
    cat = Catalog(url)
    try:
        cat.create_database({"Name": "sales", "Description": "all sales"})
        cat.create_database({"Name": "hr"})
        keys = [{"Name": "year", "Type": "int"}, {"Name": "region", "Type": "string"}]
        cat.create_table(
            "sales",
            {
                "Name": "orders",
                "StorageDescriptor": {
                    "Columns": [{"Name": "id", "Type": "bigint"}],
                    "Location": "s3://bucket/orders/",
                },
                "PartitionKeys": keys,
                "Parameters": {"classification": "parquet"},
            },
        )
        cat.update_table(
            "sales",
            {
                "Name": "orders",
                "StorageDescriptor": {
                    "Columns": [
                        {"Name": "id", "Type": "bigint"},
                        {"Name": "amount_usd", "Type": "double"},
                    ],
                    "Location": "s3://bucket/orders/",
                },
                "PartitionKeys": keys,
                "Parameters": {"classification": "parquet"},
            },
            VersionId="0",
        )
        cat.create_table("sales", {"Name": "returns", "Parameters": {"classification": "csv"}})
        errors = cat.batch_create_partition(
            "sales",
            "orders",
            [
                {
                    "Values": [year, region],
                    "StorageDescriptor": {
                        "Location": f"s3://bucket/orders/year={year}/region={region}/"
                    },
                }
                for year, region in [("9", "eu"), ("10", "eu"), ("2024", "us"), ("2024", "eu")]
            ],
        )["Errors"]
        assert errors == []
    finally:
        cat.close()
    return url


@pytest.fixture(scope="module")
def direct(catalog_url: str):  # type: ignore[no-untyped-def]
    """The same catalog, read in-process, to compare the CLI's JSON with."""
    cat = Catalog(catalog_url)
    yield cat
    cat.close()


def run_etl(catalog_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ETL_CATALOG_URL"}
    env["ETL_HOME"] = str(Path(catalog_url.removeprefix("sqlite:///")).parent / "home")
    env["COLUMNS"] = "250"  # rich must not truncate table cells
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(ETL), "catalog", *args, "--catalog", catalog_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-3000:]}"


def json_of(catalog_url: str, *args: str) -> dict[str, Any]:
    proc = run_etl(catalog_url, *args, "--json")
    assert proc.returncode == 0, explain(proc)
    return json.loads(proc.stdout)


def text_of(catalog_url: str, *args: str) -> str:
    proc = run_etl(catalog_url, *args)
    assert proc.returncode == 0, explain(proc)
    assert not proc.stdout.lstrip().startswith("{"), proc.stdout  # a table, not JSON
    return proc.stdout


def test_the_console_script_is_installed() -> None:
    assert ETL.is_file() and os.access(ETL, os.X_OK)


def test_get_databases(catalog_url: str, direct: Catalog) -> None:
    response = json_of(catalog_url, "get-databases")
    assert list(response) == ["DatabaseList"]
    assert [d["Name"] for d in response["DatabaseList"]] == ["hr", "sales"]
    assert response["DatabaseList"][1]["Description"] == "all sales"
    assert response == direct.get_databases()

    out = text_of(catalog_url, "get-databases")
    assert "sales" in out and "hr" in out and "all sales" in out


def test_get_tables(catalog_url: str) -> None:
    response = json_of(catalog_url, "get-tables", "sales")
    assert list(response) == ["TableList"]
    assert [t["Name"] for t in response["TableList"]] == ["orders", "returns"]
    orders = response["TableList"][0]
    assert orders["VersionId"] == "1"
    assert orders["PartitionKeys"] == [
        {"Name": "year", "Type": "int"},
        {"Name": "region", "Type": "string"},
    ]

    filtered = json_of(catalog_url, "get-tables", "sales", "--expression", "ret.*")
    assert [t["Name"] for t in filtered["TableList"]] == ["returns"]
    assert json_of(catalog_url, "get-tables", "hr") == {"TableList": []}

    out = text_of(catalog_url, "get-tables", "sales")
    for cell in ("orders", "returns", "parquet", "csv", "s3://bucket/orders/", "year, region"):
        assert cell in out, out
    out = text_of(catalog_url, "get-tables", "sales", "--expression", "ord*")
    assert "orders" in out and "returns" not in out


def test_get_table(catalog_url: str, direct: Catalog) -> None:
    response = json_of(catalog_url, "get-table", "sales", "orders")
    assert list(response) == ["Table"]
    table = response["Table"]
    assert (table["Name"], table["DatabaseName"], table["VersionId"]) == ("orders", "sales", "1")
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "amount_usd"]
    assert response == direct.get_table("sales", "orders")

    out = text_of(catalog_url, "get-table", "sales", "orders")
    for cell in ("sales.orders (version 1)", "amount_usd", "double", "region", "partition key"):
        assert cell in out, out


def test_get_partitions(catalog_url: str) -> None:
    everything = json_of(catalog_url, "get-partitions", "sales", "orders")
    assert list(everything) == ["Partitions"]
    assert sorted(p["Values"] for p in everything["Partitions"]) == [
        ["10", "eu"],
        ["2024", "eu"],
        ["2024", "us"],
        ["9", "eu"],
    ]

    # typed: year is an int key, so 10 > 9
    filtered = json_of(
        catalog_url,
        "get-partitions",
        "sales",
        "orders",
        "--expression",
        "year > '9' AND region = 'eu'",
    )
    assert sorted(p["Values"] for p in filtered["Partitions"]) == [["10", "eu"], ["2024", "eu"]]
    part = filtered["Partitions"][0]
    assert part["DatabaseName"] == "sales" and part["TableName"] == "orders"
    assert part["StorageDescriptor"]["Location"].startswith("s3://bucket/orders/year=")

    out = text_of(
        catalog_url, "get-partitions", "sales", "orders", "--expression", "year IN (9, 2024)"
    )
    for cell in ("9/eu", "2024/us", "2024/eu", "s3://bucket/orders/year=9/region=eu/"):
        assert cell in out, out
    assert "10/eu" not in out


def test_get_table_versions(catalog_url: str) -> None:
    response = json_of(catalog_url, "get-table-versions", "sales", "orders")
    assert list(response) == ["TableVersions"]
    assert [v["VersionId"] for v in response["TableVersions"]] == ["1", "0"]
    assert [
        c["Name"] for c in response["TableVersions"][1]["Table"]["StorageDescriptor"]["Columns"]
    ] == ["id"]

    out = text_of(catalog_url, "get-table-versions", "sales", "orders")
    assert "id, amount_usd" in out, out
    assert out.index("id, amount_usd") < out.rindex("│ 0 ")  # newest first


@pytest.mark.parametrize("as_json", [False, True])
def test_missing_table_exits_2_with_an_error(catalog_url: str, as_json: bool) -> None:
    args = ["get-table", "sales", "nope"] + (["--json"] if as_json else [])
    proc = run_etl(catalog_url, *args)
    assert proc.returncode == 2, explain(proc)
    assert "error:" in proc.stderr, explain(proc)
    assert "nope" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_bad_expression_and_missing_database_exit_2(catalog_url: str) -> None:
    proc = run_etl(
        catalog_url, "get-partitions", "sales", "orders", "--expression", "month = 1", "--json"
    )
    assert proc.returncode == 2 and "error:" in proc.stderr and "month" in proc.stderr, explain(
        proc
    )
    proc = run_etl(catalog_url, "get-tables", "nowhere")
    assert proc.returncode == 2 and "error:" in proc.stderr, explain(proc)
