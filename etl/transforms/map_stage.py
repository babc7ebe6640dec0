"""How Map runs a user function over a DataFrame and types what it returns.

1. Guess: the function runs on the driver over the first records (when the input is cheap to
   sample: no shuffle or sort upstream), and Arrow types those results: the *guessed* schema.
2. Stage: the function runs once over every record on Arrow batches (``mapInArrow``). A batch
   whose results fit the guess (unified with it, the guess is unchanged) leaves as typed rows;
   any other batch leaves as one Arrow IPC blob with its own schema, or, when Arrow cannot type
   it, as one JSON text row per result. Failed records leave as error rows. Everything but the
   typed rows travels in one struct column (``SIDE``), null on typed rows. The stage is
   local-checkpointed, so the function is not run again, whatever route the results take.
3. Results: one small query finds the blobs' schemas (in data order) and whether any result took
   the JSON route. Typed rows alone (the usual case) are read back natively, with no second
   Python pass; otherwise every part is conformed, in Python, to the unified schema; and if
   Arrow cannot unify the results (a field that is a number here, text there), all of them go
   through the JSON reader's choice-aware inference, so such fields become choices.

Measured on 2 million records (bench/RESULTS.md): typed rows read back natively instead of
decoding blobs in a second Python pass took Map from 4.8 s to 4.2 s, the driver-side guess
costing about 0.1 s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_schema

from etl.io import choices  # a module, not its names: etl.io.choices imports etl.transforms (a cycle)
from etl.transforms import arrow_results
from etl.transforms.paths import quote
from etl.transforms.record_dicts import ERROR, INPUT, failure, record_reader, to_json_text

OUTPUT = "__etl_output"
BATCH = "__etl_batch"
SCHEMA = "__etl_schema"
SIDE = "__etl_side"
# The stage's rows other than typed results, as one struct column that is null on typed rows: a
# typed row then carries one null field rather than five, which made a local-checkpointed
# identity stage about 20% cheaper in CPU on 2 million rows (bench/RESULTS.md).
_SIDE_FIELDS = [
    pa.field(BATCH, pa.binary()),
    pa.field(SCHEMA, pa.binary()),
    pa.field(OUTPUT, pa.string()),
    pa.field(ERROR, pa.string()),
    pa.field(INPUT, pa.string()),
]
_SIDE_TYPE = pa.struct(_SIDE_FIELDS)
GUESS_RECORDS = 500
# Physical operators that need a whole partition (or all of them) before the first row comes
# out: sampling an input whose plan has one would compute it all, twice.
_BLOCKING_OPERATORS = ("Exchange", "Sort", "Aggregate", "Window", "CartesianProduct", "NestedLoopJoin")
_TYPES_RESTORED = (T.DateType, T.TimestampType, T.TimestampNTZType, T.DecimalType)


class Guess(NamedTuple):
    """The schema Arrow gave the function's results on the first records: ``raw`` as typed
    (all-null fields have Arrow's null type), ``stored`` as the typed rows hold it."""

    raw: pa.Schema
    stored: pa.Schema


class MapResults(NamedTuple):
    good: DataFrame  # the results, natively typed
    flagged: DataFrame  # the checkpointed stage's side rows: those with ``ERROR`` set are error records


def map_records(df: DataFrame, f: Callable[[dict[str, Any]], Any]) -> MapResults:
    """``f`` over every record of ``df``: the typed results and the stage holding failures."""
    guess = guess_schema(df, f)
    # Filled by the first query on it. A local checkpoint rather than a cache: rows are kept
    # as they are, not re-encoded into columnar batches (measured: 0.5-0.7 s less for 2 million
    # records); as with any local checkpoint, losing an executor fails the job.
    stage = map_rows(df, f, guess).localCheckpoint(eager=False)
    blob_schemas, json_rows = _stage_summary(stage)
    good = _results(stage, guess, blob_schemas, json_rows, df.schema)
    return MapResults(good, stage.where(F.col(SIDE).isNotNull()).select(f"{SIDE}.*"))


# ----- 1. guess -----------------------------------------------------------------------------


def guess_schema(df: DataFrame, f: Callable[[dict[str, Any]], Any]) -> Guess | None:
    """The schema of ``f``'s results on the first records, or None when there is no cheap,
    usable guess (the input needs a shuffle or sort first, no record gives a result, or Arrow
    cannot type the results)."""
    if not _cheap_to_sample(df):
        return None
    read = record_reader(df.schema)
    results = []
    for batch in df.limit(GUESS_RECORDS).toArrow().to_batches():
        for record in read(batch):
            result, error = call(f, record)
            if error is None:
                results.append(result)
    batch = arrow_results.typed(results) if results else None
    if batch is None or not batch.schema.names or any(name.startswith("__etl_") for name in batch.schema.names):
        return None
    stored = arrow_results.unify([batch.schema])
    assert stored is not None
    return Guess(batch.schema, _input_decimals(stored, df.schema))


def _cheap_to_sample(df: DataFrame) -> bool:
    plan = df._jdf.queryExecution().executedPlan().toString()  # noqa: SLF001 - no public plan API
    return not any(operator in plan for operator in _BLOCKING_OPERATORS)


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


# ----- 2. stage -----------------------------------------------------------------------------


class MappedBatch(NamedTuple):
    results: list[dict[str, Any]]
    rows: range | list[int]  # the batch row each result came from
    failures: list[tuple[str, dict[str, Any]]]  # (why, the record as f was given it)


def map_batch(
    f: Callable[[dict[str, Any]], Any], batch: pa.RecordBatch, read: Callable[[pa.RecordBatch], list[dict[str, Any]]]
) -> MappedBatch:
    """``f`` over one batch. A batch where nothing fails runs as one comprehension over fresh
    records; otherwise the batch is read again (``f`` may have changed the records it saw) and
    run record by record."""
    try:
        results = [f(record) for record in read(batch)]
        if all(type(result) is dict for result in results):
            return MappedBatch(results, range(len(results)), [])
    except Exception:  # some record fails: handled record by record below
        pass
    mapped = MappedBatch([], [], [])
    for row, record in enumerate(read(batch)):
        result, error = call(f, record)
        if error is None:
            mapped.results.append(result)  # type: ignore[arg-type]
            mapped.rows.append(row)  # type: ignore[union-attr]
        else:
            mapped.failures.append((error, record))
    return mapped


def call(f: Callable[[dict[str, Any]], Any], record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """``(f(record), None)``, or ``(None, why it failed)`` (raised, or returned a non-dict). ``f``
    gets a copy, so a failing record is reported as it came in."""
    try:
        result = f(dict(record))
    except Exception as exc:  # the user's function failed on this record
        return None, failure(exc)
    if not isinstance(result, dict):
        return None, f"the function returned {type(result).__name__}, not a record (dict)"
    return result, None


def map_rows(df: DataFrame, f: Callable[[dict[str, Any]], Any], guess: Guess | None = None) -> DataFrame:
    """Run ``f`` over ``df`` once. Per input batch: the results as typed rows of the guessed
    schema (``SIDE`` null) when they fit it; else as one Arrow IPC blob (``BATCH``, its schema
    in ``SCHEMA``); else, when Arrow cannot type them, one JSON text row per result (``OUTPUT``);
    plus one row per failed record (``ERROR`` and the record as JSON in ``INPUT``). The last
    three kinds are side rows: their fields are those of the ``SIDE`` struct."""
    read = record_reader(df.schema)
    typed_fields = list(guess.stored) if guess is not None else []
    arrow_schema = pa.schema([*typed_fields, pa.field(SIDE, _SIDE_TYPE)])

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows: dict[str, list[Any]] = {field.name: [] for field in _SIDE_FIELDS}
            emit = functools.partial(_append_row, rows)
            mapped = map_batch(f, batch, read)
            for error, record in mapped.failures:
                emit(**{ERROR: error, INPUT: to_json_text(record)})
            results = arrow_results.typed(mapped.results) if mapped.results else None
            if results is not None and guess is not None and arrow_results.fits(results.schema, guess.raw):
                yield _as_typed_rows(arrow_results.conform(results, guess.stored), arrow_schema)
            elif results is not None:
                blob, schema = arrow_results.encode(results)
                emit(**{BATCH: blob, SCHEMA: schema})
            else:
                _emit_as_json(mapped, functools.partial(read, batch), emit)
            if rows[ERROR]:
                yield _as_side_rows(rows, arrow_schema, typed_fields)

    return df.mapInArrow(run, from_arrow_schema(arrow_schema))


def _as_typed_rows(results: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([*results.columns, pa.nulls(results.num_rows, _SIDE_TYPE)], schema=schema)


def _as_side_rows(rows: dict[str, list[Any]], schema: pa.Schema, typed_fields: list[pa.Field]) -> pa.RecordBatch:
    n = len(rows[ERROR])
    typed = [pa.nulls(n, field.type) for field in typed_fields]
    side = pa.StructArray.from_arrays(
        [pa.array(rows[field.name], field.type) for field in _SIDE_FIELDS], fields=_SIDE_FIELDS
    )
    return pa.RecordBatch.from_arrays([*typed, side], schema=schema)


def _append_row(rows: dict[str, list[Any]], **values: Any) -> None:
    for name, column in rows.items():
        column.append(values.get(name))


def _emit_as_json(mapped: MappedBatch, read: Callable[[], list[dict[str, Any]]], emit: Callable[..., None]) -> None:
    """One JSON text row per result; a result JSON cannot hold becomes an error row carrying the
    record it came from (read again: the function may have changed the one it was given)."""
    sources: list[dict[str, Any]] | None = None
    for result, row in zip(mapped.results, mapped.rows, strict=True):
        output, error = _as_json(result)
        if error is not None:
            sources = sources if sources is not None else read()
        emit(**{OUTPUT: output, ERROR: error, INPUT: None if error is None else to_json_text(sources[row])})


def _as_json(result: dict[str, Any]) -> tuple[str | None, str | None]:
    """The result as JSON text, or why it cannot be written as JSON."""
    try:
        return to_json_text(result), None
    except Exception as exc:  # a value JSON cannot hold
        return None, failure(exc)


# ----- 3. results ---------------------------------------------------------------------------


def _stage_summary(stage: DataFrame) -> tuple[list[pa.Schema], int]:
    """(The distinct schemas of the stage's blobs, in the order the data first has them, so that
    fields come out in a stable order; how many results took the JSON route). One aggregate
    query over the side rows only, which also fills the stage's checkpoint. (Positions are taken
    after the filter: it keeps the rows' order, so the first of each schema is the same.)"""
    rows = (
        stage.where(F.col(SIDE).isNotNull())
        .select(f"{SIDE}.*")
        .withColumn("__position", F.monotonically_increasing_id())
        .groupBy(SCHEMA)
        .agg(F.min("__position").alias("first"), F.count_if(F.col(OUTPUT).isNotNull()).alias("json_rows"))
        .collect()
    )
    ordered = sorted(rows, key=lambda row: row["first"])
    schemas = [arrow_results.read_schema(row[SCHEMA]) for row in ordered if row[SCHEMA] is not None]
    return schemas, sum(row["json_rows"] for row in rows)


def _results(
    stage: DataFrame, guess: Guess | None, blob_schemas: list[pa.Schema], json_rows: int, before: T.StructType
) -> DataFrame:
    typed = (
        stage.where(F.col(SIDE).isNull()).select(*[F.col(quote(name)) for name in guess.stored.names])
        if guess
        else None
    )
    if not json_rows:
        unified = arrow_results.unify(([guess.raw] if guess else []) + blob_schemas)
        if unified is not None and unified.names:  # (Arrow drops rows that have no columns)
            unified = _input_decimals(unified, before)
            parts = [_decoded(stage, unified)] if blob_schemas else []
            if typed is not None:
                parts.append(typed if unified.equals(guess.stored) else _conformed(typed, unified))
            return functools.reduce(DataFrame.unionAll, parts)
    return _from_json_lines(_as_json_lines(stage, typed), before)


def _decoded(stage: DataFrame, schema: pa.Schema) -> DataFrame:
    """The Arrow blobs of ``stage`` as rows of ``schema``, natively typed."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for blob in batch.column(0).to_pylist():
                yield arrow_results.conform(arrow_results.decode(blob), schema)

    return _side(stage, BATCH).mapInArrow(run, from_arrow_schema(schema))


def _conformed(typed: DataFrame, schema: pa.Schema) -> DataFrame:
    """Typed rows of the guessed schema as rows of ``schema``, which holds it."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield arrow_results.conform(batch, schema)

    return typed.mapInArrow(run, from_arrow_schema(schema))


def _as_json_lines(stage: DataFrame, typed: DataFrame | None) -> DataFrame:
    """Every result of ``stage`` as JSON text (typed rows and Arrow blobs written out), for JSON
    inference."""

    def blobs_as_json(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for blob in batch.column(0).to_pylist():
                yield _json_lines(arrow_results.decode(blob))

    def rows_as_json(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield _json_lines(batch)

    text = T.StructType([T.StructField(OUTPUT, T.StringType())])
    lines = _side(stage, OUTPUT).unionByName(_side(stage, BATCH).mapInArrow(blobs_as_json, text))
    return lines if typed is None else lines.unionByName(typed.mapInArrow(rows_as_json, text))


def _side(stage: DataFrame, field: str) -> DataFrame:
    """The stage's non-null values of one ``SIDE`` field, as a column of that name."""
    column = F.col(f"{SIDE}.{field}")
    return stage.where(column.isNotNull()).select(column.alias(field))


def _json_lines(batch: pa.RecordBatch) -> pa.RecordBatch:
    lines = [to_json_text(record) for record in batch.to_pylist()]
    return pa.RecordBatch.from_arrays([pa.array(lines, pa.string())], names=[OUTPUT])


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
