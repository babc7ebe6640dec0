"""Glue's ``mergeDynamicFrame``: staging records replace source records by primary key."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.errors import TransformError


def merge_frames(source: DataFrame, stage: DataFrame, primary_keys: Sequence[str]) -> DataFrame:
    """Source rows without a staging match (duplicates kept), plus every staging row.

    Keys compare null-safely; columns missing on one side become null.
    """
    if not primary_keys:
        raise TransformError("mergeDynamicFrame needs at least one primary key")
    for side, frame in (("source", source), ("staging", stage)):
        missing = [k for k in primary_keys if k not in frame.columns]
        if missing:
            raise TransformError(f"primary keys {missing} are not columns of the {side} frame")
    # Renamed staging keys keep the join unambiguous when both frames share a lineage.
    stage_keys = stage.select(*[F.col(f"`{k}`").alias(f"__merge_key_{i}") for i, k in enumerate(primary_keys)])
    condition = [
        source[f"`{k}`"].eqNullSafe(stage_keys[f"__merge_key_{i}"]) for i, k in enumerate(primary_keys)
    ]
    kept = source.join(stage_keys, on=condition, how="left_anti")
    return kept.unionByName(stage, allowMissingColumns=True)
