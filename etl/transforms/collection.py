"""Glue's transforms over DynamicFrameCollections, and the frame methods Glue also offers as
transform classes (Repartition, Coalesce, Union, ErrorsAsDynamicFrame)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etl.errors import TransformError
from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection
from etl.transforms.base import Transform, get_transform


def _with_thresholds(
    frame: DynamicFrame, transformation_ctx: str, stage_threshold: int, total_threshold: int
) -> DynamicFrame:
    """``frame``, with the thresholds checked (the frame methods these classes wrap take none)."""
    if not (stage_threshold or total_threshold):
        return frame
    return frame.derive(
        frame.toDF(),
        transformation_ctx=transformation_ctx,
        stage_threshold=stage_threshold,
        total_threshold=total_threshold,
    )


def _check_result(result: Any, allowed: tuple[type, ...], transform: str, frame: DynamicFrame) -> Any:
    """``result`` if it is of an ``allowed`` type, else a TransformError naming the frame."""
    if not isinstance(result, allowed):
        wanted = " or ".join(t.__name__ for t in allowed)
        raise TransformError(
            f"{transform}: the function returned {type(result).__name__} for frame {frame.name!r}, not a {wanted}"
        )
    return result


def _check_partitions(num_partitions: int, transform: str) -> None:
    if isinstance(num_partitions, bool) or not isinstance(num_partitions, int) or num_partitions < 1:
        raise TransformError(f"{transform}: num_partitions must be a whole number >= 1, got {num_partitions!r}")


class MapToCollection(Transform):
    """Applies ``callable(frame, transformation_ctx)`` to every frame of a collection (Glue's
    MapToCollection); the result keeps the keys."""

    def __call__(
        self,
        dfc: DynamicFrameCollection,
        callable: Callable[[DynamicFrame, str], DynamicFrame],
        transformation_ctx: str = "",
    ) -> DynamicFrameCollection:
        def checked(frame: DynamicFrame, ctx: str) -> DynamicFrame:
            return _check_result(callable(frame, ctx), (DynamicFrame,), "MapToCollection", frame)

        return dfc.map(checked, transformation_ctx)


class FlatMap(Transform):
    """Applies a transform to every frame of a collection (Glue's FlatMap).

    Each frame is passed to ``BaseTransform.apply`` as the argument ``frame_name`` (usually
    ``"frame"``), with ``transformation_ctx`` and ``base_kwargs``; frames and collections the
    transform returns are gathered in one collection. ``BaseTransform`` may be a class or its
    registered name.
    """

    def __call__(
        self,
        dfc: DynamicFrameCollection,
        BaseTransform: type[Transform] | str,
        frame_name: str,
        transformation_ctx: str = "",
        **base_kwargs: Any,
    ) -> DynamicFrameCollection:
        transform = get_transform(BaseTransform) if isinstance(BaseTransform, str) else BaseTransform

        def apply_one(frame: DynamicFrame, ctx: str) -> DynamicFrame | DynamicFrameCollection:
            result = transform.apply(**{**base_kwargs, frame_name: frame, "transformation_ctx": ctx})
            allowed = (DynamicFrame, DynamicFrameCollection)
            return _check_result(result, allowed, f"FlatMap({transform.__name__})", frame)

        return dfc.flatmap(apply_one, transformation_ctx)


class SelectFromCollection(Transform):
    """The frame stored under ``key`` in a collection (Glue's SelectFromCollection)."""

    def __call__(self, dfc: DynamicFrameCollection, key: str, transformation_ctx: str = "") -> DynamicFrame:
        return dfc.select(key, transformation_ctx)


class ErrorsAsDynamicFrame(Transform):
    """The error records of a frame and every stage upstream, as a DynamicFrame (Glue's
    ErrorsAsDynamicFrame)."""

    def __call__(self, frame: DynamicFrame) -> DynamicFrame:
        return frame.errorsAsDynamicFrame()


class Repartition(Transform):
    """The frame in ``num_partitions`` partitions, with a shuffle (Glue's Repartition)."""

    def __call__(
        self,
        frame: DynamicFrame,
        num_partitions: int,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        _check_partitions(num_partitions, "Repartition")
        result = frame.repartition(num_partitions, transformation_ctx)
        return _with_thresholds(result, transformation_ctx, stageThreshold, totalThreshold)


class Coalesce(Transform):
    """The frame in at most ``num_partitions`` partitions, merged without a shuffle unless
    ``shuffle`` is true (Glue's Coalesce)."""

    def __call__(
        self,
        frame: DynamicFrame,
        num_partitions: int,
        shuffle: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        _check_partitions(num_partitions, "Coalesce")
        result = frame.coalesce(num_partitions, shuffle, transformation_ctx)
        return _with_thresholds(result, transformation_ctx, stageThreshold, totalThreshold)


class Union(Transform):
    """The records of both frames, fields matched by name (Glue's Union); error records of both
    frames carry over."""

    def __call__(
        self,
        frame1: DynamicFrame,
        frame2: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        result = frame1.union(frame2, transformation_ctx)
        return _with_thresholds(result, transformation_ctx, stageThreshold, totalThreshold)
