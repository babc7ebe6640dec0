"""``make demo``, in two parts, from the repository root (it writes under ``catalog/demo``).

1. A Glue script: sample sales CSV in, ``jobs/sales_etl.py`` run by spark-submit, a pruned
   read-back, a crawl of the output into the local catalog and a Spark SQL query over it.
2. A workflow (``conf/workflows/demo_pipeline.yaml``): customer sign-ups with duplicates are
   crawled, then the YAML job ``conf/jobs/dedupe_customers.yaml`` cleans them, dedupes them with
   FindMatches, checks their quality and writes partitioned Parquet and a Delta table. A new day
   of sign-ups lands and the workflow runs again: the bookmarked job reads only the new file.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from rich.console import Console

from etl.errors import JobError
from etl.submit import spark_submit_command, submit_env

JOB = Path(__file__).resolve().parents[1] / "jobs" / "sales_etl.py"
DEMO_ROOT = Path("catalog/demo")  # the paths in conf/crawlers/demo_raw.yaml and the demo workflow
WORKFLOW = Path("conf/workflows/demo_pipeline.yaml")
DEDUPE_JOB = "dedupe_customers"
DEMO_DATABASE = "demo"  # where conf/crawlers/demo_raw.yaml and the demo's own crawl write
ML_TRANSFORM = "demo_customers"
FIRST_DAYS = ("2024-01-01", "2024-01-02")
NEW_DAY = "2024-01-03"


def run_demo(rows: int, customers: int, console: Console) -> None:
    """Both parts of the demo (see the module docstring); raises JobError when a step fails."""
    from etl.session import get_session

    if not WORKFLOW.is_file():
        raise JobError(f"{WORKFLOW} not found: run the demo from the repository root")
    root = DEMO_ROOT.resolve()
    if root.exists():
        shutil.rmtree(root)
    _forget_earlier_demo(console)
    started = time.perf_counter()
    spark = get_session("etl-demo")
    glue_script_demo(spark, rows, root, console)
    workflow_demo(spark, customers, root, console)
    console.print(f"[bold]done[/] in {time.perf_counter() - started:.1f}s; everything is under {root}")


def _forget_earlier_demo(console: Console) -> None:
    """Drop the ``demo`` database an earlier demo catalogued: its tables point at deleted files."""
    from etl.catalog import Catalog
    from etl.errors import EntityNotFoundError

    try:
        Catalog().delete_database(Name=DEMO_DATABASE)
    except EntityNotFoundError:
        return
    console.print(f"(database {DEMO_DATABASE} of an earlier demo removed from the catalog)")


def glue_script_demo(spark: SparkSession, rows: int, root: Path, console: Console) -> None:
    """Part 1: a Glue script through spark-submit, a pruned read, a crawl and Spark SQL."""
    from etl.catalog import Catalog
    from etl.catalog.spark import register
    from etl.config import parse_model
    from etl.context import GlueContext
    from etl.crawler.crawler import Crawler
    from etl.crawler.spec import CrawlerSpec
    from etl.sample_data import write_raw_csv

    raw, out = root / "raw" / "sales", root / "out"
    bad = write_raw_csv(spark, rows, raw)
    console.print(f"[bold]1. sample data[/]: {rows} sales rows + {bad} malformed lines -> {raw}")

    if not JOB.exists():
        raise JobError(f"demo job not found at {JOB}")
    shown = JOB.relative_to(Path.cwd()) if JOB.is_relative_to(Path.cwd()) else JOB
    console.print(f"[bold]2. Glue job[/]: spark-submit {shown}")
    cmd = spark_submit_command(JOB, ["--JOB_NAME", "sales_etl", "--input_path", str(raw), "--output_path", str(out)])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=submit_env(), check=False)
    for line in proc.stdout.splitlines():
        console.print(f"   {line}")
    if proc.returncode != 0:
        console.print(proc.stderr[-3000:])
        raise JobError(f"demo job failed with exit code {proc.returncode}")

    glue = GlueContext(spark)
    t0 = time.perf_counter()
    march = glue.create_dynamic_frame.from_options(
        "s3",
        {"paths": [str(out / "sales")]},
        format="parquet",
        push_down_predicate="year = 2024 AND month = 3",
    )
    n = march.count()
    console.print(
        f'[bold]3. pruned read[/]: push_down_predicate "year = 2024 AND month = 3" -> '
        f"{n} rows in {time.perf_counter() - t0:.1f}s"
    )

    catalog = Catalog()
    spec = parse_model(
        {"Name": "demo_output", "DatabaseName": DEMO_DATABASE, "Targets": {"S3Targets": [{"Path": str(out)}]}},
        CrawlerSpec,
        source="demo",
    )
    crawl = Crawler(spec, catalog).run()
    touched = crawl.tables_created + crawl.tables_updated + crawl.tables_unchanged
    console.print(
        f"[bold]4. crawler[/]: {crawl.files_read} files read in {crawl.duration:.2f}s -> tables "
        f"{', '.join('demo.' + t for t in touched)}; {crawl.partitions_added} partitions added "
        f"(catalog: {catalog.url})"
    )
    for note in crawl.logged_changes:
        console.print(f"   note: {note}")
    register(spark, catalog, [DEMO_DATABASE])
    query = (
        "SELECT customer.region AS region, count(*) AS orders, round(sum(amount), 2) AS revenue "
        "FROM demo.sales WHERE year = 2024 AND month = 3 GROUP BY 1 ORDER BY 1"
    )
    console.print(f"[bold]5. Spark SQL over the catalog[/]: {query}")
    for row in spark.sql(query).collect():
        console.print(f"   {row['region']:<8} {row['orders']:>6} orders  {row['revenue']:>12}")


def workflow_demo(spark: SparkSession, customers: int, root: Path, console: Console) -> None:
    """Part 2: the demo workflow on customer sign-ups, then a bookmarked re-run after a new day."""
    from etl.catalog import Catalog
    from etl.errors import EntityNotFoundError
    from etl.findmatches.params import FindMatchesParameters
    from etl.findmatches.store import MLTransformStore
    from etl.jobs import bookmarks
    from etl.jobs.workflow import load_workflow
    from etl.sample_data import CUSTOMER_COLUMNS, write_raw_customers

    raw = root / "raw" / "customers"
    for batch, day in enumerate(FIRST_DAYS):
        write_raw_customers(raw, day, customers, batch=batch)
    console.print(
        f"[bold]6. sign-ups[/]: {len(FIRST_DAYS)} days x {customers} customer records, about 30% of them "
        f"duplicates with typos, nicknames and other formats -> {raw}"
    )
    catalog = Catalog()
    store = MLTransformStore(catalog)
    try:
        store.get_transform(ML_TRANSFORM)
    except EntityNotFoundError:
        params = FindMatchesParameters(primary_key_column_name="customer_id", columns=list(CUSTOMER_COLUMNS))
        store.create_transform(ML_TRANSFORM, params, "customer sign-ups of the demo")
    console.print(
        f"[bold]7. FindMatches transform[/]: etl findmatches create {ML_TRANSFORM} --primary-key customer_id "
        f"--columns {','.join(CUSTOMER_COLUMNS)}"
    )
    forgotten = bookmarks.reset(catalog.engine, DEDUPE_JOB)
    if forgotten:
        console.print(f"   (bookmark of {DEDUPE_JOB} reset: {forgotten} files from an earlier demo forgotten)")

    workflow = load_workflow(WORKFLOW)
    console.print(f"[bold]8. workflow[/]: etl workflow run {workflow.name}  ({WORKFLOW})")
    first = _run_workflow(workflow, catalog, console)
    _report_job(catalog, first, console)

    write_raw_customers(raw, NEW_DAY, customers, batch=len(FIRST_DAYS))
    console.print(f"[bold]9. a new day lands[/] ({NEW_DAY}); the workflow runs again, the job bookmarked:")
    second = _run_workflow(workflow, catalog, console)
    _report_job(catalog, second, console)

    out = root / "customers"
    delta = spark.read.format("delta").load(str(out / "delta"))
    days = sorted(p.name for p in (out / "parquet").iterdir() if p.name.startswith("signup_date="))
    console.print(
        f"[bold]10. output[/]: Delta table {out / 'delta'} ({delta.count()} customers) and Parquet "
        f"partitions {', '.join(days)}"
    )
    # match_id numbers the entities of one FindMatches run (as in Glue), so count them per run.
    for run, run_days in (("first run", FIRST_DAYS), ("re-run", (NEW_DAY,))):
        counts = (
            delta.where(F.col("signup_date").isin(*run_days))
            .selectExpr("count(*) AS records", "count(DISTINCT match_id) AS entities")
            .first()
        )
        console.print(
            f"   {run} ({', '.join(run_days)}): {counts['records']} customers are {counts['entities']} "
            "entities by match_id"
        )


def _run_workflow(workflow, catalog, console: Console):  # type: ignore[no-untyped-def]
    """Run the workflow to its end, printing its events; raises JobError unless it COMPLETED."""
    from etl.jobs.workflow import WorkflowEngine
    from etl.workflow_cli import print_event

    record = WorkflowEngine(workflow, catalog, on_event=print_event).run({})
    if record.state != "COMPLETED":
        failed = [f"{n.node_name}: {n.error_message}" for n in record.nodes if n.error_message]
        raise JobError(f"workflow {workflow.name} run {record.id} ended {record.state}: {'; '.join(failed)}")
    return record


def _report_job(catalog, record, console: Console) -> None:  # type: ignore[no-untyped-def]
    """What the workflow's job run read, skipped, checked and wrote (from the run history)."""
    from etl.jobs.history import RunHistory

    node = next(n for n in record.nodes if n.node_name == DEDUPE_JOB)
    run = RunHistory(catalog).get(node.run_id)
    metrics = run.metrics
    read = ", ".join(f"{name} {m.get('rows')} rows" for name, m in metrics.get("sources", {}).items())
    console.print(f"   job run {run.id}: {run.state} in {run.duration_seconds or 0:.1f}s; read {read}")
    for ctx, report in (run.bookmark or {}).get("sources", {}).items():
        console.print(
            f"   bookmark {ctx}: read {report['files_read']} file(s) ({report['new']} new, {report['changed']} "
            f"changed), skipped {report['files_skipped']} already processed"
        )
    held = [r["rule"] for r in run.data_quality if r["success"]]
    broken = [f"{r['rule']} ({r['action']})" for r in run.data_quality if not r["success"]]
    quality = metrics.get("quality", {})
    console.print(
        f"   quality: {quality.get('rows_passed')} of {quality.get('rows_checked')} rows passed; "
        f"held: {', '.join(held) or '-'}; did not hold: {', '.join(broken) or '-'}"
    )
    for name, sink in metrics.get("sinks", {}).items():
        console.print(f"   wrote {name}: {sink.get('rows')} rows")
