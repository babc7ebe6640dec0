"""Glue's FindMatches and FindIncrementalMatches transforms (``awsglueml.transforms``).

``transformId`` names a transform stored in the local catalog (``etl findmatches create``); its
parameters, trained model and labels come from there. A transform that was never trained is run
with an unsupervised model fitted on the frame itself, and the log says its quality is
unestimated.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame

from etl.findmatches import model, pipeline, service
from etl.findmatches.columns import resolve_columns
from etl.findmatches.store import MLTransform, MLTransformStore
from etl.transforms.base import Transform

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

log = logging.getLogger("etl.findmatches")


def _load(frame: DynamicFrame, transform_id: str) -> tuple[MLTransformStore, MLTransform, model.MatchModel | None]:
    store = MLTransformStore(frame.glue_ctx.catalog)
    stored = store.get_transform(transform_id)
    trained = model.MatchModel.from_dict(stored.model) if stored.model else None
    if trained is None:
        log.warning(
            "FindMatches %s has no trained model: fitting an unsupervised one on this frame; "
            "its quality is unestimated (label some records and run `etl findmatches train`)",
            transform_id,
        )
    return store, stored, trained


def _links(
    frame: DynamicFrame, store: MLTransformStore, stored: MLTransform, enforced_matches: DynamicFrame | None
) -> tuple[DataFrame | None, DataFrame | None]:
    if enforced_matches is None and not (stored.parameters.enforce_provided_labels and stored.label_count):
        return None, None
    resolve_columns(frame.toDF(), stored.parameters)  # names a missing key or column first
    key_type = frame.toDF().schema[stored.parameters.primary_key_column_name].dataType
    extra = enforced_matches.toDF() if enforced_matches is not None else None
    return service.enforced_links(frame.glue_ctx, store, stored, key_type, extra)


def _log_stages(run: pipeline.MatchRun, transform_id: str) -> None:
    for stage in run.stages:
        log.info("FindMatches %s: %s %.2fs (%d rows)", transform_id, stage.name, stage.seconds, stage.rows)
    for note in run.notes:
        log.info("FindMatches %s: %s", transform_id, note)


class FindMatches(Transform):
    """Finds records that refer to the same entity and gives them one ``match_id`` (Glue's
    FindMatches); ``computeMatchConfidenceScores`` adds ``match_confidence_score``."""

    def __call__(
        self,
        frame: DynamicFrame,
        transformId: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        enforcedMatches: DynamicFrame | None = None,
        computeMatchConfidenceScores: bool = False,
    ) -> DynamicFrame:
        store, stored, trained = _load(frame, transformId)
        must, cannot = _links(frame, store, stored, enforcedMatches)
        run = pipeline.find_matches(
            frame.toDF(),
            stored.parameters,
            trained,
            must_link=must,
            cannot_link=cannot,
            with_confidence=bool(computeMatchConfidenceScores),
        )
        _log_stages(run, transformId)
        return frame.derive(
            run.frame,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )


class FindIncrementalMatches(Transform):
    """Matches new records against an already matched frame (Glue's FindIncrementalMatches):
    the result holds both, every record with a ``match_id``."""

    def __call__(
        self,
        existingFrame: DynamicFrame,
        incrementalFrame: DynamicFrame,
        transformId: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        enforcedMatches: DynamicFrame | None = None,
        computeMatchConfidenceScores: bool = False,
    ) -> DynamicFrame:
        store, stored, trained = _load(existingFrame, transformId)
        must, _cannot = _links(existingFrame, store, stored, enforcedMatches)
        if computeMatchConfidenceScores:
            log.warning("FindIncrementalMatches: confidence scores are not computed for incremental matches")
        run = pipeline.find_incremental_matches(
            existingFrame.toDF(), incrementalFrame.toDF(), stored.parameters, trained, must_link=must
        )
        _log_stages(run, transformId)
        return existingFrame.derive(
            run.frame,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
