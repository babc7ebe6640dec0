"""Enforced matches: a labels frame becomes must-link and cannot-link pairs, checked like stored labels."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from etl.errors import LabelConflictError, TransformError
from etl.findmatches.enforced import frame_labels, split_links
from etl.findmatches.labels import labeled_pairs


def test_a_labels_frame_gives_must_and_cannot_links(spark) -> None:
    frame = spark.createDataFrame(
        [("s1", "a", 1), ("s1", "a", 2), ("s1", "b", 3), ("s2", "x", 4), ("s2", None, 5)],
        "Labeling_Set_Id string, label string, id long",
    )
    records = frame_labels(frame, "id")
    assert [(r.labeling_set_id, r.label, r.key) for r in records] == [
        ("s1", "a", "1"),
        ("s1", "a", "2"),
        ("s1", "b", "3"),
        ("s2", "x", "4"),
    ]  # the row without a label is ignored; column names match case-insensitively
    must, cannot = split_links(labeled_pairs(spark, records, T.LongType()))
    assert sorted(tuple(r) for r in must.collect()) == [(1, 2)]
    assert sorted(tuple(r) for r in cannot.collect()) == [(1, 3), (2, 3)]


def test_a_labels_frame_without_its_columns_is_named(spark) -> None:
    frame = spark.createDataFrame([("s1", 1)], "labeling_set_id string, id long")
    with pytest.raises(TransformError, match="missing label"):
        frame_labels(frame, "id")


def test_sets_that_disagree_are_an_error(spark) -> None:
    rows = [("s1", "a", 1), ("s1", "a", 2), ("s2", "a", 1), ("s2", "b", 2)]
    frame = spark.createDataFrame(rows, "labeling_set_id string, label string, id long")
    with pytest.raises(LabelConflictError, match="1 and 2 match in set.s. s1 but not in set.s. s2"):
        labeled_pairs(spark, frame_labels(frame, "id"), T.LongType())
