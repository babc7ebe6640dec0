"""Running YAML job specs end to end on small files: the example spec, each data-quality action,
catalog sources and sinks, collections, and errors that name the spec's key."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality

from etl.errors import ConfigError, DataQualityError, DataSourceError
from etl.jobs.spec import load_spec
from etl.jobs.spec_runner import run_spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "conf" / "jobs" / "clean_orders.yaml"
HEADER = "order_id,customer_id,region,product,quantity,unit_price,order_date"
ORDERS = [
    "1,C1,north,widget,3,9.99,2024-01-05",  # good
    "2,C2,south,gadget,n/a,5.00,2024-01-06",  # quantity is text: null after ResolveChoice, filtered
    "3,C3,east,gizmo,0,2.50,2024-01-07",  # quantity 0: filtered
    "4,C4,west,widget,2,12.00,2024-02-01",  # good
    "5,C5,mars,gadget,1,3.00,2024-02-02",  # unknown region: warned, kept
    "6,C6,north,gizmo,4,0.00,2024-02-03",  # price 0: quarantined
    "7,C7,south,widget,1,4.00,2024-02-04",  # order 7 twice: both quarantined
    "7,C7,south,widget,2,4.00,2024-02-05",
    "8,C8,central,gadget,5,20000.00,2024-03-01",  # price too high: quarantined
    "9,C9,east,widget,2,7.25,2024-03-02",  # good
]
MALFORMED = '10,C10,north,"unterminated quote,3,1.00,2024-03-03'
CLEAN_SCHEMA = (
    "order_id long, customer_id string, region string, product string, quantity int, "
    "unit_price decimal(10,2), order_date date"
)


def clean_row(line: str) -> tuple:
    oid, cust, region, product, qty, price, day = line.split(",")
    return int(oid), cust, region, product, int(qty), Decimal(price), dt.date.fromisoformat(day)


GOOD = [clean_row(ORDERS[i]) for i in (0, 3, 4, 9)]


def write_orders(folder: Path) -> Path:
    """Two headered CSV files, one in a sub-folder holding the malformed line."""
    (folder / "late").mkdir(parents=True)
    (folder / "part-0.csv").write_text(HEADER + "\n" + "\n".join(ORDERS[:6]) + "\n")
    (folder / "late" / "part-1.csv").write_text(HEADER + "\n" + "\n".join(ORDERS[6:]) + "\n" + MALFORMED + "\n")
    return folder


def columns(df):
    return df.select(*[c.split()[0] for c in CLEAN_SCHEMA.split(", ")])


@pytest.fixture(scope="module")
def example_run(spark, tmp_path_factory):
    from etl.context import GlueContext

    root = tmp_path_factory.mktemp("clean_orders")
    args = {"input_path": str(write_orders(root / "raw")), "output_path": str(root / "out"), "JOB_RUN_ID": "jr_t1"}
    spec = load_spec(EXAMPLE, args)
    metrics = run_spec(spec, GlueContext(spark), args)
    return root / "out", metrics


def test_example_writes_partitioned_parquet_of_the_good_rows(spark, example_run):
    out, _ = example_run
    assert sorted(p.name for p in (out / "orders").iterdir() if p.is_dir()) == [
        "region=east",
        "region=mars",
        "region=north",
        "region=west",
    ]
    written = columns(spark.read.parquet(str(out / "orders")))
    assert_df_equality(written, spark.createDataFrame(GOOD, CLEAN_SCHEMA), ignore_row_order=True, ignore_nullable=True)


def test_example_writes_a_delta_table(spark, example_run):
    out, _ = example_run
    assert (out / "orders_delta" / "_delta_log").is_dir()
    written = columns(spark.read.format("delta").load(str(out / "orders_delta")))
    assert_df_equality(written, spark.createDataFrame(GOOD, CLEAN_SCHEMA), ignore_row_order=True, ignore_nullable=True)


def test_example_quarantines_failing_rows_by_rule(spark, example_run):
    out, metrics = example_run
    dup = columns(spark.read.parquet(str(out / "quarantine" / "one_row_per_order" / "run_id=jr_t1")))
    assert_df_equality(
        dup,
        spark.createDataFrame([clean_row(ORDERS[6]), clean_row(ORDERS[7])], CLEAN_SCHEMA),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    price = spark.read.parquet(str(out / "quarantine" / "price_in_range"))
    assert sorted(r.order_id for r in price.collect()) == [6, 8]
    assert {r.run_id for r in price.collect()} == {"jr_t1"}


def test_example_metrics(example_run):
    _, metrics = example_run
    # ten good CSV records; the malformed line is an error record, not a row
    assert metrics["sources"]["raw_orders"]["rows"] == 10
    assert metrics["sources"]["raw_orders"]["transformation_ctx"] == "raw_orders"
    assert list(metrics["steps"]) == ["resolved", "typed", "valid", "cleaned"]
    assert all(step["seconds"] >= 0 for step in metrics["steps"].values())
    assert metrics["quality"] | {"seconds": 0} == {
        "input": "cleaned",
        "rows_checked": 8,
        "rows_passed": 4,
        "seconds": 0,
    }
    assert metrics["sinks"]["orders_parquet"]["rows"] == 4
    assert metrics["sinks"]["orders_parquet"]["partitions"] == 4
    assert metrics["sinks"]["orders_delta"]["rows"] == 4
    results = {r["rule"]: r for r in metrics["data_quality"]}
    assert list(results) == [
        "order_id_present",
        "schema",
        "row_count",
        "one_row_per_order",
        "price_in_range",
        "known_region",
    ]
    assert {k: results[k]["success"] for k in results} == {
        "order_id_present": True,
        "schema": True,
        "row_count": True,
        "one_row_per_order": False,
        "price_in_range": False,
        "known_region": False,
    }
    assert results["row_count"]["observed_value"] == 8
    for name in ("one_row_per_order", "price_in_range"):
        assert (results[name]["unexpected_count"], results[name]["quarantined_rows"]) == (2, 2)
    assert results["known_region"]["observed_value"] == ["mars"]


def test_fail_action_stops_before_any_sink_is_written(glue, tmp_path, caplog):
    text = EXAMPLE.read_text().replace(
        "values: [north, south, east, west, central], action: warn",
        "values: [north, south, east, west, central], action: fail",
    )
    spec_file = tmp_path / "strict.yaml"
    spec_file.write_text(text)
    args = {"input_path": str(write_orders(tmp_path / "raw")), "output_path": str(tmp_path / "out")}
    metrics: dict = {}
    with pytest.raises(DataQualityError, match="rule 'known_region' .* failed: 1 unexpected of 8"):
        run_spec(load_spec(spec_file, args), glue, args, metrics=metrics)
    assert not (tmp_path / "out").exists()  # no sink, no quarantine
    assert metrics["sinks"] == {}
    assert len(metrics["data_quality"]) == 6
    assert metrics["sources"]["raw_orders"]["rows"] == 10


def test_catalog_sink_and_source_join_and_collections(spark, glue, tmp_path):
    raw = write_orders(tmp_path / "raw")
    (tmp_path / "regions.json").write_text(
        '{"region": "north", "manager": "Ana"}\n{"region": "east", "manager": "Bo"}\n'
    )
    first = tmp_path / "to_catalog.yaml"
    first.write_text(f"""
sources:
  orders: {{path: {raw}, format: csv, format_options: {{withHeader: true}}, recurse: true}}
  regions: {{path: {tmp_path / "regions.json"}, format: json}}
steps:
  - {{name: typed, transform: ApplyMapping, input: orders,
      args: {{mappings: [[order_id, long, order_id, long], [region, string, region, string]]}}}}
  - {{name: joined, transform: Join, input: [typed, regions], args: {{keys1: [region], keys2: [region]}}}}
  - {{name: split, transform: SplitFields, args: {{paths: [order_id, region], name1: keys, name2: people}}}}
sinks:
  table:
    input: split.keys
    catalog: {{database: spec_db, table: order_regions}}
    path: {tmp_path / "warehouse" / "order_regions"}
    format: parquet
    partition_keys: [region]
    enable_update_catalog: true
""")
    metrics = run_spec(load_spec(first, {}), glue, {})
    assert metrics["sinks"]["table"]["rows"] == 4  # orders 1 and 6 (north), 3 and 9 (east)
    table = glue.catalog.get_table("spec_db", "order_regions")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["region"]

    second = tmp_path / "from_catalog.yaml"
    second.write_text(f"""
sources:
  north: {{catalog: {{database: spec_db, table: order_regions}}, push_down_predicate: "region = 'north'"}}
sinks:
  out: {{path: {tmp_path / "north"}, format: json, mode: overwrite}}
""")
    metrics = run_spec(load_spec(second, {}), glue, {})
    north = spark.read.json(str(tmp_path / "north")).select("order_id", "region")
    expected = spark.createDataFrame([(1, "north"), (6, "north")], "order_id long, region string")
    assert_df_equality(north, expected, ignore_row_order=True, ignore_nullable=True)
    assert metrics["sources"]["north"]["rows"] == 2


def test_bad_filter_condition_names_the_step(glue, tmp_path):
    (tmp_path / "in.json").write_text('{"a": 1}\n')
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(f"""
sources:
  raw: {{path: {tmp_path / "in.json"}, format: json}}
steps:
  - {{name: keep, transform: Filter, condition: "nosuchcolumn > 1"}}
sinks:
  out: {{path: {tmp_path / "out"}, format: parquet}}
""")
    with pytest.raises(ConfigError) as info:
        run_spec(load_spec(spec_file, {}), glue, {})
    assert str(info.value).startswith(
        f"{spec_file}: steps.0.condition: step 'keep': 'nosuchcolumn > 1' is not a valid condition"
    )
    assert "nosuchcolumn" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_missing_source_path_names_the_source(glue, tmp_path, caplog):
    spec_file = tmp_path / "missing.yaml"
    spec_file.write_text(f"""
sources:
  raw: {{path: {tmp_path / "nowhere"}, format: csv}}
sinks:
  out: {{path: {tmp_path / "out"}, format: parquet}}
""")
    metrics: dict = {}
    with caplog.at_level(logging.ERROR), pytest.raises(DataSourceError) as info:
        run_spec(load_spec(spec_file, {}), glue, {}, metrics=metrics)
    assert "nowhere" in str(info.value)
    assert info.value.__notes__ == [f"in {spec_file}: sources.raw"]
    assert metrics["sources"] == {} and not (tmp_path / "out").exists()


def test_bookmarked_rerun_reads_only_new_files(spark, glue, tmp_path):
    from etl.jobs.job import Job

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.json").write_text('{"id": 1}\n{"id": 2}\n')
    spec_file = tmp_path / "bookmarked.yaml"
    spec_file.write_text(f"""
sources:
  events: {{path: {raw}, format: json}}
sinks:
  out: {{path: {tmp_path / "out"}, format: parquet, mode: append}}
""")
    args = {"JOB_NAME": "spec_bookmarked", "job_bookmark_option": "job-bookmark-enable"}

    def run() -> dict:
        job = Job(glue)
        job.init("spec_bookmarked", args)
        metrics = run_spec(load_spec(spec_file, args), glue, {**args, "JOB_RUN_ID": job.run_id})
        job.commit()
        return metrics

    first = run()
    (raw / "b.json").write_text('{"id": 3}\n')
    second = run()
    assert (first["sources"]["events"]["rows"], second["sources"]["events"]["rows"]) == (2, 1)
    assert (first["sinks"]["out"]["rows"], second["sinks"]["out"]["rows"]) == (2, 1)
    assert sorted(r.id for r in spark.read.parquet(str(tmp_path / "out")).collect()) == [1, 2, 3]
