"""The transforms benchmark compares like with like: every hand-written arm gives the same tables
as its transform (on a small sample of the benchmark's own data), the check can fail, and the
executor CPU reading counts a job's work."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_transforms as bench  # noqa: E402
from executor_cpu import ExecutorCpu  # noqa: E402


@pytest.fixture(scope="module")
def cases(spark, glue, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_arms")
    bench.orders(spark, 400).write.parquet(str(folder / "orders"))
    data = spark.read.parquet(str(folder / "orders"))
    customers = data.select(F.col("order_id").alias("cust_order"), F.col("customer.name").alias("cust_name"))
    return bench.native_cases(spark, glue, data, customers.where(F.col("cust_order") % 2 == 0))


@pytest.fixture(autouse=True)
def staging_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "OUT", tmp_path)  # the staged Relationalize arms write under OUT


NAMES = [
    "ApplyMapping",
    "DropFields",
    "SelectFields",
    "RenameField",
    "ResolveChoice",
    "Join",
    "SplitFields",
    "SplitRows",
    "UnnestFrame",
    "DropNullFields",
    "Relationalize",
    "Relationalize (staged)",
]


def test_every_native_transform_has_a_case(cases):
    assert list(cases) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_hand_written_arm_gives_the_transforms_tables(cases, name):
    ours, hand = cases[name]
    assert bench.same_results(ours(), hand())


def test_a_different_result_is_caught(cases, capsys):
    assert not bench.same_results(cases["DropFields"][0](), cases["ApplyMapping"][1]())
    hand = cases["SplitRows"][1]()
    assert not bench.same_results(cases["SplitRows"][0](), {"a": hand["b"], "b": hand["a"]})  # same columns, other rows
    assert "differs" in capsys.readouterr().out


def test_executor_cpu_counts_only_the_measured_work(spark):
    cpu = ExecutorCpu(spark)
    before = cpu.last_stage()
    seconds = cpu.measure(lambda: spark.range(3_000_000).select(F.sum(F.col("id") * 3)).collect())
    assert seconds > 0
    assert cpu.last_stage() > before
    assert cpu.seconds_since(cpu.last_stage()) == 0
