"""Issue 4 benchmark: each native transform vs the same hand-written DataFrame code, and Map /
Filter with a Python function vs ``df.rdd.map`` / ``df.rdd.filter`` with the same function.

    .venv/bin/python bench/bench_transforms.py [--rows 2000000] [--runs 9]  (make bench runs 9)

The data are nested order records (a customer struct holding an address struct, an array of
line-item structs, a choice-typed ``provider_id``) written once to Parquet and read back for
every timing. Both arms of a comparison run in the same session on the same data, alternating
which goes first; each arm writes its result to Spark's ``noop`` sink so every output column of
every row is computed. Before a native case is timed, both arms' tables are checked equal on a
3,000-row sample. Medians are reported (wall time, and executor CPU time for native cases), with
the median ratio of runs made back to back, and whether both arms ran the same physical plan;
results go to bench/out/transforms.json.
"""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, machine, median, save, timed  # noqa: E402
from executor_cpu import ExecutorCpu  # noqa: E402
from pyspark.errors import PySparkAssertionError  # noqa: E402
from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.testing import assertDataFrameEqual  # noqa: E402

from etl.context import GlueContext  # noqa: E402
from etl.frame.dynamicframe import DynamicFrame  # noqa: E402
from etl.frame.types import choice_column  # noqa: E402
from etl.session import get_session  # noqa: E402
from etl.transforms import (  # noqa: E402
    ApplyMapping,
    DropFields,
    DropNullFields,
    Filter,
    Join,
    Map,
    Relationalize,
    RenameField,
    ResolveChoice,
    SelectFields,
    SplitFields,
    SplitRows,
    UnnestFrame,
)

CITIES = ["Lisbon", "Porto", "Seattle", "Austin", "Berlin", "Osaka"]


def orders(spark, rows: int) -> DataFrame:
    """``rows`` nested order records, deterministic."""
    rnd = lambda salt: F.abs(F.hash(F.col("id"), F.lit(salt)))  # noqa: E731
    city = F.element_at(F.array(*[F.lit(c) for c in CITIES]), (rnd(1) % len(CITIES) + 1).cast("int"))
    items = F.transform(
        F.sequence(F.lit(1), (rnd(2) % 3 + 1).cast("int")),
        lambda i: F.struct(
            F.format_string("SKU%04d", (rnd(3) + i) % 5000).alias("sku"),
            F.round(((rnd(4) + i * 7) % 10_000) / 100.0, 2).alias("price"),
            ((rnd(5) + i) % 5 + 1).cast("int").alias("qty"),
        ),
    )
    numeric_provider = rnd(6) % 10 != 0
    return spark.range(rows).select(
        F.col("id").alias("order_id"),
        F.struct(
            F.format_string("Customer %d", rnd(7) % 100_000).alias("name"),
            F.struct(city.alias("city"), F.format_string("%05d", rnd(8) % 99_999).alias("zip")).alias("address"),
        ).alias("customer"),
        items.alias("items"),
        choice_column(
            {
                "long": F.when(numeric_provider, rnd(9) % 1_000_000),
                "string": F.when(~numeric_provider, F.format_string("P-%d", rnd(9) % 1000)),
            }
        ).alias("provider_id"),
        F.when(rnd(10) % 4 == 0, "returned").otherwise("shipped").alias("status"),
        F.round((rnd(11) % 100_000) / 100.0, 2).alias("amount"),
        F.lit(None).cast("string").alias("always_null"),
    )


def sink(df: DataFrame) -> None:
    df.write.format("noop").mode("overwrite").save()


def as_dataframes(result) -> dict[str, DataFrame]:
    """An arm's result (DataFrame, DynamicFrame, a dict of them or a DynamicFrameCollection) as
    named DataFrames."""
    if not hasattr(result, "keys"):
        result = {"result": result}
    frames = {key: result[key] for key in list(result.keys())}
    return {key: frame if isinstance(frame, DataFrame) else frame.toDF() for key, frame in frames.items()}


def sink_all(result) -> None:
    """Write every frame of an arm's result to the ``noop`` sink."""
    for frame in as_dataframes(result).values():
        sink(frame)


def physical_plan(df: DataFrame) -> str:
    """``df``'s physical plan without expression ids, plan ids or lambda variable numbers, so
    that two plans built separately compare equal when Spark runs the same operators."""
    plan = df._jdf.queryExecution().executedPlan().toString()  # noqa: SLF001 - no public plan API
    for pattern in (r"#\d+L?", r"plan_id=\d+", r"(?<=\bx)_\d+"):
        plan = re.sub(pattern, "", plan)
    return plan


def same_plans(ours, baseline) -> bool:
    """Whether both arms' results run as the same Spark plans (table for table)."""
    ours_plans = [physical_plan(df) for df in as_dataframes(ours).values()]
    baseline_plans = [physical_plan(df) for df in as_dataframes(baseline).values()]
    return ours_plans == baseline_plans


def same_results(ours, baseline) -> bool:
    """Whether both arms give the same tables with the same columns and rows (in any order)."""
    ours_frames, baseline_frames = as_dataframes(ours), as_dataframes(baseline)
    if list(ours_frames) != list(baseline_frames):
        print(f"tables differ: {list(ours_frames)} vs {list(baseline_frames)}", flush=True)
        return False
    try:
        for key, frame in ours_frames.items():
            assertDataFrameEqual(frame, baseline_frames[key])
    except PySparkAssertionError as exc:
        print(f"table {key!r} differs: {str(exc)[:2000]}", flush=True)
        return False
    return True


def native_cases(spark, glue, data: DataFrame, customers: DataFrame) -> dict[str, tuple[Callable, Callable]]:
    """name -> (DynamicFrame arm, hand-written DataFrame arm); each builds its result (a frame, or a
    collection or dict of them) without writing it."""
    dyf = lambda: DynamicFrame.fromDF(data, glue, "orders")  # noqa: E731
    cust_dyf = lambda: DynamicFrame.fromDF(customers, glue, "customers")  # noqa: E731
    mapping = [
        ("order_id", "long", "id", "long"),
        ("customer.name", "string", "customer_name", "string"),
        ("customer.address.city", "string", "city", "string"),
        ("amount", "double", "amount", "decimal(10,2)"),
        ("status", "string", "status", "string"),
    ]
    return {
        "ApplyMapping": (
            lambda: ApplyMapping.apply(frame=dyf(), mappings=mapping).toDF(),
            lambda: data.select(
                F.col("order_id").cast("long").alias("id"),
                F.col("customer.name").alias("customer_name"),
                F.col("customer.address.city").alias("city"),
                F.col("amount").cast("decimal(10,2)").alias("amount"),
                F.col("status"),
            ),
        ),
        "DropFields": (
            lambda: DropFields.apply(frame=dyf(), paths=["status", "customer.address.zip"]).toDF(),
            lambda: data.drop("status").withColumn("customer", F.col("customer").dropFields("address.zip")),
        ),
        "SelectFields": (
            lambda: SelectFields.apply(frame=dyf(), paths=["order_id", "customer.name", "amount"]).toDF(),
            lambda: data.select(
                "order_id",
                F.when(F.col("customer").isNotNull(), F.struct(F.col("customer.name").alias("name"))).alias("customer"),
                "amount",
            ),
        ),
        "RenameField": (
            lambda: RenameField.apply(frame=dyf(), old_name="customer.name", new_name="customer.full_name").toDF(),
            lambda: data.withColumn(  # the field keeps its place; a null customer stays null
                "customer",
                F.when(
                    F.col("customer").isNotNull(),
                    F.struct(F.col("customer.name").alias("full_name"), F.col("customer.address").alias("address")),
                ),
            ),
        ),
        "ResolveChoice": (
            lambda: ResolveChoice.apply(frame=dyf(), specs=[("provider_id", "cast:long")]).toDF(),
            lambda: data.withColumn(
                "provider_id",
                F.coalesce(F.col("provider_id.long"), F.col("provider_id.string").try_cast("bigint")),
            ),
        ),
        "Join": (
            lambda: Join.apply(frame1=dyf(), frame2=cust_dyf(), keys1=["order_id"], keys2=["cust_order"]).toDF(),
            lambda: data.join(customers, data["order_id"] == customers["cust_order"]),
        ),
        "SplitFields": (
            lambda: SplitFields.apply(frame=dyf(), paths=["order_id", "amount"], name1="a", name2="b"),
            lambda: ({"a": data.select("order_id", "amount"), "b": data.drop("order_id", "amount")}),
        ),
        "SplitRows": (
            lambda: SplitRows.apply(frame=dyf(), comparison_dict={"amount": {">": 500}}, name1="a", name2="b"),
            lambda: (
                {
                    "a": data.where(F.col("amount") > 500),
                    "b": data.where(~(F.col("amount") > 500) | F.col("amount").isNull()),
                }
            ),
        ),
        "UnnestFrame": (
            lambda: UnnestFrame.apply(frame=dyf()).toDF(),
            lambda: data.select(
                "order_id",
                *_flat_customer(),
                "items",
                "provider_id",
                "status",
                "amount",
                "always_null",
            ),
        ),
        "DropNullFields": (
            lambda: DropNullFields.apply(frame=dyf()).toDF(),
            lambda: _hand_drop_null_fields(data),
        ),
        "Relationalize": (
            lambda: Relationalize.apply(frame=dyf(), name="root"),
            lambda: _hand_relationalize(data),
        ),
        "Relationalize (staged)": (
            lambda: Relationalize.apply(frame=dyf(), staging_path=str(OUT / "transforms" / "ours"), name="root"),
            lambda: _hand_relationalize(data, str(OUT / "transforms" / "hand")),
        ),
    }


def _flat_customer() -> list:
    """The customer struct's leaves as top-level columns named by their dotted paths, by hand."""
    return [F.col(path).alias(path) for path in ("customer.name", "customer.address.city", "customer.address.zip")]


def _hand_drop_null_fields(df: DataFrame) -> DataFrame:
    """The same checks by hand: does any record hold a value, for every field at every depth
    (array elements through ``exists``), then drop what holds none."""
    item = lambda f: F.exists("items", lambda x: x[f].isNotNull())  # noqa: E731
    checks = {
        "order_id": F.col("order_id").isNotNull(),
        "customer": F.col("customer").isNotNull(),
        "customer.name": F.col("customer.name").isNotNull(),
        "customer.address": F.col("customer.address").isNotNull(),
        "customer.address.city": F.col("customer.address.city").isNotNull(),
        "customer.address.zip": F.col("customer.address.zip").isNotNull(),
        "items": F.col("items").isNotNull(),
        "items.sku": item("sku"),
        "items.price": item("price"),
        "items.qty": item("qty"),
        "provider_id": F.col("provider_id.long").isNotNull() | F.col("provider_id.string").isNotNull(),
        "status": F.col("status").isNotNull(),
        "amount": F.col("amount").isNotNull(),
        "always_null": F.col("always_null").isNotNull(),
    }
    row = df.agg(
        *[F.bool_or(F.coalesce(c, F.lit(False))).alias(f"c{i}") for i, c in enumerate(checks.values())]
    ).first()
    empty = [name for i, name in enumerate(checks) if not row[i]]
    return df.drop(*[n for n in empty if "." not in n])


def _hand_relationalize(df: DataFrame, staging: str | None = None) -> dict[str, DataFrame]:
    """The same tables by hand: a generated key, materialized once so both tables agree on it
    (as any correct hand-written version must), then made dense (1..n, as Glue numbers them) from
    per-partition row counts; the root flattened (a null array gets a null key) and the array
    pivoted. With ``staging``, tables go through Parquet there, as Relationalize stages them."""
    keyed = df.withColumn("__key", F.monotonically_increasing_id())
    if staging:
        keyed.write.mode("overwrite").parquet(f"{staging}/root")
        keyed = df.sparkSession.read.parquet(f"{staging}/root")
    else:
        keyed = keyed.localCheckpoint()
    partition = F.shiftright("__key", 33)  # monotonically_increasing_id puts the partition above bit 33
    offsets, total = [], 0
    for part, count in sorted(tuple(row) for row in keyed.groupBy(partition).count().collect()):
        offsets += [F.lit(part), F.lit(total)]
        total += count
    dense = F.element_at(F.create_map(*offsets), partition) + F.col("__key").bitwiseAND((1 << 33) - 1) + 1
    keyed = keyed.withColumn("__key", dense)
    root = keyed.select(
        "order_id",
        *_flat_customer(),
        F.when(F.col("items").isNotNull(), F.col("__key")).alias("items"),
        "provider_id",
        "status",
        "amount",
        "always_null",
    )
    child = keyed.select(F.col("__key").alias("id"), F.posexplode("items").alias("index", "item")).select(
        "id",
        "index",
        F.col("item.sku").alias("items.val.sku"),
        F.col("item.price").alias("items.val.price"),
        F.col("item.qty").alias("items.val.qty"),
    )
    if staging:
        child.write.mode("overwrite").parquet(f"{staging}/root_items")
        child = df.sparkSession.read.parquet(f"{staging}/root_items")
    return {"root": root, "root_items": child}


def python_function_cases(spark, glue, data: DataFrame) -> dict[str, tuple[Callable, Callable]]:
    """Map and Filter with one Python function each, through the transform and through RDDs."""
    flat = data.select("order_id", "status", "amount", F.col("customer.address.city").alias("city"))
    out_schema = "order_id bigint, status string, amount double, city string, amount_eur double, big boolean"

    def add_fields(record):
        record["amount_eur"] = round(record["amount"] * 0.92, 2)
        record["big"] = record["amount"] > 500
        return record

    def is_big_in_lisbon(record):
        return record["city"] == "Lisbon" and record["amount"] > 500

    return {
        "Map": (
            lambda: sink(Map.apply(frame=DynamicFrame.fromDF(flat, glue, "f"), f=add_fields).toDF()),
            lambda: sink(spark.createDataFrame(flat.rdd.map(lambda row: add_fields(row.asDict(True))), out_schema)),
        ),
        "Filter": (
            lambda: sink(Filter.apply(frame=DynamicFrame.fromDF(flat, glue, "f"), f=is_big_in_lisbon).toDF()),
            lambda: sink(
                spark.createDataFrame(flat.rdd.filter(lambda row: is_big_in_lisbon(row.asDict(True))), flat.schema)
            ),
        ),
    }


def release_checkpoints(spark) -> None:
    """Free the blocks of earlier runs' local checkpoints before the next run: Spark drops them
    only when the JVM garbage-collects their RDDs, which otherwise happens at random points
    inside later timed runs (3 s to 8.5 s for the same arm in one measurement)."""
    gc.collect()  # drop Python's references to earlier DataFrames, then the JVM's objects
    spark.sparkContext._jvm.System.gc()  # noqa: SLF001 - bench only; ContextCleaner frees blocks
    time.sleep(0.5)


def compare(spark, name: str, ours: Callable, baseline: Callable, runs: int, cpu: ExecutorCpu | None = None) -> dict:
    """Both arms ``runs`` times, alternating which goes first: median wall seconds, their ratio
    and the median ratio of back-to-back runs; with ``cpu``, the same for executor CPU seconds."""
    ours()  # warm-up, untimed
    baseline()
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    cpu_times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for run in range(runs):
        order = [("ours", ours), ("baseline", baseline)]
        if run % 2:
            order.reverse()
        for arm, fn in order:
            spark.catalog.clearCache()  # no run may reuse another's cached data
            release_checkpoints(spark)
            mark = cpu.last_stage() if cpu else 0
            times[arm].append(timed(fn)[0])
            if cpu:
                cpu_times[arm].append(cpu.seconds_since(mark))
    result = _ratios(times)
    line = (
        f"{name}: ours {result['median_seconds']['ours']:.2f}s, baseline {result['median_seconds']['baseline']:.2f}s,"
        f" ratio {result['ratio_ours_over_baseline']:.3f} (paired {result['median_paired_ratio']:.3f})"
    )
    result["runs_seconds"] = times
    if cpu:
        cpu_result = _ratios(cpu_times)
        cpu_result["runs_seconds"] = cpu_times
        result["executor_cpu"] = cpu_result
        line += (
            f"; executor cpu ours {cpu_result['median_seconds']['ours']:.2f}s, baseline"
            f" {cpu_result['median_seconds']['baseline']:.2f}s, ratio {cpu_result['ratio_ours_over_baseline']:.3f}"
            f" (paired {cpu_result['median_paired_ratio']:.3f})"
        )
    print(line, flush=True)
    return result


def _ratios(times: dict[str, list[float]]) -> dict:
    med = {k: median(v) for k, v in times.items()}
    # Each run's two arms ran back to back, so their ratio cancels most of the drift in the
    # machine's speed over a case (JIT, garbage, page cache) that the two medians do not.
    paired = median([o / b for o, b in zip(times["ours"], times["baseline"], strict=True)])
    return {
        "median_seconds": med,
        "ratio_ours_over_baseline": med["ours"] / med["baseline"],
        "median_paired_ratio": paired,
    }


SAMPLE_ROWS = 3000


def sample_cases(spark, glue, data: DataFrame, customers: DataFrame, work: Path) -> dict:
    """The native cases on the first SAMPLE_ROWS orders (and their customers), stored as Parquet
    so that every read sees the same rows in the same order, for checking results, not timing."""
    data.limit(SAMPLE_ROWS).write.parquet(str(work / "sample_orders"))
    sample = spark.read.parquet(str(work / "sample_orders"))
    customers.join(sample, customers["cust_order"] == sample["order_id"], "left_semi").write.parquet(
        str(work / "sample_customers")
    )
    return native_cases(spark, glue, sample, spark.read.parquet(str(work / "sample_customers")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="Names of the cases to run.")
    args = parser.parse_args()

    spark = get_session(
        "bench-transforms", master="local[2]", conf={"spark.ui.enabled": "false", "spark.driver.memory": "6g"}
    )
    glue = GlueContext(spark)
    work = OUT / "transforms"
    shutil.rmtree(work, ignore_errors=True)
    orders(spark, args.rows).write.parquet(str(work / "orders"))
    data = spark.read.parquet(str(work / "orders"))
    customers = data.select(F.col("order_id").alias("cust_order"), F.col("customer.name").alias("cust_name")).where(
        F.col("order_id") % 2 == 0
    )
    customers.write.parquet(str(work / "customers"))
    customers = spark.read.parquet(str(work / "customers"))
    print(f"machine: {machine()}\nrows: {args.rows}, runs: {args.runs}", flush=True)
    samples = sample_cases(spark, glue, data, customers, work)

    cpu = ExecutorCpu(spark)
    native = {}
    for name, (ours, baseline) in native_cases(spark, glue, data, customers).items():
        if args.only is None or name in args.only:
            equal = same_results(samples[name][0](), samples[name][1]())
            print(f"{name}: same results as the hand-written code on {SAMPLE_ROWS} rows: {equal}", flush=True)
            native[name] = compare(
                spark, name, lambda ours=ours: sink_all(ours()), lambda b=baseline: sink_all(b()), args.runs, cpu
            )
            native[name]["same_results_on_sample"] = equal
            native[name]["same_physical_plan"] = same_plans(ours(), baseline())
            print(
                f"{name}: same physical plan as the hand-written code: {native[name]['same_physical_plan']}", flush=True
            )
    python = {}
    for name, (ours, baseline) in python_function_cases(spark, glue, data).items():
        if args.only is None or name in args.only:
            result = compare(spark, name, ours, baseline, args.runs)
            result["speedup_vs_rdd"] = 1 / result["ratio_ours_over_baseline"]
            python[name] = result
    summary = {"machine": machine(), "rows": args.rows, "runs": args.runs, "native": native, "python_functions": python}
    print(f"saved {save('transforms', summary)}")


if __name__ == "__main__":
    main()
