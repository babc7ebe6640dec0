"""The crawler from the command line, as a user runs it: ``etl`` in a subprocess with its own
ETL_HOME (so its own SQLite catalog)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from subprocess_jvm import DRIVER_ENV

from etl.catalog import Catalog

from .helpers import write_csv, write_json_lines, write_parquet

pytestmark = pytest.mark.e2e

ETL = Path(sys.executable).parent / "etl"


def run_etl(
    home: Path, *args: str, timeout: int = 600, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(DRIVER_ENV)  # `etl sql` starts a Spark driver
    env.update(extra_env)
    env["ETL_HOME"] = str(home)
    env.pop("ETL_CATALOG_URL", None)
    return subprocess.run(
        [str(ETL), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home.parent,
        timeout=timeout,
        check=False,
    )


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-3000:]}"


def home_catalog(home: Path) -> Catalog:
    return Catalog(f"sqlite:///{home / 'catalog.db'}")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for year, n in ((2024, 3), (2025, 2)):
        write_json_lines(
            root / "orders" / f"year={year}" / "part-0.json",
            [{"order_id": year * 10 + i, "sku": f"s{i}", "qty": i + 1} for i in range(n)],
        )
    write_csv(
        root / "customers" / "c.csv",
        [[1, "ann", 3.5], [2, "bob", 4.5], [3, "cy", 1.0]],
        header=["id", "name", "rating"],
    )
    write_parquet(root / "stock" / "s.parquet", {"sku": ["s0", "s1"], "on_hand": [5, 0]})
    (root / "stock" / "_SUCCESS").write_text("")
    return root


def write_spec(tmp_path: Path, data: Path, name: str = "nightly") -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(f"""# a crawler written as Glue's CreateCrawler input
Name: {name}
DatabaseName: shop
Targets:
  S3Targets:
    - Path: {data}
      Exclusions: ["**.tmp"]
TablePrefix: raw_
SchemaChangePolicy:
  UpdateBehavior: UPDATE_IN_DATABASE
  DeleteBehavior: DELETE_FROM_DATABASE
""")
    return spec


def test_etl_crawl_prints_created_tables_and_counts(tmp_path: Path, data: Path):
    home = tmp_path / "home"

    proc = run_etl(home, "crawl", str(data / "orders"), "--database", "sales_db")

    assert proc.returncode == 0, explain(proc)
    assert re.search(r"1 table\(s\) created", proc.stdout), explain(proc)
    assert "2 partition(s) added" in proc.stdout
    assert "2 file(s) read" in proc.stdout and "0 error(s)" in proc.stdout
    assert "created sales_db.orders" in proc.stdout
    t = home_catalog(home).get_table("sales_db", "orders")["Table"]
    assert t["PartitionKeys"] == [{"Name": "year", "Type": "int"}]
    assert t["Parameters"]["recordCount"] == "5"


def test_crawler_run_explain_and_runs(tmp_path: Path, data: Path):
    home = tmp_path / "home"
    spec = write_spec(tmp_path, data)

    explained = run_etl(home, "crawler", "explain", str(spec))
    assert explained.returncode == 0, explain(explained)
    out = explained.stdout
    # per folder: the classifier, its certainty and the schema
    assert re.search(r"orders/year=2024: 1 file\(s\), json certainty 1\.00", out), out
    assert re.search(r"customers: 1 file\(s\), csv certainty 1\.00", out), out
    assert re.search(r"stock: 1 file\(s\), parquet certainty 1\.00", out), out
    assert "schema: order_id int, sku string, qty int" in out
    assert "schema: id bigint, name string, rating double" in out
    assert "table orders" in out and "partitioned by year" in out
    assert "why:" in out
    # explain changes nothing: no database, no crawler, no run
    catalog = home_catalog(home)
    assert catalog.get_databases()["DatabaseList"] == []
    runs = run_etl(home, "crawler", "runs", "nightly", "--json")
    assert runs.returncode == 0, explain(runs)
    assert json.loads(runs.stdout) == {"CrawlerRuns": []}

    first = run_etl(home, "crawler", "run", str(spec))
    assert first.returncode == 0, explain(first)
    assert "3 table(s) created" in first.stdout, explain(first)
    for name in ("raw_customers", "raw_orders", "raw_stock"):
        assert f"created shop.{name}" in first.stdout
    tables = {t["Name"] for t in catalog.get_tables("shop")["TableList"]}
    assert tables == {"raw_customers", "raw_orders", "raw_stock"}

    second = run_etl(home, "crawler", "run", str(spec))
    assert second.returncode == 0, explain(second)
    assert "0 table(s) created, 0 updated, 3 unchanged" in second.stdout, explain(second)

    runs = run_etl(home, "crawler", "runs", "nightly", "--json")
    assert runs.returncode == 0, explain(runs)
    listed = json.loads(runs.stdout)["CrawlerRuns"]
    assert [r["State"] for r in listed] == ["SUCCEEDED", "SUCCEEDED"]
    assert [r["TablesCreated"] for r in listed] == [0, 3]  # newest first
    assert listed[1]["FilesRead"] == 4 and listed[1]["PartitionsAdded"] == 2
    assert listed[0]["RunId"] > listed[1]["RunId"]

    table_view = run_etl(home, "crawler", "runs", "nightly", COLUMNS="200")
    assert table_view.returncode == 0, explain(table_view)
    assert table_view.stdout.count("SUCCEEDED") == 2, explain(table_view)


def test_etl_sql_counts_rows_of_crawled_tables(tmp_path: Path, data: Path):
    home = tmp_path / "home"
    proc = run_etl(home, "crawl", str(data), "--database", "shop")
    assert proc.returncode == 0, explain(proc)

    query = (
        "SELECT (SELECT count(*) FROM shop.orders WHERE year = 2024) AS n, "
        "(SELECT count(*) FROM shop.customers) AS c, (SELECT sum(on_hand) FROM shop.stock) AS s"
    )
    proc = run_etl(home, "sql", query, "--json")

    assert proc.returncode == 0, explain(proc)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [json.loads(line) for line in lines] == [{"n": 3, "c": 3, "s": 5}], explain(proc)


def test_a_spec_with_an_unknown_key_exits_2_naming_file_and_key(tmp_path: Path, data: Path):
    home = tmp_path / "home"
    spec = write_spec(tmp_path, data, name="typo")
    spec.write_text(spec.read_text() + "SchemaChangePolicyy:\n  UpdateBehavior: LOG\n")

    for command in ("run", "explain"):
        proc = run_etl(home, "crawler", command, str(spec))
        assert proc.returncode == 2, explain(proc)
        assert str(spec) in proc.stderr and "SchemaChangePolicyy" in proc.stderr, explain(proc)
        assert "Traceback" not in proc.stderr

    bad = tmp_path / "bad_policy.yaml"
    bad.write_text(
        spec.read_text().replace("SchemaChangePolicyy:\n  UpdateBehavior: LOG\n", "")
        + "RecrawlPolicy:\n  RecrawlBehavior: CRAWL_NEW_FOLDERS_ONLY\n"
    )
    proc = run_etl(home, "crawler", "run", str(bad))
    assert proc.returncode == 2, explain(proc)
    assert str(bad) in proc.stderr and "CRAWL_NEW_FOLDERS_ONLY" in proc.stderr, explain(proc)
    assert (
        not (home / "catalog.db").exists()
        or home_catalog(home).get_databases()["DatabaseList"] == []
    )
