"""Glue field paths: ``a.b.c``, with back-ticks around names that contain dots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError


def split_path(path: str) -> list[str]:
    """``"a.`b.c`.d"`` -> ``["a", "b.c", "d"]``."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in path:
        if ch == "`":
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise TransformError(f"unbalanced back-tick in field path {path!r}")
    parts.append("".join(current))
    if any(p == "" for p in parts):
        raise TransformError(f"empty name in field path {path!r}")
    return parts


def column_at(parts: list[str]) -> Column:
    """A Column reading the nested field ``parts``."""
    column = F.col(f"`{parts[0]}`")
    for name in parts[1:]:
        column = column.getField(name)
    return column


@dataclass(frozen=True)
class Step:
    """One step of a Glue path: a field name, and whether the path continues into the
    elements of that field's array (``items[]``)."""

    name: str
    into_array: bool = False


def parse_path(path: str) -> list[Step]:
    """``"items[].price"`` -> ``[Step("items", True), Step("price")]``; back-ticks quote dots."""
    steps = []
    for part in split_path(path):
        into_array = part.endswith("[]")
        name = part[:-2] if into_array else part
        if not name:
            raise TransformError(f"empty name in field path {path!r}")
        steps.append(Step(name, into_array))
    return steps


def find_field(
    dtype: T.DataType, name: str, *, case_sensitive: bool = True
) -> T.StructField | None:
    """The field ``name`` of a struct type, matching case-insensitively unless asked not to."""
    if not isinstance(dtype, T.StructType):
        return None
    for f in dtype.fields:
        if f.name == name or (not case_sensitive and f.name.lower() == name.lower()):
            return f
    return None


def type_at(schema: T.StructType, path: str | list[Step]) -> T.DataType | None:
    """The type at a Glue path (array steps give the element type), or None if absent."""
    steps = parse_path(path) if isinstance(path, str) else path
    current: T.DataType = schema
    for step in steps:
        found = find_field(current, step.name)
        if found is None:
            return None
        current = found.dataType
        if step.into_array:
            if not isinstance(current, T.ArrayType):
                return None
            current = current.elementType
    return current


Rewrite = Callable[[Column, T.DataType], Column]


def update_at(df: DataFrame, path: str | list[Step], fn: Rewrite) -> DataFrame:
    """Replace the value at a Glue path with ``fn(value, type)``, as native Spark expressions.

    Works through nested structs (``withField`` keeps null structs null and the other fields in
    place) and array elements (``F.transform``). Raises TransformError if the path is absent.
    """
    steps = parse_path(path) if isinstance(path, str) else path
    text = path if isinstance(path, str) else ".".join(s.name + ("[]" if s.into_array else "") for s in steps)
    top = find_field(df.schema, steps[0].name)
    if top is None:
        raise TransformError(f"field {text!r} not found in the frame's schema")
    new = _rewrite(F.col(quote(top.name)), top.dataType, steps[0], steps[1:], fn, text)
    return df.withColumn(top.name, new)


def _rewrite(
    column: Column, dtype: T.DataType, step: Step, rest: list[Step], fn: Rewrite, text: str
) -> Column:
    if step.into_array:
        if not isinstance(dtype, T.ArrayType):
            raise TransformError(f"{text!r}: {step.name} is {dtype.simpleString()}, not an array")
        element = dtype.elementType
        return F.transform(column, lambda x: _descend(x, element, rest, fn, text))
    return _descend(column, dtype, rest, fn, text)


def _descend(column: Column, dtype: T.DataType, rest: list[Step], fn: Rewrite, text: str) -> Column:
    if not rest:
        return fn(column, dtype)
    step = rest[0]
    child = find_field(dtype, step.name)
    if child is None:
        raise TransformError(f"field {text!r} not found in the frame's schema (no {step.name!r})")
    new = _rewrite(column.getField(child.name), child.dataType, step, rest[1:], fn, text)
    return column.withField(quote(child.name), new)


def quote(name: str) -> str:
    """Back-tick a name for Spark's column parser (``a.b`` -> ```a.b```)."""
    return "`" + name.replace("`", "``") + "`"
