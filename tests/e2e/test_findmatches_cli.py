"""The FindMatches teaching loop through the ``etl findmatches`` CLI, as a user runs it.

The teaching steps run the CLI in this test session's Spark (typer's runner, same commands and
output); the last step, ``run``, is the real ``etl`` executable in a subprocess starting its own
Spark driver. Each step as a subprocess costs 40-60 s of cold JVM on two cores (the whole flow
took 205 s that way), and one subprocess already proves the executable path.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from subprocess_jvm import DRIVER_ENV
from typer.testing import CliRunner

from etl.cli import app
from etl.findmatches.synthetic import write_customers

pytestmark = pytest.mark.e2e

ETL = Path(sys.executable).parent / "etl"
COLUMNS = "first_name,last_name,email,phone,street,city,postcode,date_of_birth"


def etl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(ETL), *args], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, f"etl {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc


def etl_here(*args: str) -> str:
    """``etl ARGS`` in this process (this session's Spark); its output, after checking it succeeded."""
    result = CliRunner().invoke(app, list(args))
    command = " ".join(args)
    assert result.exit_code == 0, f"etl {command}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result.output


def label_from_truth(generated: Path, labelled: Path) -> int:
    """Fill the labeling file's `label` column from the data's ground-truth entity, as a person would."""
    with generated.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["label"] = row["entity_id"]
    with labelled.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def test_create_label_train_evaluate_run(tmp_path: Path, spark, monkeypatch) -> None:
    data = write_customers(tmp_path / "customers", 400, seed=3, files=2)
    home = tmp_path / "home"
    monkeypatch.setenv("ETL_HOME", str(home))
    monkeypatch.delenv("ETL_CATALOG_URL", raising=False)
    source = ["--path", str(data), "--format", "parquet"]

    etl_here("findmatches", "create", "customers", "--primary-key", "customer_id", "--columns", COLUMNS)
    shown = json.loads(etl_here("findmatches", "show", "customers"))
    assert shown["Status"] == "NOT_READY" and shown["LabelCount"] == 0

    generated = tmp_path / "set.csv"
    out = etl_here("findmatches", "labeling-set", "customers", "-o", str(generated), "--sets", "5", *source)
    with generated.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:2] == ["labeling_set_id", "label"] and "customer_id" in header
    labelled = tmp_path / "labelled.csv"
    count = label_from_truth(generated, labelled)
    assert f"wrote {count} record(s)" in out

    out = etl_here("findmatches", "import-labels", "customers", str(labelled))
    assert f"imported {count} label(s)" in out
    exported = tmp_path / "exported.csv"
    etl_here("findmatches", "export-labels", "customers", str(exported))
    with exported.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == count

    out = etl_here("findmatches", "train", "customers", *source)
    assert "supervised model (labelled)" in out
    metrics = json.loads(etl_here("findmatches", "evaluate", "customers", "--json", "--folds", "2", *source))
    assert 0.0 <= metrics["Precision"] <= 1.0 and 0.0 <= metrics["Recall"] <= 1.0
    assert {c["ColumnName"] for c in metrics["ColumnImportances"]} == set(COLUMNS.split(","))
    assert json.loads(etl_here("findmatches", "show", "customers"))["Status"] == "READY"

    # The trained transform, read back from the catalog by the real executable with its own Spark.
    env = dict(os.environ, ETL_HOME=str(home), **DRIVER_ENV)
    output = tmp_path / "matched"
    out = etl(env, "findmatches", "run", "customers", "-o", str(output), *source).stdout
    assert "entities" in out and "labelled model" in out and "cluster" in out
    matched = pq.read_table(output).to_pandas()
    assert len(matched) == 400 and matched["match_id"].notna().all()
    # Most true duplicates end up together; different entities mostly apart.
    same_entity = matched.groupby("entity_id")["match_id"].nunique()
    assert (same_entity == 1).mean() > 0.9
    assert matched["match_id"].nunique() > 0.8 * matched["entity_id"].nunique()


def test_bad_label_file_names_the_line(tmp_path: Path) -> None:
    env = dict(os.environ, ETL_HOME=str(tmp_path / "home"))
    etl(env, "findmatches", "create", "t", "--primary-key", "id", "--columns", "name")
    bad = tmp_path / "bad.csv"
    bad.write_text("labeling_set_id,label,id,name\ns1,a,1,Ann\ns1,,2,Anne\n", encoding="utf-8")
    proc = subprocess.run(
        [str(ETL), "findmatches", "import-labels", "t", str(bad)], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 2
    assert "bad.csv" in proc.stderr and "line 3" in proc.stderr
