"""Map and Filter: user Python functions over records, run on Arrow batches.

Records reach the function as Python dicts (nested structs as dicts, arrays as lists, a choice as
its one set value), built a batch at a time from Arrow with ``mapInArrow``: no per-row pickling
and no RDD round trip. A record whose function raises (or, for Map, returns something that is not
a dict) becomes an error record carrying the message, the transform's ``info`` and the input
record as JSON, as in Glue.

Filter keeps the input's Arrow columns and only applies a mask, so kept records are never
re-encoded. Map's output can have any shape, as in Glue: each result is written as JSON text,
the (cached) results are inferred with the same choice-aware inference the JSON reader uses,
then parsed natively. Fields that come out as strings but went in as dates, timestamps or
decimals at the same top-level name get their type back. JSON has no map type: a map the
function returns comes out as a struct of its keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.records import error_frame
from etl.frame.types import is_choice
from etl.io import choices  # a module, not its names: etl.io.choices imports etl.transforms (a cycle)
from etl.transforms.base import Transform
from etl.transforms.paths import quote

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

ERROR = "__etl_error"
INPUT = "__etl_input"
OUTPUT = "__etl_output"
_TYPES_RESTORED = (T.DateType, T.TimestampType, T.TimestampNTZType, T.DecimalType)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"value of type {type(value).__name__} is not JSON serializable: {value!r}")


def to_json_text(record: Any) -> str:
    return json.dumps(record, default=_json_default, ensure_ascii=False)


def _failure(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {frame.filename}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _record_reader(schema: T.StructType) -> Callable[[pa.RecordBatch], list[dict[str, Any]]]:
    """Arrow batch -> list of dicts; choices (if any) are replaced by their one set value."""
    choices = [f.name for f in schema.fields if is_choice(f.dataType)]
    nested = any(_has_nested_choice(f.dataType) for f in schema.fields if not is_choice(f.dataType))
    if not choices and not nested:
        return _records

    def read(batch: pa.RecordBatch) -> list[dict[str, Any]]:
        return [_unwrap(record, schema) for record in _records(batch)]

    return read


def _records(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The batch's rows as dicts; map columns as dicts too (Arrow's default is a list of pairs)."""
    return batch.to_pylist(maps_as_pydicts="strict")


def _has_nested_choice(dtype: T.DataType) -> bool:
    if is_choice(dtype):
        return True
    if isinstance(dtype, T.StructType):
        return any(_has_nested_choice(f.dataType) for f in dtype.fields)
    if isinstance(dtype, T.ArrayType):
        return _has_nested_choice(dtype.elementType)
    return False


def _unwrap(value: Any, dtype: T.DataType) -> Any:
    if value is None:
        return None
    if is_choice(dtype):
        assert isinstance(dtype, T.StructType)
        for f in dtype.fields:
            if value.get(f.name) is not None:
                return _unwrap(value[f.name], f.dataType)
        return None
    if isinstance(dtype, T.StructType):
        return {f.name: _unwrap(value.get(f.name), f.dataType) for f in dtype.fields}
    if isinstance(dtype, T.ArrayType):
        return [_unwrap(v, dtype.elementType) for v in value]
    return value


def filter_rows(df: DataFrame, f: Callable[[dict[str, Any]], Any]) -> DataFrame:
    """``df`` rows where ``f(record)`` is true, plus failing rows flagged in ``__etl_error`` with
    the record, as the function saw it, in ``__etl_input`` (JSON, as Map's error records)."""
    read = _record_reader(df.schema)
    out_schema = T.StructType(
        [*df.schema.fields, T.StructField(ERROR, T.StringType()), T.StructField(INPUT, T.StringType())]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            keep: list[bool] = []
            errors: list[str | None] = []
            inputs: list[str | None] = []
            for record in read(batch):
                try:
                    keep.append(bool(f(record)))
                    errors.append(None)
                    inputs.append(None)
                except Exception as exc:  # the user's function failed on this record
                    keep.append(True)
                    errors.append(_failure(exc))
                    inputs.append(to_json_text(record))
            mask = pa.array(keep, pa.bool_())
            kept = batch.filter(mask)
            flags = [pa.array(values, pa.string()).filter(mask) for values in (errors, inputs)]
            yield pa.RecordBatch.from_arrays([*kept.columns, *flags], names=[*batch.schema.names, ERROR, INPUT])

    return df.mapInArrow(run, out_schema)


def _apply(f: Callable[[dict[str, Any]], Any], record: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(f(record) as JSON text, None)``, or ``(None, why it failed)``."""
    try:
        result = f(dict(record))
        if not isinstance(result, dict):
            return None, f"the function returned {type(result).__name__}, not a record (dict)"
        return to_json_text(result), None
    except Exception as exc:  # the user's function failed on this record (or its result is not JSON)
        return None, _failure(exc)


def map_rows(df: DataFrame, f: Callable[[dict[str, Any]], Any]) -> DataFrame:
    """One row per input: ``f``'s result as JSON text, or the error and the input as JSON."""
    read = _record_reader(df.schema)
    out_schema = T.StructType(
        [
            T.StructField(OUTPUT, T.StringType()),
            T.StructField(ERROR, T.StringType()),
            T.StructField(INPUT, T.StringType()),
        ]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            outputs: list[str | None] = []
            errors: list[str | None] = []
            inputs: list[str | None] = []
            for record in read(batch):
                output, error = _apply(f, record)
                outputs.append(output)
                errors.append(error)
                inputs.append(None if error is None else to_json_text(record))
            yield pa.RecordBatch.from_arrays(
                [pa.array(outputs, pa.string()), pa.array(errors, pa.string()), pa.array(inputs, pa.string())],
                names=[OUTPUT, ERROR, INPUT],
            )

    return df.mapInArrow(run, out_schema)


def _restore_types(df: DataFrame, before: T.StructType) -> DataFrame:
    """Top-level fields that left as strings but came in as dates/timestamps/decimals get their
    type back, unless the function put text there that does not convert (``"n/a"`` in a date
    field): then the field stays a string rather than losing those values. One aggregate query
    counts such values."""
    casts = {}
    for f in df.schema.fields:
        if f.name in before.fieldNames() and isinstance(f.dataType, T.StringType):
            original = before[f.name].dataType
            if isinstance(original, _TYPES_RESTORED):
                casts[f.name] = F.col(quote(f.name)).try_cast(original)
    if not casts:
        return df
    lost = df.agg(
        *[
            F.count_if(F.col(quote(name)).isNotNull() & cast.isNull()).alias(str(i))
            for i, (name, cast) in enumerate(casts.items())
        ]
    ).first()
    assert lost is not None
    kept = {name: cast for i, (name, cast) in enumerate(casts.items()) if not lost[i]}
    return df.withColumns(kept) if kept else df


def _input_order_first(df: DataFrame, input_columns: list[str]) -> DataFrame:
    """Fields the input had, in the input's order, then the new ones (inference sorts names)."""
    kept = [c for c in input_columns if c in df.columns]
    new = [c for c in df.columns if c not in input_columns]
    return df.select(*[F.col(quote(c)) for c in kept + new])


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
        good = flagged.where(F.col(ERROR).isNull()).drop(ERROR, INPUT)
        bad = flagged.where(F.col(ERROR).isNotNull())
        errors = error_frame(
            bad,
            transformation_ctx=transformation_ctx,
            info=info or "Filter",
            message=F.concat(F.lit("Filter function failed: "), F.col(ERROR)),
            source=None,
            input_record=F.col(INPUT),
        )
        return frame.derive(
            good,
            stage_errors=errors,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )


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
        df = frame.toDF()
        # Cached so the function runs once per record for inference and parsing together.
        mapped = map_rows(df, f).persist(StorageLevel.MEMORY_AND_DISK)
        results = mapped.where(F.col(ERROR).isNull()).select(F.col(OUTPUT))
        inferred = choices.infer_json_lines(results, OUTPUT)
        schema, conflicts = inferred if inferred is not None else (T.StructType([]), [])
        parsed = results.select(F.from_json(F.col(OUTPUT), schema).alias("__r")).select("__r.*")
        good = _input_order_first(_restore_types(choices.split_choices(parsed, conflicts), df.schema), df.columns)
        errors = error_frame(
            mapped.where(F.col(ERROR).isNotNull()),
            transformation_ctx=transformation_ctx,
            info=info or "Map",
            message=F.concat(F.lit("Map function failed: "), F.col(ERROR)),
            source=None,
            input_record=F.col(INPUT),
        )
        return frame.derive(
            good,
            stage_errors=errors,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
