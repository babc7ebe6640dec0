"""Map's results as Arrow: each batch of result dicts typed by Arrow, the batches' schemas
unified on the driver, and every batch conformed to that one schema.

Arrow types a batch of dicts in C++ (``pa.array``), keeping the function's field order, dates,
timestamps and decimals; that is several times cheaper than writing JSON text per record and
parsing it back. Arrow cannot type a batch where one field holds different kinds of value (a
number here, a string there), and batches cannot be unified when they disagree that way; the
caller then takes the JSON route, whose inference turns such fields into choices.
"""

from __future__ import annotations

import itertools
from typing import Any

import pyarrow as pa

_ARROW_FAILURES = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
    ValueError,
    OverflowError,
)


def typed(results: list[dict[str, Any]]) -> pa.RecordBatch | None:
    """The results as one Arrow batch, or None when Arrow cannot type them (mixed kinds in a
    field, values Arrow does not know)."""
    try:
        return _typed(results)
    except _ARROW_FAILURES:
        return None


def encode(batch: pa.RecordBatch) -> tuple[bytes, bytes]:
    """(Arrow IPC stream of the batch, its serialized schema)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes(), batch.schema.serialize().to_pybytes()


def _typed(results: list[dict[str, Any]]) -> pa.RecordBatch | None:
    """The results as one Arrow batch, fields in order of first appearance. When every result's
    keys are among the first one's (the usual case), each field is typed as a column: a third
    cheaper than typing the dicts as structs (measured: 67 ms against 108 ms for 200,000 results
    of 6 fields), with the same types; otherwise Arrow types the dicts as structs."""
    first = results[0]
    if first and all(type(key) is str for key in first) and len(set().union(*results)) == len(first):
        columns = [pa.array(list(map(dict.get, results, itertools.repeat(key)))) for key in first]
        return pa.RecordBatch.from_arrays(columns, names=list(first))
    array = pa.array(results)
    return pa.RecordBatch.from_struct_array(array) if pa.types.is_struct(array.type) else None


def decode(blob: bytes) -> pa.RecordBatch:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_next_batch()


def read_schema(blob: bytes) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(blob))


def unify(schemas: list[pa.Schema]) -> pa.Schema | None:
    """One schema for every batch (numbers widen, missing fields are null, nested structs
    merge, fields in order of first appearance), with all-null fields as strings; None when
    batches disagree on a field's kind."""
    unified = _unify(schemas)
    return None if unified is None else pa.schema([pa.field(f.name, _nulls_as_strings(f.type)) for f in unified])


def fits(schema: pa.Schema, into: pa.Schema) -> bool:
    """Whether a batch of ``schema`` adds nothing to ``into``: unified with it, ``into`` is
    unchanged, so conforming the batch to ``into`` loses nothing."""
    return schema.equals(into) or (_unify([into, schema]) or pa.schema([])).equals(into)


def _unify(schemas: list[pa.Schema]) -> pa.Schema | None:
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except _ARROW_FAILURES:
        return None


def _nulls_as_strings(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_null(dtype):
        return pa.string()
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, _nulls_as_strings(f.type)) for f in dtype])
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return pa.list_(_nulls_as_strings(dtype.value_type))
    return dtype


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``schema``'s fields, in its order and types (absent fields null)."""
    names = batch.schema.names
    columns = [
        _conform(batch.column(names.index(f.name)), f.type) if f.name in names else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _conform(array: pa.Array, target: pa.DataType) -> pa.Array:
    if array.type == target:
        return array
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        present = {array.type.field(i).name: i for i in range(array.type.num_fields)}
        children = [
            _conform(array.field(present[f.name]), f.type) if f.name in present else pa.nulls(len(array), f.type)
            for f in target
        ]
        return pa.StructArray.from_arrays(children, fields=list(target), mask=array.is_null())
    if pa.types.is_list(target) and pa.types.is_list(array.type):
        values = _conform(array.values, target.value_type)
        return pa.ListArray.from_arrays(array.offsets, values, type=target, mask=array.is_null())
    return array.cast(target)
