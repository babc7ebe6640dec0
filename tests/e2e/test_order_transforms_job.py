"""``jobs/order_transforms.py``, a Glue script using the bundled transforms
(``from awsglue.transforms import *``), run unchanged with plain ``spark-submit``.

Inputs are written as JSON lines; outputs are read back with pyarrow and json, so the only Spark
here is the one spark-submit starts.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from subprocess_jvm import DRIVER_ENV

from etl.submit import spark_submit_command, submit_env

pytestmark = pytest.mark.e2e

JOB = Path(__file__).resolve().parents[2] / "jobs" / "order_transforms.py"

ORDERS = [
    {
        "order_id": 1,
        "provider_id": 501,
        "status": "shipped",
        "payload": '{"channel": "web", "coupon": "X1"}',
        "customer": {"name": "Ana", "email": None},
        "items": [{"sku": "A", "price": 10.0, "qty": 2}, {"sku": "B", "price": "95.5", "qty": 1}],
    },
    {
        "order_id": 2,
        "provider_id": "P-7",
        "status": "shipped",
        "payload": '{"channel": "shop", "coupon": null}',
        "customer": {"name": "Bo", "email": None},
        "items": [{"sku": "C", "price": 5, "qty": 3}],
    },
    {
        "order_id": 3,
        "provider_id": 502,
        "status": "cancelled",
        "payload": '{"channel": "web", "coupon": null}',
        "customer": {"name": "Ana", "email": None},
        "items": [{"sku": "A", "price": 10.0, "qty": 1}],
    },
    # no items: the Map function fails on this record, which becomes an error record
    {
        "order_id": 4,
        "provider_id": 503,
        "status": "shipped",
        "payload": '{"channel": "web", "coupon": null}',
        "customer": {"name": "Cy", "email": None},
    },
    {
        "order_id": 5,
        "provider_id": "P-9",
        "status": "shipped",
        "payload": '{"channel": "web", "coupon": "Z"}',
        "customer": {"name": "Cy", "email": None},
        "items": [{"sku": "D", "price": 60, "qty": 2}],
    },
]
CUSTOMERS = [
    {"customer_name": "Ana", "tier": "gold"},
    {"customer_name": "Bo", "tier": "silver"},
    {"customer_name": "Cy", "tier": "bronze"},
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    root = tmp_path_factory.mktemp("order_job")
    (root / "in" / "orders").mkdir(parents=True)
    (root / "in" / "customers").mkdir()
    lines = [json.dumps(o) for o in ORDERS]
    lines.insert(2, '{"order_id": 99, "status": "broken')  # a malformed line: a read error record
    (root / "in" / "orders" / "part-0.json").write_text("\n".join(lines) + "\n")
    (root / "in" / "customers" / "c.json").write_text("\n".join(json.dumps(c) for c in CUSTOMERS) + "\n")
    cmd = spark_submit_command(
        JOB,
        ["--JOB_NAME", "orders", "--input_path", str(root / "in"), "--output_path", str(root / "out")],
        master="local[2]",
        conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
    )
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=submit_env({"ETL_HOME": str(root / "home"), **DRIVER_ENV}),
        cwd=root,
        timeout=400,
        check=False,
    )
    return proc, root / "out"


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-4000:]}"


def summary(proc: subprocess.CompletedProcess[str]) -> dict:
    match = re.search(r"^SUMMARY (.*)$", proc.stdout, re.MULTILINE)
    assert match, explain(proc)
    return json.loads(match.group(1))


def json_records(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("*.json")) for line in f.read_text().splitlines() if line]


def test_the_script_runs_unchanged_and_reports(run):
    proc, _ = run
    assert proc.returncode == 0, explain(proc)
    assert summary(proc) == {
        "orders_read": 5,
        "read_errors": 1,
        "map_errors": 1,
        "errors_total": 2,
        "large": 2,  # order 1: 10*2 + 95.5 = 115.5; order 5: 120
        "small": 1,  # order 2: 15 (order 3 is cancelled, order 4 failed in Map)
        "tables": ["orders", "orders_items"],
    }


def test_print_schema_shows_the_choice(run):
    proc, _ = run
    assert "|-- provider_id: choice" in proc.stdout, explain(proc)


def test_split_rows_outputs_hold_the_enriched_records(run):
    proc, out = run
    assert proc.returncode == 0, explain(proc)
    large = sorted(json_records(out / "large"), key=lambda r: r["order_id"])
    assert [r["order_id"] for r in large] == [1, 5]
    first = large[0]
    assert first["total"] == 115.5
    assert first["provider_id_long"] == 501 and "provider_id_string" not in first
    assert first["payload"] == {"channel": "web", "coupon": "X1"}
    assert first["customer"] == {"full_name": "Ana"}  # email was null everywhere: dropped
    assert first["tier"] == "gold"
    assert "customer_name" not in first
    small = json_records(out / "small")
    assert [(r["order_id"], r["provider_id_string"], r["total"]) for r in small] == [(2, "P-7", 15.0)]


def test_relationalize_writes_root_and_items_tables(run):
    proc, out = run
    assert proc.returncode == 0, explain(proc)
    root = pq.read_table(out / "relational" / "orders").to_pylist()
    items = pq.read_table(out / "relational" / "orders_items").to_pylist()
    assert sorted(r["order_id"] for r in root) == [1, 2, 5]
    by_order = {r["order_id"]: r["items"] for r in root}
    skus = {order: sorted(i["items.val.sku"] for i in items if i["id"] == key) for order, key in by_order.items()}
    assert skus == {1: ["A", "B"], 2: ["C"], 5: ["D"]}


def test_unnest_and_spigot_outputs(run):
    proc, out = run
    assert proc.returncode == 0, explain(proc)
    flat = pq.read_table(out / "flat")
    assert set(flat.column_names) == {"order_id", "customer.full_name", "tier"}
    assert len(json_records(out / "spigot")) == 3
