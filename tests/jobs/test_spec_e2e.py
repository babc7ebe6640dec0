"""``etl/jobs/spec_main.py`` run by plain ``spark-submit`` (and ``python -m``) on a spec in a
temporary folder: the metrics line, the outputs, the run row, and the failures.

Outputs are read back with pyarrow and the run rows with SQLAlchemy. The successful run is a real
``spark-submit``; the run failed by a quality rule calls the same driver's ``main`` in this test
session's Spark (a second spark-submit only to see a different exit status cost ~25 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, text
from subprocess_jvm import DRIVER_ENV

from etl.submit import spark_submit_command, submit_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "etl" / "jobs" / "spec_main.py"
HEADER = "order_id,region,quantity"
ROWS = ["1,north,3", "2,south,1", "3,east,0", "4,mars,2", "5,west,4"]

SPEC = """
sources:
  raw: {path: "${input_path}", format: csv, format_options: {withHeader: true}}
steps:
  - {name: typed, transform: ApplyMapping,
     args: {mappings: [[order_id, long, order_id, long], [region, string, region, string],
                       [quantity, int, quantity, int]]}}
  - {name: positive, transform: Filter, condition: "quantity > 0"}
quality:
  rules:
    - {rule: not_null, column: order_id, action: fail}
    - {rule: in_set, column: region, values: [north, south, east, west], action: REGION_ACTION}
sinks:
  out: {path: "${output_path}/orders", format: parquet, partition_keys: [region], mode: overwrite}
"""


def metrics_line(stdout: str) -> dict:
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("ETL_RUN_METRICS "), stdout[-2000:]
    return json.loads(last[len("ETL_RUN_METRICS ") :])


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def run_rows(home: Path) -> list[dict]:
    engine = create_engine(f"sqlite:///{home / 'catalog.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT job_name, state, error_message FROM etl_job_runs")).mappings().all()
    engine.dispose()
    return [dict(r) for r in rows]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "part-0.csv").write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    return tmp_path


def driver_args(ws: Path, action: str) -> list[str]:
    """Writes the spec with ``action`` for the region rule; returns the driver's arguments."""
    spec = ws / "orders.yaml"
    spec.write_text(SPEC.replace("REGION_ACTION", action))
    return [
        "--spec",
        str(spec),
        "--JOB_NAME",
        "spec_orders",
        "--input_path",
        str(ws / "raw"),
        f"--output_path={ws / 'out'}",
    ]


def submit(ws: Path, action: str) -> subprocess.CompletedProcess[str]:
    cmd = spark_submit_command(
        DRIVER,
        driver_args(ws, action),
        master="local[2]",
        conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
    )
    env = submit_env({"ETL_HOME": str(ws / "home"), **DRIVER_ENV})
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ws, timeout=600, check=False)


def test_spark_submit_runs_a_spec(workspace):
    proc = submit(workspace, "warn")
    assert proc.returncode == 0, explain(proc)
    metrics = metrics_line(proc.stdout)
    assert metrics["state"] == "SUCCEEDED"
    assert metrics["job"] == "spec_orders" and metrics["run_id"].startswith("jr_")
    assert metrics["sources"]["raw"]["rows"] == 5
    assert metrics["sinks"]["out"]["rows"] == 4
    assert [(r["rule"], r["success"]) for r in metrics["data_quality"]] == [
        ("not_null_order_id", True),
        ("in_set_region", False),
    ]

    table = pq.read_table(workspace / "out" / "orders").to_pylist()
    assert sorted((r["order_id"], r["region"], r["quantity"]) for r in table) == [
        (1, "north", 3),
        (2, "south", 1),
        (4, "mars", 2),
        (5, "west", 4),
    ]
    assert run_rows(workspace / "home") == [{"job_name": "spec_orders", "state": "SUCCEEDED", "error_message": None}]


def test_a_failed_rule_fails_the_run_and_writes_nothing(workspace, spark, monkeypatch, capsys):
    """``spec_main.main`` in this session's Spark, with ETL_HOME in the workspace as spark-submit's
    child has it; the spark-submit path of the driver is test_spark_submit_runs_a_spec's."""
    from etl.jobs import spec_main

    monkeypatch.setenv("ETL_HOME", str(workspace / "home"))
    monkeypatch.delenv("ETL_CATALOG_URL", raising=False)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # Job.init installs its own for a script's process
    # main stops a session it started itself (spark-submit's); made this thread's active session, the
    # test run's session is used as found and left running, its settings untouched
    spark._jvm.SparkSession.setActiveSession(spark._jsparkSession)
    exit_status = spec_main.main([str(DRIVER), *driver_args(workspace, "fail")])
    captured = capsys.readouterr()
    assert exit_status == 1, captured.out[-3000:] + captured.err[-3000:]
    metrics = metrics_line(captured.out)
    assert metrics["state"] == "FAILED"
    assert metrics["error_type"] == "DataQualityError"
    assert "rule 'in_set_region' (in_set on region) failed: 1 unexpected of 4" in metrics["error"]
    assert [r["success"] for r in metrics["data_quality"]] == [True, False]
    assert metrics["sinks"] == {}
    assert not (workspace / "out").exists()
    [row] = run_rows(workspace / "home")
    assert row["state"] == "FAILED"
    assert "DataQualityError" in row["error_message"]


def test_invalid_spec_exits_2_without_starting_spark(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("REGION_ACTION", "warn").replace("ApplyMapping", "ApplyMaping"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl.jobs.spec_main",
            "--spec",
            str(spec),
            "--JOB_NAME",
            "bad",
            "--input_path",
            "/in",
            "--output_path",
            "/out",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env=submit_env({"ETL_HOME": str(tmp_path / "home")}),
    )
    assert proc.returncode == 2, explain(proc)
    metrics = metrics_line(proc.stdout)
    assert metrics["state"] == "FAILED" and metrics["error_type"] == "ConfigError"
    assert f"{spec}: steps.0.transform: Value error, step 'typed': unknown transform 'ApplyMaping'" in metrics["error"]
    assert "unknown transform 'ApplyMaping'" in proc.stderr
    assert not (tmp_path / "home").exists()  # no run was started


def test_missing_required_argument(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "etl.jobs.spec_main", "--JOB_NAME", "x"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env=submit_env(),
    )
    assert proc.returncode == 2, explain(proc)
    assert "the following arguments are required: --spec" in metrics_line(proc.stdout)["error"]
