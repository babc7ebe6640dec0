"""Map's results as Arrow: each batch of result dicts typed by Arrow, the batches' schemas
unified on the driver, and every batch conformed to that one schema.

Arrow types a batch of dicts in C++ (``pa.array``), keeping the function's field order, dates,
timestamps and decimals; that is several times cheaper than writing JSON text per record and
parsing it back. Arrow cannot type a batch where one field holds different kinds of value (a
number here, a string there), and batches cannot be unified when they disagree that way; the
caller then takes the JSON route, whose inference turns such fields into choices.
"""

from __future__ import annotations

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


def encode(results: list[dict[str, Any]]) -> tuple[bytes, bytes] | None:
    """(Arrow IPC stream of the results, their serialized schema), or None when Arrow cannot
    type them (mixed kinds in a field, values Arrow does not know)."""
    try:
        array = pa.array(results)
    except _ARROW_FAILURES:
        return None
    if not pa.types.is_struct(array.type):
        return None
    batch = pa.RecordBatch.from_struct_array(array)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes(), batch.schema.serialize().to_pybytes()


def decode(blob: bytes) -> pa.RecordBatch:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_next_batch()


def unify(schema_blobs: list[bytes]) -> pa.Schema | None:
    """One schema for every batch (numbers widen, missing fields are null, nested structs
    merge), with all-null fields as strings; None when batches disagree on a field's kind."""
    schemas = [pa.ipc.read_schema(pa.py_buffer(blob)) for blob in schema_blobs]
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except _ARROW_FAILURES:
        return None
    return pa.schema([pa.field(f.name, _nulls_as_strings(f.type)) for f in unified])


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
