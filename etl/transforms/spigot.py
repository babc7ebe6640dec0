"""Spigot: write a sample of a frame's records as JSON, to check a job's transforms mid-way."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.errors import DataSinkError, TransformError, spark_error_summary
from etl.transforms.base import Transform

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

DEFAULT_TOPK = 100


def spigot_options(options: Mapping[str, Any] | str | None) -> tuple[int, float]:
    """(topk, prob) from Glue's spigot options (a dict or its JSON text)."""
    if isinstance(options, str):
        try:
            options = json.loads(options) if options.strip() else {}
        except json.JSONDecodeError as exc:
            raise TransformError(f"Spigot: options are not valid JSON: {exc}") from None
    options = dict(options or {})
    unknown = sorted(set(options) - {"topk", "prob"})
    if unknown:
        raise TransformError(f"Spigot: unknown option(s) {unknown}; Spigot takes 'topk' and 'prob'")
    topk = options.get("topk", DEFAULT_TOPK)
    prob = options.get("prob", 1.0)
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 0:
        raise TransformError(f"Spigot: 'topk' must be a whole number >= 0, got {topk!r}")
    if isinstance(prob, bool) or not isinstance(prob, int | float) or not 0 <= prob <= 1:
        raise TransformError(f"Spigot: 'prob' must be a number between 0 and 1, got {prob!r}")
    return topk, float(prob)


def spigot_sample(df: DataFrame, topk: int, prob: float) -> DataFrame:
    """Each record kept with probability ``prob``, then the first ``topk`` of those."""
    sampled = df if prob >= 1.0 else df.filter(F.rand() < F.lit(prob))
    return sampled.limit(topk)


class Spigot(Transform):
    """Writes sample records to ``path`` as JSON lines and returns the frame unchanged (Glue's
    Spigot).

    Options: ``topk`` (the first k records, default 100) and ``prob`` (the probability of keeping
    each record, default 1); with both, records are sampled first and the first k of the sample
    are written. The write happens when Spigot is called and appends files to ``path``, as a Glue
    S3 sink does.
    """

    def __call__(
        self,
        frame: DynamicFrame,
        path: str,
        options: Mapping[str, Any] | str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        if not path:
            raise TransformError("Spigot: path is required")
        topk, prob = spigot_options(options)
        sample = spigot_sample(frame.toDF(), topk, prob)
        try:
            sample.write.mode("append").json(path)
        except Exception as exc:  # the Spark/Hadoop error, reported with the path
            raise DataSinkError(f"Spigot: could not write the sample to {path!r}: {spark_error_summary(exc)}") from exc
        return frame.derive(
            frame.toDF(),
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
