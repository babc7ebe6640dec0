"""Crawler benchmark: a first crawl of many small files vs Spark's own schema inference over the
same files, and an incremental (CRAWL_NEW_FOLDERS_ONLY) re-crawl with nothing new.

    .venv/bin/python bench/bench_crawler.py [--files 10000] [--runs 3]

Three tables (JSON lines, CSV with a header, Parquet), each over the same 100 ``dt=...``
partition folders, hold ``--files`` small files between them. Each run crawls them into a
fresh SQLite catalog and times ``spark.read.json`` / ``.csv(header, inferSchema)`` /
``.parquet`` over each table folder, forcing ``.schema`` (the order alternates between runs).
Then a CRAWL_NEW_FOLDERS_ONLY crawler (UpdateBehavior LOG) runs twice on another fresh catalog:
the first run reads everything, the second finds nothing new. Medians are reported; results go
to bench/out/crawler.json and stdout.

Targets: the crawler at least 5x faster than Spark's inference; the re-crawl with nothing new
at most 10% of the first crawl.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from common import OUT, machine, median, save, timed  # noqa: E402

from etl.catalog import Catalog  # noqa: E402
from etl.config import parse_model  # noqa: E402
from etl.crawler.crawler import Crawler, CrawlResult  # noqa: E402
from etl.crawler.spec import CrawlerSpec  # noqa: E402
from etl.session import get_session  # noqa: E402

PARTITIONS = 100
ROWS_PER_FILE = 20
TABLES = ("json", "csv", "parquet")
START = datetime.date(2024, 1, 1)
COLUMNS = ["id", "customer", "amount", "quantity", "paid", "placed_at"]


def _rows(rng: random.Random, first_id: int) -> list[tuple]:
    return [
        (first_id + i, f"cust-{rng.randrange(10_000):05d}", round(rng.uniform(1, 500), 2),
         rng.randrange(1, 20), rng.random() < 0.8,
         f"2024-01-01T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00")
        for i in range(ROWS_PER_FILE)
    ]


def _write(kind: str, path: Path, rows: list[tuple]) -> None:
    if kind == "json":
        lines = (json.dumps(dict(zip(COLUMNS, r, strict=True))) + "\n" for r in rows)
        path.write_text("".join(lines))
    elif kind == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        path.write_text(buf.getvalue())
    else:
        columns = zip(*rows, strict=True)
        pq.write_table(pa.table(dict(zip(COLUMNS, map(list, columns), strict=True))), path)


def generate(root: Path, files: int) -> dict[str, int]:
    """``files`` small files over three tables x 100 ``dt=`` partitions; files per table."""
    rng = random.Random(42)
    shutil.rmtree(root, ignore_errors=True)
    per_table = {kind: files // len(TABLES) + (i < files % len(TABLES))
                 for i, kind in enumerate(TABLES)}
    days = [(START + datetime.timedelta(days=d)).isoformat() for d in range(PARTITIONS)]
    next_id = 0
    for kind, count in per_table.items():
        for n in range(count):
            folder = root / kind / f"dt={days[n % PARTITIONS]}"
            folder.mkdir(parents=True, exist_ok=True)
            _write(kind, folder / f"part-{n // PARTITIONS:05d}.{kind}", _rows(rng, next_id))
            next_id += ROWS_PER_FILE
    return per_table


def crawler_spec(name: str, root: Path, **policies: object) -> CrawlerSpec:
    return parse_model({"Name": name, "DatabaseName": "bench",
                        "Targets": {"S3Targets": [{"Path": str(root)}]}, **policies}, CrawlerSpec)


def crawl(spec: CrawlerSpec, url: str) -> CrawlResult:
    catalog = Catalog(url)
    try:
        return Crawler(spec, catalog).run()
    finally:
        catalog.close()


def spark_inference(spark, root: Path) -> dict[str, list[str]]:
    """Spark's own schema inference over each table folder, forced with ``.schema``."""
    csv_reader = spark.read.option("header", True).option("inferSchema", True)
    schemas = {
        "json": spark.read.json(str(root / "json")).schema,
        "csv": csv_reader.csv(str(root / "csv")).schema,
        "parquet": spark.read.parquet(str(root / "parquet")).schema,
    }
    return {kind: [f.name for f in schema.fields] for kind, schema in schemas.items()}


def check_first_crawl(result: CrawlResult, url: str, files: int, per_table: dict[str, int],
                      spark_columns: dict[str, list[str]]) -> None:
    """The crawl found every file, table and partition, with the columns Spark found."""
    assert result.errors == [], result.errors[:3]
    assert result.files_read == files, (result.files_read, files)
    assert sorted(result.tables_created) == sorted(TABLES), result.tables_created
    assert result.partitions_added == sum(min(n, PARTITIONS) for n in per_table.values())
    catalog = Catalog(url)
    try:
        for kind in TABLES:
            table = catalog.get_table("bench", kind)["Table"]
            ours = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
            ours += [k["Name"] for k in table["PartitionKeys"]]
            assert sorted(ours) == sorted(spark_columns[kind]), (kind, ours, spark_columns[kind])
    finally:
        catalog.close()


def one_run(run: int, spark, data: Path, work: Path, files: int, per_table: dict[str, int],
            everything: CrawlerSpec, new_only: CrawlerSpec) -> dict[str, float]:
    catalogs = work / f"catalogs_{run}"
    shutil.rmtree(catalogs, ignore_errors=True)
    catalogs.mkdir(parents=True)
    first_url = f"sqlite:///{catalogs / 'everything.db'}"
    arms = [("crawler_first", lambda: crawl(everything, first_url)),
            ("spark_inference", lambda: spark_inference(spark, data))]
    if run % 2:
        arms.reverse()  # alternate which arm goes first
    seconds: dict[str, float] = {}
    outcome: dict[str, object] = {}
    for key, arm in arms:
        seconds[key], outcome[key] = timed(arm)
    check_first_crawl(outcome["crawler_first"], first_url, files, per_table,  # type: ignore[arg-type]
                      outcome["spark_inference"])  # type: ignore[arg-type]

    url = f"sqlite:///{catalogs / 'new_only.db'}"
    seconds["new_only_first"], first = timed(lambda: crawl(new_only, url))
    seconds["new_only_rerun"], rerun = timed(lambda: crawl(new_only, url))
    assert first.files_read == files and rerun.files_read == 0, (first.files_read, rerun.files_read)
    assert rerun.files_skipped == files and not rerun.tables_created
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = OUT / "crawler"
    data = work / "data"
    t_gen, per_table = timed(lambda: generate(data, args.files))
    print(f"machine: {machine()}\nfiles: {args.files} ({per_table}), {PARTITIONS} partitions per "
          f"table, runs: {args.runs}; generated in {t_gen:.1f}s")
    spark = get_session("bench-crawler", master="local[2]", conf={"spark.ui.enabled": "false"})
    everything = crawler_spec("bench_all", data)
    new_only = crawler_spec("bench_new", data,
                            RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
                            SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})

    # Warm up both arms (JVM JIT, Python imports) on a small copy, untimed.
    warm = work / "warmup"
    generate(warm, 3 * 10)
    spark_inference(spark, warm)
    shutil.rmtree(work / "catalogs_warmup", ignore_errors=True)
    (work / "catalogs_warmup").mkdir(parents=True)
    crawl(crawler_spec("warmup", warm), f"sqlite:///{work / 'catalogs_warmup' / 'w.db'}")

    times: dict[str, list[float]] = {"crawler_first": [], "spark_inference": [],
                                     "new_only_first": [], "new_only_rerun": []}
    for run in range(args.runs):
        seconds = one_run(run, spark, data, work, args.files, per_table, everything, new_only)
        for key, value in seconds.items():
            times[key].append(value)
        print(f"run {run}: " + ", ".join(f"{k}={v:.3f}s" for k, v in seconds.items()))

    med = {k: median(v) for k, v in times.items()}
    speedup = med["spark_inference"] / med["crawler_first"]
    rerun_fraction = med["new_only_rerun"] / med["new_only_first"]
    summary = {
        "machine": machine(),
        "files": args.files,
        "files_per_table": per_table,
        "partitions_per_table": PARTITIONS,
        "rows_per_file": ROWS_PER_FILE,
        "runs": args.runs,
        "median_seconds": med,
        "all_seconds": times,
        "crawler_files_per_second": args.files / med["crawler_first"],
        "spark_inference_files_per_second": args.files / med["spark_inference"],
        "spark_over_crawler": speedup,
        "crawler_at_least_5x_faster": speedup >= 5,
        "rerun_fraction_of_first": rerun_fraction,
        "rerun_at_most_10_percent": rerun_fraction <= 0.10,
    }
    path = save("crawler", summary)
    for key, value in summary.items():
        if key != "all_seconds":
            print(f"{key}: {value}")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
