"""The match model: EM on pattern counts, fitting with and without labels, scoring, thresholds."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math

import numpy as np
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.findmatches.columns import KEY, ResolvedColumn
from etl.findmatches.features import NULL_LEVEL, compare, level_name, levels
from etl.findmatches.model import (
    FELLEGI_SUNTER,
    PROBABILITY,
    SUPERVISED,
    MatchModel,
    em,
    fit,
    fit_unsupervised,
    score,
)

# --------------------------------------------------------------------------------- EM on counts

TRUE_M = [np.array([0.05, 0.15, 0.8]), np.array([0.1, 0.2, 0.7]), np.array([0.02, 0.08, 0.9])]
TRUE_U = [np.array([0.7, 0.2, 0.1]), np.array([0.8, 0.15, 0.05]), np.array([0.6, 0.3, 0.1])]
TRUE_PRIOR = 0.2


def expected_counts(total: float = 1e6) -> tuple[np.ndarray, np.ndarray]:
    """Every pattern of three 3-level columns with its expected count under the true model."""
    patterns = np.array(list(itertools.product(range(3), repeat=3)))
    m = np.prod([TRUE_M[k][patterns[:, k]] for k in range(3)], axis=0)
    u = np.prod([TRUE_U[k][patterns[:, k]] for k in range(3)], axis=0)
    return patterns, total * (TRUE_PRIOR * m + (1 - TRUE_PRIOR) * u)


def test_em_recovers_m_u_and_prior():
    patterns, counts = expected_counts()
    result = em(patterns, counts, [3, 3, 3], tolerance=1e-10, max_iterations=5000)
    assert result.converged
    assert result.prior == pytest.approx(TRUE_PRIOR, abs=1e-3)
    for k in range(3):
        np.testing.assert_allclose(result.m[k], TRUE_M[k], atol=2e-3)
        np.testing.assert_allclose(result.u[k], TRUE_U[k], atol=2e-3)


def test_em_ignores_null_levels():
    patterns, counts = expected_counts()
    # the same pairs again with the third column unknown: it must not change m or u of any column
    blanked = patterns.copy()
    blanked[:, 2] = NULL_LEVEL
    result = em(np.vstack([patterns, blanked]), np.r_[counts, counts], [3, 3, 3], tolerance=1e-10, max_iterations=5000)
    assert result.prior == pytest.approx(TRUE_PRIOR, abs=2e-3)
    for k in range(3):
        np.testing.assert_allclose(result.m[k], TRUE_M[k], atol=3e-3)


def test_em_with_every_pattern_labelled_is_the_labelled_level_shares():
    patterns = np.array([[2, 2], [2, 1], [0, 0], [1, 0], [0, 1]])
    counts = np.array([30.0, 10.0, 40.0, 15.0, 5.0])
    labels = np.array([1, 1, 0, 0, 0])
    result = em(patterns, counts, [3, 3], labels=labels)
    assert result.prior == pytest.approx(0.4)
    np.testing.assert_allclose(result.m[0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(result.m[1], [0.0, 0.25, 0.75])
    np.testing.assert_allclose(result.u[0], [0.75, 0.25, 0.0])
    np.testing.assert_allclose(result.u[1], [55 / 60, 5 / 60, 0.0])


# ------------------------------------------------------------------------------ fitting on Spark

COLUMNS = [
    ResolvedColumn("given_name", "name"),
    ResolvedColumn("surname", "name"),
    ResolvedColumn("city", "text"),
    ResolvedColumn("born", "date"),
]
PEOPLE = [
    ("olivia", "harrington", "melbourne", dt.date(1980, 5, 17)),
    ("jack", "mcallister", "brisbane", dt.date(1975, 11, 2)),
    ("charlotte", "nguyen", "adelaide", dt.date(1992, 1, 30)),
    ("william", "kowalski", "perth", dt.date(1968, 7, 9)),
    ("amelia", "fitzgerald", "hobart", dt.date(2001, 3, 14)),
    ("thomas", "okonkwo", "darwin", dt.date(1959, 9, 21)),
    ("isla", "papadopoulos", "canberra", dt.date(1988, 12, 5)),
    ("henry", "vandermeer", "geelong", dt.date(1971, 4, 27)),
    ("grace", "abernethy", "cairns", dt.date(1995, 8, 11)),
    ("lucas", "rosenthal", "townsville", dt.date(1983, 2, 3)),
    ("mia", "castellano", "ballarat", dt.date(1964, 6, 19)),
    ("noah", "delacroix", "bendigo", dt.date(1999, 10, 8)),
]


def typo(text: str, variant: int) -> str:
    """A deterministic small corruption: drop, double or swap a letter near the middle."""
    i = len(text) // 2
    if variant == 0:
        return text[:i] + text[i + 1 :]
    if variant == 1:
        return text[:i] + text[i] + text[i:]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def make_records() -> list[tuple]:
    """Three records per person: the original, one with typos in two columns, one with a missing
    city and a date off by one digit."""
    rows = []
    for p, (given, surname, city, born) in enumerate(PEOPLE):
        rows.append((f"p{p:02d}a", given, surname, city, born, p))
        rows.append((f"p{p:02d}b", typo(given, p % 3), surname, typo(city, (p + 1) % 3), born, p))
        rows.append((f"p{p:02d}c", given, typo(surname, (p + 2) % 3), None, born.replace(day=born.day % 9 + 1), p))
    return rows


@pytest.fixture(scope="module")
def data(spark):
    schema = T.StructType(
        [
            T.StructField(KEY, T.StringType()),
            T.StructField("given_name", T.StringType()),
            T.StructField("surname", T.StringType()),
            T.StructField("city", T.StringType()),
            T.StructField("born", T.DateType()),
            T.StructField("entity", T.IntegerType()),
        ]
    )
    records = spark.createDataFrame(make_records(), schema)
    prepared = records.drop("entity")
    keys = records.select(KEY)
    pairs = (
        keys.alias("a")
        .crossJoin(keys.alias("b"))
        .where(F.col(f"a.{KEY}") < F.col(f"b.{KEY}"))
        .select(F.col(f"a.{KEY}").alias("id_l"), F.col(f"b.{KEY}").alias("id_r"))
    )
    entity = records.select(F.col(KEY).alias("k"), "entity")
    truth = (
        pairs.join(entity.withColumnRenamed("k", "id_l").withColumnRenamed("entity", "e_l"), "id_l")
        .join(entity.withColumnRenamed("k", "id_r").withColumnRenamed("entity", "e_r"), "id_r")
        .select("id_l", "id_r", (F.col("e_l") == F.col("e_r")).alias("is_match"))
    )
    # the features of every pair plus the truth (the model ignores columns it does not use), as a local
    # frame: conftest clears Spark's cache after each test
    features = levels(compare(pairs, prepared, COLUMNS), COLUMNS).join(truth, ["id_l", "id_r"])
    return prepared, spark.createDataFrame(features.collect(), features.schema)


def scored_truth(features, model) -> list[tuple[float, bool]]:
    return [(row[0], row[1]) for row in score(features, model).select(PROBABILITY, "is_match").collect()]


def test_unsupervised_model_separates_matches(data):
    _prepared, features = data
    model = fit_unsupervised(features, COLUMNS)
    assert model.kind == FELLEGI_SUNTER and not model.quality_estimated
    assert any("unestimated" in note for note in model.notes)
    results = scored_truth(features, model)
    matches = [p for p, is_match in results if is_match]
    others = [p for p, is_match in results if not is_match]
    assert len(matches) == 36
    threshold = model.threshold(0.5)
    assert min(matches) >= threshold > max(others)
    importance = model.column_importance()
    assert set(importance) == {c.name for c in COLUMNS}
    assert sum(importance.values()) == pytest.approx(1.0)


def test_supervised_fit_separates_and_counts_labels(spark, data):
    prepared, features = data
    labelled = features.select("id_l", "id_r", "is_match").where(
        F.col("id_l").startswith("p00") | F.col("id_l").startswith("p01")
    )
    keys = sorted(row[0] for row in make_records())
    n_labelled = sum(1 for a, b in itertools.combinations(keys, 2) if a[:3] in ("p00", "p01"))
    model = fit(features.drop(*[level_name(c.name) for c in COLUMNS]), labelled, COLUMNS)
    assert model.kind == SUPERVISED and model.quality_estimated
    assert (model.labelled_pairs, model.labelled_matches) == (n_labelled, 6)
    results = scored_truth(features, model)
    threshold = model.threshold(0.5)
    assert all(p >= threshold for p, is_match in results if is_match)
    assert all(p < threshold for p, is_match in results if not is_match)

    # labels carrying their own features count even when blocking did not produce the pair
    extra = spark.createDataFrame(
        [("p02a", "p03a", False), ("p02a", "p02b", True)], "id_l string, id_r string, is_match boolean"
    )
    with_features = compare(extra.select("id_l", "id_r"), prepared, COLUMNS).join(extra, ["id_l", "id_r"])
    few = features.where(~((F.col("id_l") == "p02a") & F.col("id_r").isin("p03a", "p02b")))
    assert fit(few, with_features, COLUMNS).labelled_pairs == 2
    with pytest.raises(TransformError, match="none of the 2 labelled pairs"):
        fit(few, extra, COLUMNS)


def test_score_is_a_probability_and_null_levels_weigh_nothing(spark, data):
    _prepared, features = data
    model = fit_unsupervised(features, COLUMNS)
    stats = score(features, model).agg(F.min(PROBABILITY), F.max(PROBABILITY)).first()
    assert 0.0 <= stats[0] <= stats[1] <= 1.0
    # a pair where nothing is known scores the prior; one known column moves it by exactly its weight
    schema = ", ".join(f"`{level_name(c.name)}` int" for c in COLUMNS)
    blank = spark.createDataFrame([(NULL_LEVEL,) * 4, (2, NULL_LEVEL, NULL_LEVEL, NULL_LEVEL)], schema)
    probabilities = [row[PROBABILITY] for row in score(blank, model).collect()]
    assert probabilities[0] == pytest.approx(model.prior)
    expected = 1 / (1 + math.exp(-(model.intercept + model.weights("given_name")[2])))
    assert probabilities[1] == pytest.approx(expected)


def test_serialization_round_trip(data):
    _prepared, features = data
    model = fit_unsupervised(features, COLUMNS)
    restored = MatchModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert restored == model
    assert restored.threshold(0.3) == model.threshold(0.3)
    with pytest.raises(TransformError, match="not a stored match model"):
        MatchModel.from_dict({"kind": "fellegi_sunter"})
    broken = model.to_dict()
    broken["m"]["city"] = [0.5, 0.5]
    with pytest.raises(TransformError, match="'city'"):
        MatchModel.from_dict(broken)


def test_threshold_mapping():
    model = MatchModel(kind=FELLEGI_SUNTER, columns=[], m={}, u={}, prior=0.1)
    tradeoffs = np.linspace(0.0, 1.0, 11)
    thresholds = [model.threshold(t) for t in tradeoffs]
    assert all(a > b for a, b in itertools.pairwise(thresholds))
    assert thresholds[0] == pytest.approx(0.99)
    assert model.threshold(0.5) == pytest.approx(0.5)
    assert thresholds[-1] == pytest.approx(0.01)
    with pytest.raises(TransformError, match="precision_recall_tradeoff"):
        model.threshold(1.5)


def test_fitting_nothing_is_an_error(spark):
    empty = spark.createDataFrame([], ", ".join(f"`{level_name(c.name)}` int" for c in COLUMNS))
    with pytest.raises(TransformError, match="no candidate pairs"):
        fit_unsupervised(empty, COLUMNS)
