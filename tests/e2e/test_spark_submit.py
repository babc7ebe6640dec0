"""``jobs/sales_etl.py``, an unchanged Glue script, run with plain ``spark-submit``, then again
over its own output.

The input is written directly as CSV files; the output is checked with pyarrow. The second run,
which checks that an overwrite leaves no duplicates and that the Delta table is upserted, runs the
script in this test session's Spark: the first run already covers spark-submit, and a second one
cost ~25 s.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import runpy
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
import pytest
from subprocess_jvm import DRIVER_ENV

from etl.submit import spark_submit_command, submit_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "jobs" / "sales_etl.py"
HEADER = "order_id,customer_id,region,product,quantity,unit_price,order_date"
MALFORMED = '999000001,C000001,north,widget,"unterminated quote,3,9.99,2024-02-01'
REGIONS = ["north", "south", "east", "west"]
PRODUCTS = ["widget", "gadget", "gizmo"]


@dataclass
class Row:
    order_id: int
    customer_id: str
    region: str
    product: str
    quantity: int
    unit_price: str  # as written in the CSV, two decimals
    order_date: dt.date

    def csv(self) -> str:
        return (f"{self.order_id},{self.customer_id},{self.region},{self.product},"
                f"{self.quantity},{self.unit_price},{self.order_date.isoformat()}")


def make_rows(n: int) -> list[Row]:
    start = dt.date(2023, 11, 20)  # crosses a year boundary: 2023-11 .. 2024-02
    return [
        Row(
            order_id=1000 + i,
            customer_id=f"C{i % 41:06d}",
            region=REGIONS[i % len(REGIONS)],
            product=PRODUCTS[i % len(PRODUCTS)],
            quantity=i % 9 + 1,
            unit_price=f"{(i * 37) % 10_000 / 100:.2f}",
            order_date=start + dt.timedelta(days=(i * 7) % 90),
        )
        for i in range(n)
    ]


@dataclass
class Workspace:
    root: Path
    input: Path
    output: Path
    rows: list[Row]

    @property
    def months(self) -> set[tuple[int, int]]:
        return {(r.order_date.year, r.order_date.month) for r in self.rows}

    @property
    def days(self) -> set[dt.date]:
        return {r.order_date for r in self.rows}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("sales_job")
    raw = root / "raw"
    (raw / "late").mkdir(parents=True)
    rows = make_rows(320)
    lines = [r.csv() for r in rows]
    # three headered files, one in a sub-folder (the job reads with recurse=True),
    # and the malformed line at the end of the last one
    (raw / "part-00000.csv").write_text(HEADER + "\n" + "\n".join(lines[:120]) + "\n")
    (raw / "part-00001.csv").write_text(HEADER + "\n" + "\n".join(lines[120:250]) + "\n")
    (raw / "late" / "part-00002.csv").write_text(
        HEADER + "\n" + "\n".join(lines[250:]) + "\n" + MALFORMED + "\n"
    )
    # bookkeeping files a previous writer leaves behind are not data
    (raw / "_SUCCESS").write_text("")
    (raw / ".part-00000.csv.crc").write_text("garbage,not,csv\n")
    return Workspace(root, raw, root / "out", rows)


def job_args(ws: Workspace) -> list[str]:
    return ["--JOB_NAME", "t", "--input_path", str(ws.input), "--output_path", str(ws.output)]


def run_job(ws: Workspace) -> subprocess.CompletedProcess[str]:
    cmd = spark_submit_command(
        JOB,
        job_args(ws),
        master="local[2]",
        conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"},
    )
    env = submit_env({"ETL_HOME": str(ws.root / "home"), **DRIVER_ENV})
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ws.root,
                          timeout=300, check=False)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-4000:]}"


def reported(stdout: str, label: str) -> int:
    match = re.search(rf"^{re.escape(label)}:\s+(\d+)", stdout, re.MULTILINE)
    assert match, f"{label!r} not reported in:\n{stdout}"
    return int(match.group(1))


def parquet_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)
    )


def delta_live_files(table: Path) -> list[Path]:
    """Data files of the Delta table's latest version, replayed from ``_delta_log``."""
    live: set[str] = set()
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live.add(action["add"]["path"])
            elif "remove" in action:
                live.discard(action["remove"]["path"])
    return [table / unquote(p) for p in sorted(live)]


@pytest.fixture(scope="module")
def first_run(workspace: Workspace) -> subprocess.CompletedProcess[str]:
    return run_job(workspace)


def test_job_succeeds(first_run):
    assert first_run.returncode == 0, explain(first_run)


def test_job_reports_counts(first_run, workspace):
    assert first_run.returncode == 0, explain(first_run)
    out = first_run.stdout
    good = len(workspace.rows)
    assert reported(out, "rows read") == good
    assert reported(out, "error records") == 1
    assert reported(out, "rows written") == good
    assert reported(out, "partitions written") == len(workspace.months)
    assert reported(out, "delta daily table") == len(workspace.days)
    # the error record names its file and shows the raw line
    assert "part-00002.csv: malformed CSV record" in out
    assert "unterminated quote" in out


def test_sales_are_partitioned_parquet_with_every_good_row(first_run, workspace):
    assert first_run.returncode == 0, explain(first_run)
    sales = workspace.output / "sales"
    folders = {
        (int(p.parent.parent.name.split("=")[1]), int(p.parent.name.split("=")[1]))
        for p in parquet_files(sales)
    }
    assert folders == workspace.months
    for year, month in workspace.months:
        assert (sales / f"year={year}" / f"month={month}").is_dir()

    files = parquet_files(sales)
    assert files
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert total == len(workspace.rows)

    table = pq.read_table(sales).to_pylist()  # hive partitions become year/month columns
    by_id = {r["order_id"]: r for r in table}
    assert len(by_id) == len(table) == len(workspace.rows)
    for row in workspace.rows:
        got = by_id[row.order_id]
        assert got["customer"] == {"id": row.customer_id, "region": row.region}
        assert got["quantity"] == row.quantity
        assert got["unit_price"] == Decimal(row.unit_price)
        assert got["order_date"] == row.order_date
        assert (int(got["year"]), int(got["month"])) == (row.order_date.year, row.order_date.month)
        assert got["amount"] == Decimal(row.unit_price) * row.quantity
    assert 999000001 not in by_id  # the malformed line is not a row


def test_daily_revenue_is_a_delta_table(first_run, workspace):
    assert first_run.returncode == 0, explain(first_run)
    table = workspace.output / "daily_revenue"
    assert (table / "_delta_log").is_dir()
    assert (table / "_delta_log" / "00000000000000000000.json").is_file()
    files = delta_live_files(table)
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    assert len(rows) == len(workspace.days)
    orders = {r["order_date"]: r["orders"] for r in rows}
    assert orders == dict(Counter(r.order_date for r in workspace.rows))


def test_second_run_overwrites_without_duplicates(first_run, workspace, spark, monkeypatch, capsys):
    assert first_run.returncode == 0, explain(first_run)
    # the script as __main__ in this session's Spark, with spark-submit's argv and ETL_HOME
    monkeypatch.setenv("ETL_HOME", str(workspace.root / "home"))
    monkeypatch.delenv("ETL_CATALOG_URL", raising=False)
    monkeypatch.setattr(sys, "argv", [str(JOB), *job_args(workspace)])
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # Job.init installs its own for a script's process
    capsys.readouterr()
    runpy.run_path(str(JOB), run_name="__main__")
    second = capsys.readouterr().out
    assert reported(second, "rows written") == len(workspace.rows)
    assert reported(second, "error records") == 1

    sales = workspace.output / "sales"
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(sales))
    assert total == len(workspace.rows)
    ids = [r["order_id"] for r in pq.read_table(sales, columns=["order_id"]).to_pylist()]
    assert sorted(ids) == sorted(r.order_id for r in workspace.rows)
    # the staged overwrite cleaned up after itself
    leftovers = [p.name for p in workspace.output.iterdir() if p.name.startswith(".")]
    assert leftovers == []

    # the Delta table was upserted by order_date: a second version, still one row per day
    table = workspace.output / "daily_revenue"
    assert (table / "_delta_log" / "00000000000000000001.json").is_file()
    rows = [r for f in delta_live_files(table) for r in pq.read_table(f).to_pylist()]
    assert len(rows) == len(workspace.days)
    assert sorted(r["order_date"] for r in rows) == sorted(workspace.days)
