"""Comparison features and levels on hand-made pairs whose values can be worked out by hand."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pyspark.sql import types as T

from etl.findmatches.columns import KEY, ResolvedColumn, prepare
from etl.findmatches.features import (
    LEVEL_TABLE,
    NULL_LEVEL,
    compare,
    feature_columns,
    has_features,
    level_count,
    level_name,
    levels,
    token_jaccard,
)

COLUMNS = [
    ResolvedColumn("given_name", "name"),
    ResolvedColumn("surname", "name"),
    ResolvedColumn("city", "text"),
    ResolvedColumn("amount", "numeric"),
    ResolvedColumn("born", "date"),
    ResolvedColumn("code", "exact"),
]

SCHEMA = T.StructType(
    [
        T.StructField(KEY, T.StringType()),
        T.StructField("given_name", T.StringType()),
        T.StructField("surname", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("amount", T.DoubleType()),
        T.StructField("born", T.DateType()),
        T.StructField("code", T.StringType()),
    ]
)

RECORDS = [
    ("k1", "martha", "smith", "new york", 100.0, dt.date(2020, 3, 4), "a1"),
    ("k2", "marhta", "smith", "york new", 110.0, dt.date(2020, 4, 3), "a1"),
    ("k3", "smith", "martha", None, None, None, None),
    ("k4", "dwayne", "jones", "springfield", 0.0, dt.date(1990, 1, 1), "b2"),
    ("k5", "duane", "jonas", "springfeld", 0.0, dt.date(1990, 1, 11), "b3"),
    ("k6", "olga", "brown", "xpringfield", None, None, None),
]


@pytest.fixture(scope="module")
def compared(spark):
    prepared = spark.createDataFrame(RECORDS, SCHEMA)
    pairs = spark.createDataFrame([("k1", "k2"), ("k1", "k3"), ("k4", "k5"), ("k4", "k6")], "id_l string, id_r string")
    rows = levels(compare(pairs, prepared, COLUMNS), COLUMNS).collect()
    return {(r["id_l"], r["id_r"]): r.asDict() for r in rows}


def test_output_columns_are_the_documented_features(spark, compared):
    names = feature_columns(COLUMNS)
    assert list(next(iter(compared.values())))[: 2 + len(names)] == ["id_l", "id_r", *names]
    assert "given_name__swapped" in names and "city__swapped" not in names
    prepared = spark.createDataFrame(RECORDS, SCHEMA)
    pairs = spark.createDataFrame([("k1", "k2")], "id_l string, id_r string")
    assert has_features(compare(pairs, prepared, COLUMNS), COLUMNS)
    assert not has_features(pairs, COLUMNS)


def test_text_features_by_hand(compared):
    row = compared[("k1", "k2")]
    # martha / marhta: Jaro = (1 + 1 + 5/6) / 3, Winkler adds 3 * 0.1 * (1 - Jaro) for the common "mar".
    jaro = (1 + 1 + 5 / 6) / 3
    assert row["given_name__jw"] == pytest.approx(jaro + 0.3 * (1 - jaro))
    assert row["given_name__lev"] == pytest.approx(1 - 2 / 6)  # two substitutions over six letters
    assert row["given_name__jaccard"] == 0.0
    assert row["given_name__exact"] is False
    assert row["given_name__soundex"] is True  # M630 both
    assert row["given_name__swapped"] is False
    assert (row["surname__exact"], row["surname__jw"], row["surname__lev"], row["surname__jaccard"]) == (
        True,
        1.0,
        1.0,
        1.0,
    )
    assert row["city__exact"] is False and row["city__jaccard"] == 1.0  # same tokens, other order

    other = compared[("k4", "k5")]
    assert other["given_name__jw"] == pytest.approx(0.84)  # dwayne / duane, the textbook value
    assert other["given_name__soundex"] is True  # D500 both
    assert other["city__lev"] == pytest.approx(1 - 1 / 11)


def test_swapped_names(compared):
    row = compared[("k1", "k3")]
    assert row["given_name__swapped"] is True and row["surname__swapped"] is True
    assert row["given_name__exact"] is False


def test_numeric_and_date_features_by_hand(compared):
    row = compared[("k1", "k2")]
    assert (row["amount__exact"], row["amount__absdiff"]) == (False, 10.0)
    assert row["amount__reldiff"] == pytest.approx(10 / 110)
    assert (row["born__exact"], row["born__days"], row["born__edits"], row["born__transposed"]) == (False, 30, 2, True)
    assert row["code__exact"] is True
    other = compared[("k4", "k5")]
    assert (other["amount__exact"], other["amount__absdiff"], other["amount__reldiff"]) == (True, 0.0, 0.0)
    assert (other["born__days"], other["born__edits"], other["born__transposed"]) == (10, 1, False)
    assert other["code__exact"] is False


def test_null_on_either_side_gives_null_features(compared):
    row = compared[("k1", "k3")]
    for name in feature_columns(COLUMNS):
        if name.split("__")[0] in ("city", "amount", "born", "code"):
            assert row[name] is None, name


def test_levels(compared):
    def levels_of(pair):
        return {c.name: compared[pair][level_name(c.name)] for c in COLUMNS}

    assert levels_of(("k1", "k2")) == {
        "given_name": 3,  # jw 0.961 >= 0.95
        "surname": 5,  # exact
        "city": 3,  # same set of tokens
        "amount": 1,  # reldiff 0.09
        "born": 3,  # day and month transposed
        "code": 1,
    }
    assert levels_of(("k1", "k3")) == {
        "given_name": 4,
        "surname": 4,
        "city": NULL_LEVEL,
        "amount": NULL_LEVEL,
        "born": NULL_LEVEL,
        "code": NULL_LEVEL,
    }
    assert levels_of(("k4", "k5")) == {
        "given_name": 2,  # jw 0.84 < 0.88 but equal Soundex
        "surname": 2,  # jw 0.907
        "city": 3,  # jw 0.982
        "amount": 3,  # exact
        "born": 3,  # one digit differs
        "code": 0,
    }
    # springfield / xpringfield: no common prefix, so jw is 0.939 < 0.95, but lev is 1 - 1/11 >= 0.9
    assert compared[("k4", "k6")]["city__jw"] < 0.95
    assert compared[("k4", "k6")][level_name("city")] == 3


def test_levels_replace_existing_levels(spark):
    prepared = spark.createDataFrame(RECORDS, SCHEMA)
    pairs = spark.createDataFrame([("k1", "k2")], "id_l string, id_r string")
    once = levels(compare(pairs, prepared, COLUMNS), COLUMNS)
    twice = levels(once, COLUMNS)
    assert twice.columns == once.columns
    assert twice.collect() == once.collect()


def test_level_table_matches_level_counts():
    for kind, table in LEVEL_TABLE.items():
        values = [level for level, _ in table]
        assert sorted(values) == list(range(level_count(kind))), kind


def test_prepare_reads_text_dates_in_common_formats(spark):
    texts = ["1956-04-09", "19560409", "1956/04/09", "09/04/1956", "09.04.1956", "09-04-1956", "12/31/1956"]
    frame = spark.createDataFrame([(i, t) for i, t in enumerate([*texts, "not a date", None])], "id int, born string")
    got = [r["born"] for r in prepare(frame, "id", [ResolvedColumn("born", "date")]).orderBy(KEY).collect()]
    assert got == [dt.date(1956, 4, 9)] * 6 + [dt.date(1956, 12, 31), None, None]


def test_token_jaccard_counts_each_rows_distinct_tokens() -> None:
    left = pa.array(["a b b", "x", None, "ann lee", "é o"])
    right = pa.array(["b a", "y", "z", "ann smith", "o é"])
    assert token_jaccard(left, right).tolist() == [1.0, 0.0, 0.0, 1 / 3, 1.0]  # null: 0, masked by the caller
