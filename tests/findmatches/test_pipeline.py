"""FindMatches end to end through Glue's transform classes, on small hand-made customers."""

from __future__ import annotations

import numpy as np
import pytest

from etl.errors import EntityNotFoundError, TransformError
from etl.findmatches.params import FindMatchesParameters
from etl.findmatches.quality import average_precision, confusion
from etl.findmatches.store import MLTransformStore

CUSTOMERS = [
    (1, "John", "Smith", "12 Oak Street", "Springfield", "1980-01-02"),
    (2, "Jon", "Smith", "12 Oak St", "Springfield", "1980-01-02"),
    (3, "John", "Smyth", "12 Oak Street", "Springfeld", "1980-01-02"),
    (4, "Maria", "Garcia", "7 Elm Road", "Riverton", "1975-06-30"),
    (5, "María", "García", "7 Elm Rd", "Riverton", "1975-06-30"),
    (6, "Wei", "Zhang", "99 Pine Avenue", "Lakeside", "1990-11-11"),
    (7, "Olga", "Ivanova", "3 Birch Lane", "Hillview", "1968-03-15"),
    (8, "Olga", "Ivanova", "3 Birch Ln", "Hillview", "1968-03-15"),
    (9, "Peter", "Brown", "45 Cedar Court", "Fairview", "2001-07-04"),
    (10, "Anna", "Kowalski", "8 Maple Drive", "Greenfield", "1985-12-24"),
]
SCHEMA = "id long, first_name string, last_name string, street string, city string, dob string"
ENTITIES = {1: "a", 2: "a", 3: "a", 4: "b", 5: "b", 6: "c", 7: "d", 8: "d", 9: "e", 10: "f"}


@pytest.fixture
def store(glue):
    return MLTransformStore(glue.catalog)


@pytest.fixture
def customers(glue, spark):
    from etl.frame.dynamicframe import DynamicFrame

    return DynamicFrame.fromDF(spark.createDataFrame(CUSTOMERS, SCHEMA), glue, "customers")


def _create(store, name, **extra):
    params = FindMatchesParameters(
        primary_key_column_name="id",
        columns=["first_name", "last_name", "street", "city", {"name": "dob", "kind": "date"}],
        accuracy_cost_tradeoff=1.0,
        **extra,
    )
    if name in {t.name for t in store.list_transforms()}:
        store.delete_transform(name)
    return store.create_transform(name, params)


def _groups(frame) -> set[frozenset[int]]:
    by_match: dict[int, set[int]] = {}
    for row in frame.toDF().select("id", "match_id").collect():
        by_match.setdefault(row["match_id"], set()).add(row["id"])
    return {frozenset(g) for g in by_match.values()}


def test_find_matches_groups_the_duplicates_without_labels(store, customers):
    from awsglueml.transforms import FindMatches

    _create(store, "fm_unsupervised")
    out = FindMatches.apply(frame=customers, transformId="fm_unsupervised", computeMatchConfidenceScores=True)
    groups = _groups(out)
    # Ten records are little to learn from without labels: every group must be one entity, and
    # most duplicates must be found (the labelled tests below hold the model to more).
    assert all(len({ENTITIES[i] for i in group}) == 1 for group in groups)
    assert len(groups) <= 8
    df = out.toDF()
    assert df.columns[: len(customers.toDF().columns)] == customers.toDF().columns
    scores = [r["match_confidence_score"] for r in df.collect()]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_enforced_matches_override_the_model(store, customers, spark, glue):
    from awsglueml.transforms import FindMatches
    from etl.frame.dynamicframe import DynamicFrame

    _create(store, "fm_enforced", enforce_provided_labels=True)
    # Records 6 and 10 share nothing, but a person says they are one customer; 7 and 8 are not.
    labels = spark.createDataFrame(
        [("s1", "x", 6), ("s1", "x", 10), ("s2", "p", 7), ("s2", "q", 8)],
        "labeling_set_id string, label string, id long",
    )
    out = FindMatches.apply(
        frame=customers, transformId="fm_enforced", enforcedMatches=DynamicFrame.fromDF(labels, glue, "labels")
    )
    groups = _groups(out)
    assert frozenset({6, 10}) in groups
    assert frozenset({7}) in groups and frozenset({8}) in groups


def test_incremental_matches_join_existing_entities(store, customers, spark, glue):
    from awsglueml.transforms import FindIncrementalMatches, FindMatches
    from etl.frame.dynamicframe import DynamicFrame

    _create(store, "fm_incremental")
    existing = FindMatches.apply(frame=customers, transformId="fm_incremental")
    before = {r["id"]: r["match_id"] for r in existing.toDF().collect()}
    new = spark.createDataFrame(
        [
            (11, "Jonathan", "Smith", "12 Oak Street", "Springfield", "1980-01-02"),
            (12, "Zed", "Quinn", "1 Nowhere Way", "Faraway", "1999-09-09"),
        ],
        SCHEMA,
    )
    out = FindIncrementalMatches.apply(
        existingFrame=existing, incrementalFrame=DynamicFrame.fromDF(new, glue, "new"), transformId="fm_incremental"
    )
    after = {r["id"]: r["match_id"] for r in out.toDF().collect()}
    assert set(after) == set(range(1, 13))
    assert after[11] == after[1]  # joins the Smith entity
    # Other entities keep their match_id (the Smiths may merge into the smallest of their ids).
    assert all(after[i] == before[i] for i in range(4, 11))
    assert after[1] in {before[1], before[2], before[3]}
    assert after[12] not in before.values()


def test_bad_input_is_named(store, customers, spark, glue):
    from awsglueml.transforms import FindMatches
    from etl.frame.dynamicframe import DynamicFrame

    _create(store, "fm_bad")
    with pytest.raises(EntityNotFoundError):
        FindMatches.apply(frame=customers, transformId="no_such_transform")
    duplicated = DynamicFrame.fromDF(spark.createDataFrame([*CUSTOMERS, CUSTOMERS[0]], SCHEMA), glue, "dups")
    with pytest.raises(TransformError, match=r"not unique.*\b1\b"):
        FindMatches.apply(frame=duplicated, transformId="fm_bad")
    null_key = DynamicFrame.fromDF(spark.createDataFrame([*CUSTOMERS, (None, *CUSTOMERS[0][1:])], SCHEMA), glue, "nk")
    with pytest.raises(TransformError, match=r"1 record\(s\) have a null primary key 'id'"):
        FindMatches.apply(frame=null_key, transformId="fm_bad")
    empty = DynamicFrame.fromDF(spark.createDataFrame([], SCHEMA), glue, "empty")
    with pytest.raises(TransformError, match="empty"):
        FindMatches.apply(frame=empty, transformId="fm_bad")
    no_key = DynamicFrame.fromDF(spark.createDataFrame(CUSTOMERS, SCHEMA).drop("id"), glue, "nokey")
    with pytest.raises(TransformError, match="primary key column 'id'"):
        FindMatches.apply(frame=no_key, transformId="fm_bad")
    if "fm_unknown_column" in {t.name for t in store.list_transforms()}:
        store.delete_transform("fm_unknown_column")
    store.create_transform(
        "fm_unknown_column", FindMatchesParameters(primary_key_column_name="id", columns=["first_name", "nickname"])
    )
    with pytest.raises(TransformError, match="'nickname'"):
        FindMatches.apply(frame=customers, transformId="fm_unknown_column")


def test_registered_for_config_driven_jobs():
    from etl.transforms.base import get_transform

    assert get_transform("FindMatches").__name__ == "FindMatches"
    assert get_transform("FindIncrementalMatches").__name__ == "FindIncrementalMatches"


def test_average_precision_and_confusion_by_hand():
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    truth = np.array([True, False, True, True, False])
    # Thresholds 0.9 (P 1, R 1/3), 0.8 (P 2/3, R 2/3), 0.3 (P 3/4, R 1): AP = 1/3*1 + 1/3*2/3 + 1/3*3/4.
    assert average_precision(scores, truth) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert confusion(scores, truth, 0.5) == (2, 1, 1, 1)
    assert average_precision(scores, np.zeros(5, dtype=bool)) == 0.0
