"""Labels as pairs: records in one labeling set with the same label match, with different
labels do not. Used for training and for enforced matches (Glue's ``enforcedMatches`` frame and
``EnforceProvidedLabels``)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.findmatches.labels import LabelRecord

SET = "labeling_set_id"
LABEL = "label"


def label_pairs(labels: DataFrame, key: str) -> DataFrame:
    """``(id_l, id_r, is_match)`` for every pair of records inside a labeling set.

    A pair labelled in several sets keeps one row; if the sets disagree, a match in any set wins
    (a person said these records are one entity).

    Raises:
        TransformError: ``labels`` lacks ``labeling_set_id``, ``label`` or the key column.
    """
    lower = {c.lower(): c for c in labels.columns}
    missing = [c for c in (SET, LABEL, key.lower()) if c not in lower]
    if missing:
        raise TransformError(
            f"labels need the columns labeling_set_id, label and the primary key {key!r}; "
            f"missing {', '.join(missing)} (columns: {', '.join(labels.columns)})"
        )
    rows = labels.select(
        F.col(f"`{lower[SET]}`").cast("string").alias("set"),
        F.col(f"`{lower[LABEL]}`").cast("string").alias("label"),
        F.col(f"`{lower[key.lower()]}`").alias("id"),
    ).where(F.col("id").isNotNull() & F.col("label").isNotNull())
    left = rows.select("set", F.col("label").alias("label_l"), F.col("id").alias("id_l"))
    right = rows.select("set", F.col("label").alias("label_r"), F.col("id").alias("id_r"))
    pairs = left.join(right, "set").where(F.col("id_l") < F.col("id_r"))
    return pairs.groupBy("id_l", "id_r").agg(F.bool_or(F.col("label_l") == F.col("label_r")).alias("is_match"))


def split_links(pairs: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``(must_link, cannot_link)`` pairs (``id_l``, ``id_r``) from labelled pairs."""
    must = pairs.where(F.col("is_match")).select("id_l", "id_r")
    cannot = pairs.where(~F.col("is_match")).select("id_l", "id_r")
    return must, cannot


def labels_frame(spark: SparkSession, records: Sequence[LabelRecord], key: str, key_type: T.DataType) -> DataFrame:
    """Stored labels as a frame ``labeling_set_id``, ``label``, ``<key>`` (cast to ``key_type``)."""
    rows = [(r.labeling_set_id, r.label, r.key) for r in records]
    frame = spark.createDataFrame(rows, f"{SET} string, {LABEL} string, __key string")
    return frame.select(SET, LABEL, F.col("__key").try_cast(key_type).alias(key))
