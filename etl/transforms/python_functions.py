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
import functools
import json
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_schema

from etl.errors import TransformError
from etl.frame.records import error_frame
from etl.frame.types import is_choice
from etl.io import choices  # a module, not its names: etl.io.choices imports etl.transforms (a cycle)
from etl.transforms import arrow_results
from etl.transforms.base import Transform
from etl.transforms.paths import quote

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

ERROR = "__etl_error"
INPUT = "__etl_input"
OUTPUT = "__etl_output"
BATCH = "__etl_batch"
SCHEMA = "__etl_schema"
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
    records = _records_with_maps if "map<" in schema.simpleString() else _records
    if not choices and not nested:
        return records

    def read(batch: pa.RecordBatch) -> list[dict[str, Any]]:
        return [_unwrap(record, schema) for record in records(batch)]

    return read


def _records(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The batch's rows as dicts."""
    return batch.to_pylist()


def _records_with_maps(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The rows as dicts, map columns as dicts too (Arrow's default is a list of pairs). Several
    times slower than :func:`_records`, so only used when the schema has maps."""
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
            records = read(batch)
            try:  # fast path: the whole batch in one comprehension
                keep = [bool(f(record)) for record in records]
                errors: list[str | None] = [None] * len(keep)
                inputs: list[str | None] = errors
            except Exception:  # some record fails: redo this batch record by record
                keep, errors, inputs = _filter_each(f, read(batch))
            mask = pa.array(keep, pa.bool_())
            kept = batch.filter(mask)
            flags = [pa.array(values, pa.string()).filter(mask) for values in (errors, inputs)]
            yield pa.RecordBatch.from_arrays([*kept.columns, *flags], names=[*batch.schema.names, ERROR, INPUT])

    return df.mapInArrow(run, out_schema)


def _filter_each(
    f: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]
) -> tuple[list[bool], list[str | None], list[str | None]]:
    """Per record: keep it?, why the function failed, and the record as JSON when it failed
    (a failing record is kept, to leave the stage as an error record)."""
    keep: list[bool] = []
    errors: list[str | None] = []
    inputs: list[str | None] = []
    for record in records:
        try:
            keep.append(bool(f(record)))
            errors.append(None)
            inputs.append(None)
        except Exception as exc:  # the user's function failed on this record
            keep.append(True)
            errors.append(_failure(exc))
            inputs.append(to_json_text(record))
    return keep, errors, inputs


def _map_batch(
    f: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]], emit: Callable[..., None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``f`` over one batch: (results, the records they came from); failures are emitted as
    error rows. A batch where nothing fails runs as one comprehension."""
    try:
        results = [f(dict(record)) for record in records]
        if all(type(result) is dict for result in results):
            return results, records
    except Exception:  # some record fails: handled record by record below
        pass
    results, sources = [], []
    for record in records:
        result, error = _call(f, record)
        if error is None:
            results.append(result)  # type: ignore[arg-type]
            sources.append(record)
        else:
            emit(**{ERROR: error, INPUT: to_json_text(record)})
    return results, sources


def _call(f: Callable[[dict[str, Any]], Any], record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """``(f(record), None)``, or ``(None, why it failed)`` (raised, or returned a non-dict)."""
    try:
        result = f(dict(record))
    except Exception as exc:  # the user's function failed on this record
        return None, _failure(exc)
    if not isinstance(result, dict):
        return None, f"the function returned {type(result).__name__}, not a record (dict)"
    return result, None


def _as_json(result: dict[str, Any] | None, error: str | None) -> tuple[str | None, str | None]:
    """The result as JSON text, or why it cannot be written as JSON."""
    if result is None:
        return None, error
    try:
        return to_json_text(result), None
    except Exception as exc:  # a value JSON cannot hold
        return None, _failure(exc)


def map_rows(df: DataFrame, f: Callable[[dict[str, Any]], Any]) -> DataFrame:
    """Run ``f`` over ``df`` once. Per input batch: the results as one Arrow IPC blob (``BATCH``,
    with its schema in ``SCHEMA``), or, when Arrow cannot type them, one JSON text row per result
    (``OUTPUT``); plus one row per failed record (``ERROR`` and the record as JSON in ``INPUT``)."""
    read = _record_reader(df.schema)
    out_schema = T.StructType(
        [
            T.StructField(BATCH, T.BinaryType()),
            T.StructField(SCHEMA, T.BinaryType()),
            T.StructField(OUTPUT, T.StringType()),
            T.StructField(ERROR, T.StringType()),
            T.StructField(INPUT, T.StringType()),
        ]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows: dict[str, list[Any]] = {name: [] for name in out_schema.names}
            emit = functools.partial(_append_row, rows)
            results, sources = _map_batch(f, read(batch), emit)
            encoded = arrow_results.encode(results) if results else None
            if encoded is not None:
                emit(**{BATCH: encoded[0], SCHEMA: encoded[1]})
            else:
                for result, record in zip(results, sources, strict=True):
                    output, error = _as_json(result, None)
                    emit(**{OUTPUT: output, ERROR: error, INPUT: None if error is None else to_json_text(record)})
            yield pa.RecordBatch.from_pydict(rows, schema=_ARROW_STAGE)

    return df.mapInArrow(run, out_schema)


def _append_row(rows: dict[str, list[Any]], **values: Any) -> None:
    for name, column in rows.items():
        column.append(values.get(name))


_ARROW_STAGE = pa.schema(
    [
        pa.field(BATCH, pa.binary()),
        pa.field(SCHEMA, pa.binary()),
        pa.field(OUTPUT, pa.string()),
        pa.field(ERROR, pa.string()),
        pa.field(INPUT, pa.string()),
    ]
)


def _input_decimals(schema: pa.Schema, before: T.StructType) -> pa.Schema:
    """Top-level decimals keep the input field's precision and scale (Arrow infers the smallest
    that holds the values it saw)."""
    fields = []
    for f in schema:
        original = before[f.name].dataType if f.name in before.names else None
        if isinstance(original, T.DecimalType) and pa.types.is_decimal(f.type) and original.scale >= f.type.scale:
            f = pa.field(f.name, pa.decimal128(original.precision, original.scale))
        fields.append(f)
    return pa.schema(fields)


def _decoded(stage: DataFrame, schema: pa.Schema) -> DataFrame:
    """The Arrow blobs of ``stage`` as rows of ``schema``, natively typed."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for blob in batch.column(0).to_pylist():
                yield arrow_results.conform(arrow_results.decode(blob), schema)

    return stage.where(F.col(BATCH).isNotNull()).select(BATCH).mapInArrow(run, from_arrow_schema(schema))


def _as_json_lines(stage: DataFrame) -> DataFrame:
    """Every result of ``stage`` as JSON text (Arrow blobs re-encoded), for JSON inference."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for blob in batch.column(0).to_pylist():
                lines = [to_json_text(r) for r in arrow_results.decode(blob).to_pylist()]
                yield pa.RecordBatch.from_arrays([pa.array(lines, pa.string())], names=[OUTPUT])

    blobs = stage.where(F.col(BATCH).isNotNull()).select(BATCH)
    text = blobs.mapInArrow(run, T.StructType([T.StructField(OUTPUT, T.StringType())]))
    return text.unionByName(stage.where(F.col(OUTPUT).isNotNull()).select(OUTPUT))


def _from_json_lines(lines: DataFrame, before: T.StructType) -> DataFrame:
    """Results that Arrow could not type together, inferred as the JSON reader does (choices)."""
    inferred = choices.infer_json_lines(lines, OUTPUT)
    schema, conflicts = inferred if inferred is not None else (T.StructType([]), [])
    parsed = lines.select(F.from_json(F.col(OUTPUT), schema).alias("__r")).select("__r.*")
    return _input_order_first(_restore_types(choices.split_choices(parsed, conflicts), before), before.names)


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
        df = frame.toDF()
        # Cached so the function runs once per record, whichever route the results take.
        mapped = map_rows(df, f).persist(StorageLevel.MEMORY_AND_DISK)
        summary = mapped.agg(F.collect_set(SCHEMA), F.count_if(F.col(OUTPUT).isNotNull())).first()
        assert summary is not None
        unified = arrow_results.unify(summary[0]) if summary[0] and not summary[1] else None
        if unified is not None:
            unified = _input_decimals(unified, df.schema)
        good = _decoded(mapped, unified) if unified is not None else _from_json_lines(_as_json_lines(mapped), df.schema)
        return _downstream(frame, good, mapped, "Map", transformation_ctx, info, stageThreshold, totalThreshold)
