"""Enforced matches: labels that override the model in FindMatches' output (Glue's
``enforcedMatches`` frame and ``EnforceProvidedLabels``).

Both come down to the labels' pairs (:func:`etl.findmatches.labels.labeled_pairs`: records in one
labeling set with the same label match, with different labels do not; sets that disagree on a
pair are an error naming both), split into must-link and cannot-link pairs for clustering.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.errors import TransformError
from etl.findmatches.labels import LABEL, SET_ID, LabelRecord

MAX_ENFORCED_LABELS = 100_000  # labels are people's work: more than this is not a labels frame


def frame_labels(labels: DataFrame, key: str) -> list[LabelRecord]:
    """The rows of an ``enforcedMatches`` frame (``labeling_set_id``, ``label``, the primary key)
    as label records; rows without a key or a label are ignored.

    Labels are small (people wrote them), so they are collected; a frame of more than
    ``MAX_ENFORCED_LABELS`` rows is refused rather than pulled onto the driver.

    Raises:
        TransformError: a column is missing, or the frame is too large to be labels.
    """
    lower = {c.lower(): c for c in labels.columns}
    missing = [c for c in (SET_ID, LABEL, key.lower()) if c not in lower]
    if missing:
        raise TransformError(
            f"labels need the columns labeling_set_id, label and the primary key {key!r}; "
            f"missing {', '.join(missing)} (columns: {', '.join(labels.columns)})"
        )
    rows = (
        labels.select(
            labels[f"`{lower[SET_ID]}`"].cast("string"),
            labels[f"`{lower[LABEL]}`"].cast("string"),
            labels[f"`{lower[key.lower()]}`"].cast("string"),
        )
        .dropna()
        .limit(MAX_ENFORCED_LABELS + 1)
        .collect()
    )
    if len(rows) > MAX_ENFORCED_LABELS:
        raise TransformError(
            f"enforcedMatches has more than {MAX_ENFORCED_LABELS:,} labelled records; it should hold labels "
            "(labeling_set_id, label, key), not the data set"
        )
    return [LabelRecord(labeling_set_id=s, label=label, key=k) for s, label, k in rows]


def split_links(pairs: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(must_link, cannot_link)`` pairs (``id_l``, ``id_r``) from labelled pairs."""
    must = pairs.where(pairs["is_match"]).select("id_l", "id_r")
    cannot = pairs.where(~pairs["is_match"]).select("id_l", "id_r")
    return must, cannot
