"""Issue 2 benchmark: partitioned Parquet through DynamicFrame vs hand-written DataFrame code,
and a one-day read with push_down_predicate vs reading every day and filtering.

    .venv/bin/python bench/bench_io.py [--rows 5000000] [--runs 3]

Both arms of each comparison run in the same Spark session on the same data, alternating
order each run; medians are reported. Results go to bench/out/io.json and stdout.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, machine, median, save, timed  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from etl.context import GlueContext  # noqa: E402
from etl.frame.dynamicframe import DynamicFrame  # noqa: E402
from etl.io import listing  # noqa: E402
from etl.sample_data import sales  # noqa: E402
from etl.session import get_session  # noqa: E402
from etl.transforms.python_functions import Filter  # noqa: E402

KEYS = ["year", "month", "day"]


def aggregate(df):
    return df.agg(F.count("*").alias("n"), F.sum("quantity").alias("q")).collect()[0]


def one_day_of_365(spark, glue, work: Path, existing: str | None, rows: int, runs: int) -> dict:
    """Read one day of 365 daily partitions three ways and time each (median of ``runs``).

    - pushdown: ``push_down_predicate`` on the partition columns (folders pruned at listing).
    - read_all_filter: what a DynamicFrame does without a predicate: every file opened and every
      record read, then filtered (Spark's Parquet row-group skipping is switched off for this
      arm, as Glue's DynamicFrame reader does not push record filters into Parquet).
    - read_all_dynamicframe_filter: Glue's own phrasing of the alternative ("rather than reading
      the complete dataset and applying filters within a DynamicFrame"): every record read into a
      DynamicFrame, then ``Filter.apply`` with a Python predicate on the partition fields.
    - spark_partition_filter: plain Spark with a partition filter, for reference.
    Each arm writes the selected rows to Spark's ``noop`` sink, so every column is materialized.
    """
    data = existing
    if data is None:
        data = str(work / f"prune_{rows}")
        sales(spark, rows).write.mode("overwrite").partitionBy(*KEYS).parquet(data)
    day = "year = 2024 AND month = 3 AND day = 15"
    day_files = [f for f in listing.data_files(listing.locate(data)) if "/year=2024/month=3/day=15/" in f.path]

    def sink(frame) -> int:
        frame.write.format("noop").mode("overwrite").save()
        return 0

    def pushdown():
        frame = glue.create_dynamic_frame.from_options(
            "s3", {"paths": [data]}, format="parquet", push_down_predicate=day).toDF()
        sink(frame)
        return frame

    def read_all_filter():
        spark.conf.set("spark.sql.parquet.filterPushdown", "false")
        try:
            frame = glue.create_dynamic_frame.from_options("s3", {"paths": [data]}, format="parquet").toDF()
            sink(frame.where(F.col("order_date") == F.lit("2024-03-15").cast("date")))
        finally:
            spark.conf.set("spark.sql.parquet.filterPushdown", "true")

    def read_all_dynamicframe_filter():
        frame = glue.create_dynamic_frame.from_options("s3", {"paths": [data]}, format="parquet")
        kept = Filter.apply(frame=frame, f=lambda r: r["year"] == 2024 and r["month"] == 3 and r["day"] == 15)
        sink(kept.toDF())

    def spark_partition_filter():
        sink(spark.read.parquet(data).where(day))

    times = {"pushdown": [], "read_all_filter": [], "read_all_dynamicframe_filter": [],
             "spark_partition_filter": []}
    opened: list[str] = []
    pushdown()  # warm-up, untimed
    for run in range(runs):
        t, frame = timed(pushdown)
        times["pushdown"].append(t)
        opened = frame.inputFiles()
        times["read_all_filter"].append(timed(read_all_filter)[0])
        times["read_all_dynamicframe_filter"].append(timed(read_all_dynamicframe_filter)[0])
        times["spark_partition_filter"].append(timed(spark_partition_filter)[0])
        print(f"one day of 365 ({rows} rows) run {run}: " + ", ".join(f"{k}={v[-1]:.3f}s" for k, v in times.items()))
    same_rows = (glue.create_dynamic_frame.from_options("s3", {"paths": [data]}, format="parquet",
                                                        push_down_predicate=day).count()
                 == spark.read.parquet(data).where(F.col("order_date") == F.lit("2024-03-15").cast("date")).count())
    med = {k: median(v) for k, v in times.items()}
    return {
        "median_seconds": med,
        "pushdown_speedup_vs_read_all_filter": med["read_all_filter"] / med["pushdown"],
        "pushdown_speedup_vs_read_all_dynamicframe_filter": med["read_all_dynamicframe_filter"] / med["pushdown"],
        "pushdown_vs_spark_partition_filter": med["spark_partition_filter"] / med["pushdown"],
        "pushdown_files_opened": len(opened),
        "files_in_that_day": len(day_files),
        "pushdown_opened_only_that_day": sorted(Path(p.replace("file:", "")).name for p in opened)
        == sorted(Path(f.path).name for f in day_files),
        "same_rows_as_filtering": same_rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prune-rows", type=int, nargs="*", default=None,
                        help="Data sizes for the one-day-of-365 comparison (default: --rows).")
    args = parser.parse_args()

    spark = get_session("bench-io", master="local[2]", conf={"spark.ui.enabled": "false",
                                                             "spark.driver.memory": "6g"})
    glue = GlueContext(spark)
    work = OUT / "io"
    shutil.rmtree(work, ignore_errors=True)
    source_path = str(work / "source")
    sales(spark, args.rows).write.parquet(source_path)
    source = spark.read.parquet(source_path)
    print(f"machine: {machine()}\nrows: {args.rows}, runs: {args.runs}")

    # 1. partitioned write + full read: DynamicFrame vs DataFrame.
    times = {"df_write": [], "dyf_write": [], "df_read": [], "dyf_read": []}
    for run in range(args.runs):
        df_path, dyf_path = str(work / f"df_{run}"), str(work / f"dyf_{run}")

        def df_write(df_path=df_path):
            source.write.mode("overwrite").partitionBy(*KEYS).parquet(df_path)

        def dyf_write(dyf_path=dyf_path):
            glue.write_dynamic_frame.from_options(
                DynamicFrame.fromDF(source, glue, "sales"), "s3",
                {"path": dyf_path, "partitionKeys": KEYS, "mode": "overwrite"}, format="parquet")

        def df_read(df_path=df_path):
            return aggregate(spark.read.parquet(df_path))

        def dyf_read(dyf_path=dyf_path):
            return aggregate(glue.create_dynamic_frame.from_options(
                "s3", {"paths": [dyf_path]}, format="parquet").toDF())

        order = [("df", df_write, df_read), ("dyf", dyf_write, dyf_read)]
        if run % 2:
            order.reverse()
        results = {}
        for arm, write, read in order:
            t, _ = timed(write)
            times[f"{arm}_write"].append(t)
            t, value = timed(read)
            times[f"{arm}_read"].append(t)
            results[arm] = value
        assert results["df"] == results["dyf"], results
        print(f"run {run}: " + ", ".join(f"{k}={v[-1]:.2f}s" for k, v in times.items()))

    # 2. one day out of 365: push_down_predicate vs what a DynamicFrame does without one.
    prune_results = {}
    for prune_rows in args.prune_rows or [args.rows]:
        prune_results[prune_rows] = one_day_of_365(spark, glue, work, str(work / "df_0") if prune_rows == args.rows
                                                   else None, prune_rows, args.runs)
    med = {k: median(v) for k, v in times.items()}
    summary = {
        "machine": machine(),
        "rows": args.rows,
        "runs": args.runs,
        "median_seconds": med,
        "write_ratio_dyf_over_df": med["dyf_write"] / med["df_write"],
        "read_ratio_dyf_over_df": med["dyf_read"] / med["df_read"],
        "write_read_ratio_dyf_over_df": (med["dyf_write"] + med["dyf_read"]) / (med["df_write"] + med["df_read"]),
        "one_day_of_365": prune_results,
    }
    path = save("io", summary)
    for key, value in summary.items():
        print(f"{key}: {value}")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
