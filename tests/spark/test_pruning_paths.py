"""The Python fast path of partition pruning must agree with Spark SQL wherever it answers."""

from __future__ import annotations

import pytest

from etl.io.listing import PartitionDir
from etl.io.pruning import HIVE_NULL, partition_schema, prune_in_python, prune_with_spark

PARTITIONS = [
    PartitionDir(f"/t/year={y}/month={m}/region={r}", (("year", y), ("month", m), ("region", r)))
    for y in ("2023", "2024")
    for m in ("01", "02", "10", "12")
    for r in ("east", "west", "o'hara", HIVE_NULL)
]

FAST = [
    "year = 2024",
    "year = '2024' AND month = '02'",
    "month > 9",
    "month >= '10' OR region = 'east'",
    "month BETWEEN 2 AND 10",
    "month NOT BETWEEN 2 AND 10",
    "region IN ('east', 'o''hara')",
    "region NOT IN ('east')",
    "region LIKE 'w%'",
    "region NOT LIKE '%st'",
    "region IS NULL",
    "region IS NOT NULL AND NOT (year = 2023)",
    "(year = 2023 OR month = 1) AND region <> 'west'",
]
NEEDS_SPARK = [
    "region = 5",  # text key against a number: Spark casts, the fast path refuses
    "month = 'x'",  # numeric key against non-numeric text
    "month LIKE '1%'",  # LIKE on a numeric key
    "concat(region, '!') = 'east!'",  # a function
    "year + 1 = 2025",  # arithmetic
    'region = "east"',  # double-quoted string literal
]


@pytest.mark.parametrize("predicate", FAST)
def test_fast_path_answers_and_agrees_with_spark(spark, predicate: str) -> None:
    schema = partition_schema(PARTITIONS)
    fast = prune_in_python(PARTITIONS, predicate, schema)
    assert fast is not None, "the fast path should answer this predicate"
    assert fast == prune_with_spark(spark, PARTITIONS, predicate, schema)


@pytest.mark.parametrize("predicate", NEEDS_SPARK)
def test_fast_path_declines_what_spark_must_decide(spark, predicate: str) -> None:
    schema = partition_schema(PARTITIONS)
    assert prune_in_python(PARTITIONS, predicate, schema) is None
    prune_with_spark(spark, PARTITIONS, predicate, schema)  # and Spark does answer it
