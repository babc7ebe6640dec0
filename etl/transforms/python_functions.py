"""Map and Filter: user Python functions over records, run on Arrow batches.

Records reach the function as Python dicts (nested structs as dicts, arrays as lists, a choice as
its one set value), built a batch at a time from Arrow with ``mapInArrow``: no per-row pickling
and no RDD round trip. A record whose function raises (or, for Map, returns something that is not
a dict) becomes an error record carrying the message, the transform's ``info`` and the input
record as JSON, as in Glue.

Filter keeps the input's Arrow columns and only applies a mask, so kept records are never
re-encoded. With a ``stageThreshold`` or ``totalThreshold`` its one pass is kept (a local
checkpoint, filled by the threshold's count), so the function runs once per record; without one
the output streams, and counting its errors later runs the function again.

Map's output can have any shape, as in Glue: how its results are typed (Arrow, or the JSON
reader's inference when a field holds different kinds of value, which makes a choice) is in
:mod:`etl.transforms.map_stage`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.records import error_frame
from etl.transforms.base import Transform
from etl.transforms.map_stage import map_records
from etl.transforms.record_dicts import ERROR, INPUT, failure, record_reader, to_json_text

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame


def filter_rows(df: DataFrame, f: Callable[[dict[str, Any]], Any]) -> DataFrame:
    """``df`` rows where ``f(record)`` is true, plus failing rows flagged in ``__etl_error`` with
    the record, as the function saw it, in ``__etl_input`` (JSON, as Map's error records)."""
    read = record_reader(df.schema)
    out_schema = T.StructType(
        [*df.schema.fields, T.StructField(ERROR, T.StringType()), T.StructField(INPUT, T.StringType())]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            keep, errors, inputs = _filter_batch(f, read(batch))
            mask = pa.array(keep, pa.bool_())
            kept = batch.filter(mask)
            flags = [pa.array(values, pa.string()).filter(mask) for values in (errors, inputs)]
            yield pa.RecordBatch.from_arrays([*kept.columns, *flags], names=[*batch.schema.names, ERROR, INPUT])

    return df.mapInArrow(run, out_schema)


def _filter_batch(
    f: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]
) -> tuple[list[bool], list[str | None], list[str | None]]:
    """Per record: keep it?, why the function failed, and the record as JSON when it failed
    (a failing record is kept, to leave the stage as an error record). ``f`` runs once per
    record: a tight loop until a record fails, then one guarded call per remaining record."""
    keep: list[bool] = []
    add = keep.append
    try:
        for record in records:
            add(bool(f(record)))
        return keep, [None] * len(keep), [None] * len(keep)
    except Exception as exc:  # the user's function failed on record number len(keep)
        first_failure = exc
    errors: list[str | None] = [None] * len(keep)
    inputs: list[str | None] = [None] * len(keep)

    def failed(record: dict[str, Any], exc: Exception) -> None:
        keep.append(True)
        errors.append(failure(exc))
        inputs.append(to_json_text(record))

    failed(records[len(keep)], first_failure)
    for record in records[len(keep) :]:
        try:
            keep.append(bool(f(record)))
        except Exception as exc:  # the user's function failed on this record
            failed(record, exc)
            continue
        errors.append(None)
        inputs.append(None)
    return keep, errors, inputs


def _downstream(
    frame: DynamicFrame,
    good: DataFrame,
    flagged: DataFrame,
    transform: str,
    transformation_ctx: str,
    info: str,
    stage_threshold: int,
    total_threshold: int,
) -> DynamicFrame:
    """The frame after a function transform: ``good`` records, and the rows of ``flagged`` that
    carry an error as this stage's error records."""
    errors = error_frame(
        flagged.where(F.col(ERROR).isNotNull()),
        transformation_ctx=transformation_ctx,
        info=info or transform,
        message=F.concat(F.lit(f"{transform} function failed: "), F.col(ERROR)),
        source=None,
        input_record=F.col(INPUT),
    )
    return frame.derive(
        good,
        stage_errors=errors,
        transformation_ctx=transformation_ctx,
        stage_threshold=stage_threshold,
        total_threshold=total_threshold,
    )


class Filter(Transform):
    """Keeps the records for which a Python function returns true (Glue's Filter)."""

    def __call__(
        self,
        frame: DynamicFrame,
        f: Callable[[dict[str, Any]], Any],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        if not callable(f):
            raise TransformError(f"Filter: f must be a function, got {type(f).__name__}")
        df = frame.toDF()
        flagged = filter_rows(df, f)
        if stageThreshold or totalThreshold:
            # The threshold check counts this stage's errors now; keep that one pass (filled by
            # the count) so the output and later counts read it instead of calling f again.
            flagged = flagged.localCheckpoint(eager=False)
        good = flagged.where(F.col(ERROR).isNull()).drop(ERROR, INPUT)
        return _downstream(frame, good, flagged, "Filter", transformation_ctx, info, stageThreshold, totalThreshold)


class Map(Transform):
    """Applies a Python function to every record (Glue's Map); the output schema is inferred."""

    def __call__(
        self,
        frame: DynamicFrame,
        f: Callable[[dict[str, Any]], Any],
        preservesPartitioning: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        if not callable(f):
            raise TransformError(f"Map: f must be a function, got {type(f).__name__}")
        good, flagged = map_records(frame.toDF(), f)
        return _downstream(frame, good, flagged, "Map", transformation_ctx, info, stageThreshold, totalThreshold)
