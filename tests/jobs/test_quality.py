"""Data-quality rules checked with great-expectations, and each action: fail, warn, quarantine."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from etl.errors import ConfigError, DataQualityError
from etl.jobs import quality
from etl.jobs.spec import QualityRule

ROWS = [
    (1, "north", 5, Decimal("1.50")),
    (2, None, 50, Decimal("2.00")),  # region null; qty out of range
    (2, "south", None, Decimal("3.25")),  # duplicate id; qty null (not "unexpected" for between)
    (3, "mars", 7, Decimal("4.00")),  # region not allowed
    (None, "east", 1, Decimal("5.00")),  # id null (not a duplicate for unique)
    (None, "west", 2, Decimal("6.00")),
]
SCHEMA = "id long, region string, qty int, price decimal(10,2)"


@pytest.fixture(scope="module")
def frame(spark):
    return spark.createDataFrame(ROWS, SCHEMA).cache()


def rule(**kwargs) -> QualityRule:
    return QualityRule.model_validate(kwargs)


def by_name(results):
    return {r["rule"]: r for r in results}


def test_every_rule_kind_is_checked_and_recorded(frame):
    rules = [
        rule(rule="not_null", column="region", action="warn"),
        rule(rule="unique", column="id", action="warn"),
        rule(rule="between", column="qty", min=1, max=10, action="warn"),
        rule(rule="in_set", column="region", values=["north", "south", "east", "west"], action="warn"),
        rule(name="rows_small", rule="row_count", min=1, max=5, action="warn"),
        rule(name="rows_ok", rule="row_count", min=6, max=6, action="warn"),
        rule(
            name="shape",
            rule="schema",
            columns={"id": "bigint", "qty": "int", "price": "decimal(10,2)"},
            exact=False,
            action="warn",
        ),
        rule(name="ids_mostly_present", rule="not_null", column="id", mostly=0.6, action="warn"),
    ]
    outcome = quality.check(frame, rules)
    results = by_name(outcome.results)
    json.dumps(outcome.results)  # stored as JSON with the run

    assert [r["rule"] for r in outcome.results] == [r.name for r in rules]
    assert (results["not_null_region"]["success"], results["not_null_region"]["unexpected_count"]) == (False, 1)
    assert results["not_null_region"]["element_count"] == 6
    # both rows of the duplicated id are unexpected; null ids are not duplicates
    assert (results["unique_id"]["success"], results["unique_id"]["unexpected_count"]) == (False, 2)
    assert results["unique_id"]["observed_value"] == [2, 2]
    assert (results["between_qty"]["success"], results["between_qty"]["unexpected_count"]) == (False, 1)
    assert results["between_qty"]["observed_value"] == [50]
    assert (results["in_set_region"]["success"], results["in_set_region"]["unexpected_count"]) == (False, 1)
    assert results["in_set_region"]["observed_value"] == ["mars"]
    assert (results["rows_small"]["success"], results["rows_small"]["observed_value"]) == (False, 6)
    assert (results["rows_ok"]["success"], results["rows_ok"]["observed_value"]) == (True, 6)
    assert results["shape"]["success"] is True
    assert results["shape"]["observed_value"]["columns"] == ["id", "region", "qty", "price"]
    # 2 of 6 ids are null: 0.67 present passes mostly=0.6
    assert (results["ids_mostly_present"]["success"], results["ids_mostly_present"]["unexpected_count"]) == (True, 2)
    assert {r["action"] for r in outcome.results} == {"warn"}
    assert outcome.passing is frame  # warn changes nothing


def test_native_split_agrees_with_great_expectations(frame):
    rules = [
        rule(rule="not_null", column="region"),
        rule(rule="unique", column="id"),
        rule(rule="between", column="qty", min=1, max=10),
        rule(rule="between", name="price_floor", column="price", min=3),
        rule(rule="in_set", column="region", values=["north", "south", "east", "west"]),
    ]
    verdicts = quality._validate(frame, rules, {})
    results = by_name(quality._result(r, verdicts[r.name or ""], frame.schema, None) for r in rules)
    for r in rules:
        flagged = frame.select(quality.failing_rows(r, frame).alias("bad")).where("bad").count()
        assert flagged == results[r.name]["unexpected_count"], r.name


def test_schema_rule_compares_full_types_and_missing_columns(frame):
    rules = [
        rule(name="precision", rule="schema", columns={"price": "decimal(12,2)"}, exact=False, action="warn"),
        rule(name="exact", rule="schema", columns={"id": "bigint", "region": "string"}, action="warn"),
        rule(name="missing", rule="schema", columns={"id": "bigint", "amount": "double"}, exact=False, action="warn"),
    ]
    results = by_name(quality.check(frame, rules).results)
    precision = results["precision"]
    assert precision["success"] is False  # great-expectations alone only sees DecimalType
    assert precision["observed_value"]["types"] == {"price": {"expected": "decimal(12,2)", "observed": "decimal(10,2)"}}
    assert results["exact"]["success"] is False
    assert results["exact"]["observed_value"]["unexpected"] == ["qty", "price"]
    assert results["missing"]["success"] is False
    assert results["missing"]["observed_value"]["missing"] == ["amount"]


def test_fail_raises_after_recording_results_and_quarantines_nothing(frame, tmp_path):
    rules = [
        rule(rule="in_set", column="region", values=["north", "south", "east", "west"], action="fail"),
        rule(rule="unique", column="id", action="quarantine"),
        rule(rule="not_null", column="price", action="fail"),
    ]
    recorded: list[dict] = []
    with pytest.raises(DataQualityError) as info:
        quality.check(frame, rules, quarantine_path=str(tmp_path / "q"), run_id="r1", results=recorded)
    assert "rule 'in_set_region' (in_set on region) failed: 1 unexpected of 6" in str(info.value)
    assert "not_null_price" not in str(info.value)  # it held
    assert [r["rule"] for r in recorded] == ["in_set_region", "unique_id", "not_null_price"]
    assert info.value.results is recorded
    assert by_name(recorded)["not_null_price"]["success"] is True
    assert not (tmp_path / "q").exists()


def test_warn_logs_and_keeps_every_row(frame, caplog):
    with caplog.at_level(logging.WARNING, logger="etl.quality"):
        outcome = quality.check(frame, [rule(rule="between", column="qty", min=1, max=10, action="warn")])
    assert outcome.results[0]["success"] is False
    assert "rule 'between_qty' (between on qty) failed: 1 unexpected of 6, e.g. [50]" in caplog.text
    assert outcome.passing.count() == 6


def test_quarantine_writes_failing_rows_and_keeps_the_rest(spark, frame, tmp_path):
    rules = [
        rule(rule="unique", column="id", action="quarantine"),
        rule(name="qty_range", rule="between", column="qty", min=1, max=10, action="quarantine"),
        rule(rule="not_null", column="price", action="quarantine"),  # holds: nothing written
    ]
    outcome = quality.check(frame, rules, quarantine_path=str(tmp_path / "q"), run_id="jr_1")
    results = by_name(outcome.results)

    expected_passing = spark.createDataFrame([r for r in ROWS if r[0] != 2], SCHEMA)
    assert_df_equality(outcome.passing, expected_passing, ignore_row_order=True, ignore_nullable=True)

    unique_dir = tmp_path / "q" / "unique_id" / "run_id=jr_1"
    assert results["unique_id"]["quarantine_path"] == str(unique_dir)
    assert results["unique_id"]["quarantined_rows"] == 2 == results["unique_id"]["unexpected_count"]
    quarantined = spark.read.parquet(str(unique_dir))
    assert_df_equality(
        quarantined,
        spark.createDataFrame([r for r in ROWS if r[0] == 2], SCHEMA),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert results["qty_range"]["quarantined_rows"] == 1
    assert spark.read.parquet(str(tmp_path / "q" / "qty_range")).select("id", "qty", "run_id").collect() == [
        (2, 50, "jr_1")
    ]
    assert "quarantined_rows" not in results["not_null_price"]
    assert not (tmp_path / "q" / "not_null_price").exists()


def test_bad_type_and_missing_column(frame, tmp_path):
    with pytest.raises(ConfigError, match=r"quality rule 'shape': 'bigintt' \(column 'id'\) is not a Spark SQL type"):
        quality.check(frame, [rule(name="shape", rule="schema", columns={"id": "bigintt"})])
    recorded: list[dict] = []
    with pytest.raises(DataQualityError, match="rule 'unique_nope'"):
        quality.check(
            frame,
            [rule(rule="unique", column="nope", action="quarantine")],
            quarantine_path=str(tmp_path / "q"),
            results=recorded,
        )
    assert recorded[0]["success"] is False and recorded[0]["exception"]
