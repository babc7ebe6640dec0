"""Data-quality rules of a YAML job, checked with great-expectations on the Spark DataFrame.

One ephemeral great-expectations context, one Spark data source over the (cached) DataFrame and
one suite per check: every rule becomes one expectation (``schema`` becomes a column-set
expectation plus a type expectation per column), validated in one pass. great-expectations gives
the verdict and the result record; the actions are then applied in this order:

- ``fail``: when any fail rule did not hold, :class:`~etl.errors.DataQualityError` is raised
  carrying every rule's result, before anything is quarantined or written.
- ``warn``: logged; the rows go on unchanged.
- ``quarantine`` (row rules only): the failing rows are written as Parquet to
  ``<quarantine_path>/<rule name>/run_id=<run id>`` and only the rows failing no quarantine rule
  go on. The split uses native Spark expressions equivalent to the expectations: as in
  great-expectations, nulls are not unexpected for ``unique``, ``between`` and ``in_set`` (only
  ``not_null`` catches them), and ``unique`` flags every row whose value occurs more than once.

Schema types are Spark SQL type names (``bigint``, ``decimal(10,2)``, ``array<string>``);
great-expectations compares the type class (``DecimalType``), and the full type (precision,
element types) is compared here too, so ``decimal(12,2)`` does not pass for ``decimal(10,2)``.

great-expectations is imported only when a job has rules (the import takes several seconds).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import ConfigError, DataQualityError
from etl.io import writer
from etl.jobs.spec import QualityRule

log = logging.getLogger("etl.quality")

SAMPLE = 20  # unexpected values kept in a result (great-expectations' BASIC result format)


@dataclass
class QualityOutcome:
    """The rows that go on and every rule's result (JSON-ready dicts)."""

    passing: DataFrame
    results: list[dict[str, Any]]


def check(
    df: DataFrame,
    rules: Sequence[QualityRule],
    *,
    quarantine_path: str | None = None,
    run_id: str = "",
    results: list[dict[str, Any]] | None = None,
) -> QualityOutcome:
    """Check ``rules`` on ``df`` and apply their actions (see the module docstring).

    Args:
        df: the frame to check; cache it first when it is expensive to recompute (it is read by
            every expectation and again by the quarantine split).
        rules: validated rules (:class:`~etl.jobs.spec.QualityRule`).
        quarantine_path: folder for quarantined rows (required when a rule quarantines).
        run_id: names the quarantine sub-folder ``run_id=<run_id>``.
        results: a list to append the results to as soon as they exist, so a caller still has
            them when this raises.

    Raises:
        DataQualityError: a ``fail`` rule did not hold (nothing was quarantined or written).
        ConfigError: a schema type is not a Spark SQL type.
    """
    results = results if results is not None else []
    expected_types = {r.name: _parse_types(r) for r in rules if r.rule == "schema"}
    verdicts = _validate(df, rules, expected_types)
    for rule in rules:
        results.append(_result(rule, verdicts.get(rule.name or "", []), df.schema, expected_types.get(rule.name)))

    # A quarantine rule that could not be evaluated (e.g. a missing column) cannot split rows.
    failed = [
        r
        for r in results
        if not r["success"] and (r["action"] == "fail" or (r["action"] == "quarantine" and r["exception"]))
    ]
    if failed:
        raise DataQualityError(
            "data quality: " + "; ".join(_describe(r) for r in failed) + " (action fail; nothing was written)",
            results,
        )
    for result in results:
        if result["action"] == "warn" and not result["success"]:
            log.warning("data quality warning: %s", _describe(result))

    split = [
        (rule, result)
        for rule, result in zip(rules, results, strict=True)
        if rule.action == "quarantine" and result["unexpected_count"]
    ]
    if not split:
        return QualityOutcome(df, results)
    # Flags as columns: a window (unique) may not appear in a WHERE clause.
    flags = [f"__etl_dq_{i}" for i in range(len(split))]
    flagged = df.select("*", *[failing_rows(rule, df).alias(f) for (rule, _), f in zip(split, flags, strict=True)])
    for (rule, result), flag in zip(split, flags, strict=True):
        path = f"{(quarantine_path or '').rstrip('/')}/{rule.name}/run_id={run_id or 'unknown'}"
        result["quarantined_rows"] = _write_quarantine(flagged.where(F.col(flag)).drop(*flags), path)
        result["quarantine_path"] = path
        log.warning(
            "data quality: %s; %d row(s) quarantined to %s", _describe(result), result["quarantined_rows"], path
        )
    passing = flagged.where(~reduce(or_, [F.col(f) for f in flags])).drop(*flags)
    return QualityOutcome(passing, results)


# ----- native Spark equivalents of the row expectations -------------------------------------
def failing_rows(rule: QualityRule, df: DataFrame) -> Column:
    """A boolean column, true for the rows great-expectations counts as unexpected for ``rule``."""
    if rule.column not in df.columns:
        raise ConfigError(f"quality rule {rule.name!r}: column {rule.column!r} is not in the frame ({df.columns})")
    col = F.col(f"`{rule.column}`")
    if rule.rule == "not_null":
        return col.isNull()
    if rule.rule == "unique":
        return col.isNotNull() & (F.count(F.lit(1)).over(Window.partitionBy(col)) > 1)
    if rule.rule == "between":
        inside = F.lit(True)
        if rule.min is not None:
            inside = inside & (col >= F.lit(rule.min))
        if rule.max is not None:
            inside = inside & (col <= F.lit(rule.max))
        return col.isNotNull() & ~F.coalesce(inside, F.lit(False))
    if rule.rule == "in_set":
        return col.isNotNull() & ~F.coalesce(col.isin(list(rule.values or [])), F.lit(False))
    raise ConfigError(f"quality rule {rule.name!r}: {rule.rule} is a table rule and has no failing rows")


def _write_quarantine(bad: DataFrame, path: str) -> int:
    observation = Observation()
    observed = bad.observe(observation, F.count(F.lit(1)).alias("rows"))
    writer.write(observed, path, "parquet", mode="overwrite")
    return int(observation.get["rows"])


# ----- great-expectations ---------------------------------------------------------------------
def _parse_types(rule: QualityRule) -> dict[str, T.DataType]:
    parsed = {}
    for column, text in (rule.columns or {}).items():
        try:
            parsed[column] = T._parse_datatype_string(text)
        except Exception as exc:  # a ParseException from the JVM
            raise ConfigError(
                f"quality rule {rule.name!r}: {text!r} (column {column!r}) is not a Spark SQL "
                f"type such as bigint, string, date, decimal(10,2): {str(exc).splitlines()[0]}"
            ) from exc
    return parsed


def _expectations(rule: QualityRule, columns: Sequence[str], types: Mapping[str, T.DataType]) -> list[Any]:
    import great_expectations as gx

    meta = {"rule": rule.name}
    ex = gx.expectations
    column = rule.column or ""
    if rule.rule == "not_null":
        return [ex.ExpectColumnValuesToNotBeNull(column=column, mostly=rule.mostly, meta=meta)]
    if rule.rule == "unique":
        return [ex.ExpectColumnValuesToBeUnique(column=column, mostly=rule.mostly, meta=meta)]
    if rule.rule == "between":
        return [
            ex.ExpectColumnValuesToBeBetween(
                column=column, min_value=rule.min, max_value=rule.max, mostly=rule.mostly, meta=meta
            )
        ]
    if rule.rule == "in_set":
        return [
            ex.ExpectColumnValuesToBeInSet(
                column=column, value_set=list(rule.values or []), mostly=rule.mostly, meta=meta
            )
        ]
    if rule.rule == "row_count":
        return [ex.ExpectTableRowCountToBeBetween(min_value=rule.min, max_value=rule.max, meta=meta)]
    found = [ex.ExpectTableColumnsToMatchSet(column_set=list(types), exact_match=rule.exact, meta=meta)]
    # A type expectation on a missing column would only raise; the column-set result reports it.
    found += [
        ex.ExpectColumnValuesToBeOfType(column=name, type_=type(dtype).__name__, meta=meta)
        for name, dtype in types.items()
        if name in columns
    ]
    return found


def _validate(
    df: DataFrame, rules: Sequence[QualityRule], types: Mapping[str | None, Mapping[str, T.DataType]]
) -> dict[str, list[Any]]:
    """Run every rule's expectations in one suite; the results grouped by rule name."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_spark("etl_job")
    batch = (
        source.add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": df})
    )
    suite = gx.ExpectationSuite(name="etl_job_quality")
    for rule in rules:
        for expectation in _expectations(rule, df.columns, types.get(rule.name, {})):
            suite.add_expectation(expectation)
    outcome = batch.validate(suite, result_format={"result_format": "BASIC", "partial_unexpected_count": SAMPLE})
    grouped: dict[str, list[Any]] = {}
    for result in outcome.results:
        grouped.setdefault(result.expectation_config.meta["rule"], []).append(result)
    return grouped


def _result(
    rule: QualityRule, verdicts: Sequence[Any], schema: T.StructType, expected: Mapping[str, T.DataType] | None
) -> dict[str, Any]:
    """One rule's record for the run history."""
    record: dict[str, Any] = {
        "rule": rule.name,
        "type": rule.rule,
        "column": rule.column,
        "action": rule.action,
        "success": bool(verdicts) and all(bool(v.success) for v in verdicts),
        "observed_value": None,
        "unexpected_count": None,
        "element_count": None,
        "unexpected_percent": None,
        "exception": None,
    }
    errors = sorted({message for v in verdicts for message in _exception_messages(v.exception_info)})
    if errors:
        record["exception"] = "; ".join(errors)
    if not verdicts:
        record["exception"] = "great-expectations returned no result for this rule"
    if rule.rule == "schema":
        return _schema_result(record, verdicts, schema, expected or {}, rule.exact)
    result = verdicts[0].result if verdicts else {}
    if rule.rule == "row_count":
        record["observed_value"] = _jsonable(result.get("observed_value"))
        return record
    record["element_count"] = result.get("element_count")
    record["unexpected_count"] = result.get("unexpected_count")
    record["unexpected_percent"] = _jsonable(result.get("unexpected_percent"))
    record["observed_value"] = _jsonable(result.get("partial_unexpected_list", []))
    return record


def _exception_messages(info: Any) -> list[str]:
    """The messages of an expectation that raised: ``exception_info`` is one record, or one per metric."""
    if not isinstance(info, Mapping):
        return []
    if "raised_exception" in info:
        return [str(info.get("exception_message"))] if info.get("raised_exception") else []
    return [m for value in info.values() for m in _exception_messages(value)]


def _schema_result(
    record: dict[str, Any],
    verdicts: Sequence[Any],
    schema: T.StructType,
    expected: Mapping[str, T.DataType],
    exact: bool,
) -> dict[str, Any]:
    actual = {f.name: f.dataType for f in schema.fields}
    missing = [c for c in expected if c not in actual]
    unexpected = [c for c in actual if c not in expected] if exact else []
    wrong = {
        c: {"expected": t.simpleString(), "observed": actual[c].simpleString()}
        for c, t in expected.items()
        if c in actual and actual[c].simpleString() != t.simpleString()
    }
    record["observed_value"] = {"columns": list(actual), "missing": missing, "unexpected": unexpected, "types": wrong}
    record["unexpected_count"] = len(missing) + len(unexpected) + len(wrong)
    record["success"] = record["success"] and not wrong
    return record


def _describe(result: Mapping[str, Any]) -> str:
    where = f" on {result['column']}" if result.get("column") else ""
    if result.get("exception"):
        detail = f"error: {result['exception']}"
    elif result["type"] in ("row_count", "schema"):
        detail = f"observed {result['observed_value']}"
    else:
        detail = f"{result['unexpected_count']} unexpected of {result['element_count']}"
        if result.get("observed_value"):
            detail += f", e.g. {result['observed_value'][:5]}"
    return f"rule {result['rule']!r} ({result['type']}{where}) failed: {detail}"


def _jsonable(value: Any) -> Any:
    """Values from a result as JSON types (dates as ISO text, decimals and NaN as text)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)
