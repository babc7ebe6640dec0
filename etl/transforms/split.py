"""SplitFields and SplitRows: one DynamicFrame into a collection of two.

SplitFields puts the given (nested) fields in one frame and the rest in the other; SplitRows puts
the records that pass every comparison in one frame and the rest in the other.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import and_, or_
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.dynamicframe import DynamicFrameCollection
from etl.frame.types import choice_variants, is_choice
from etl.transforms.base import Transform
from etl.transforms.paths import column_at, parse_path, quote, type_at

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame


# ----- fields --------------------------------------------------------------------------------
@dataclass
class _Node:
    """A node of a path tree: ``children`` None means the whole field; ``into_array`` says the
    children are fields of the array's elements (``items[].price``)."""

    into_array: bool = False
    children: dict[str, _Node] | None = field(default_factory=dict)


def path_tree(paths: Sequence[str]) -> dict[str, _Node]:
    """Merge Glue paths into a tree; a path to a whole field absorbs the paths below it."""
    root: dict[str, _Node] = {}
    for path in paths:
        level = root
        steps = parse_path(path)
        for i, step in enumerate(steps):
            node = level.get(step.name)
            if i == len(steps) - 1:
                level[step.name] = _Node(children=None)
                break
            if node is None:
                node = level[step.name] = _Node(into_array=step.into_array)
            if node.children is None:
                break
            if node.into_array != step.into_array:
                raise TransformError(f"path {path!r}: {step.name!r} is used both as an array and as a struct")
            level = node.children
    return root


def prune_struct(struct: T.StructType, tree: dict[str, _Node], keep: bool) -> T.StructType | None:
    """The struct with only (``keep``) or without (not ``keep``) the fields of ``tree``; None when
    no field is left. Paths that do not resolve select nothing and drop nothing."""
    fields: list[T.StructField] = []
    for f in struct.fields:
        node = tree.get(f.name)
        if node is None:
            fields.extend([] if keep else [f])
        elif node.children is None:
            fields.extend([f] if keep else [])
        else:
            sub = _prune_nested(f.dataType, node, keep)
            if sub is not None:
                fields.append(T.StructField(f.name, sub, f.nullable, f.metadata))
    return T.StructType(fields) if fields else None


def _prune_nested(dtype: T.DataType, node: _Node, keep: bool) -> T.DataType | None:
    assert node.children is not None
    if node.into_array and isinstance(dtype, T.ArrayType):
        element = _prune_nested(dtype.elementType, _Node(children=node.children), keep)
        return T.ArrayType(element, dtype.containsNull) if element is not None else None
    if not node.into_array and isinstance(dtype, T.StructType) and not is_choice(dtype):
        return prune_struct(dtype, node.children, keep)
    return None if keep else dtype


def project(column: Column, source: T.DataType, target: T.DataType) -> Column:
    """Rewrite ``column`` (of type ``source``) to ``target``, a pruned copy of ``source``: drops the
    struct fields ``target`` lacks, through structs and arrays. Null structs stay null."""
    if source == target:
        return column
    if isinstance(source, T.ArrayType) and isinstance(target, T.ArrayType):
        return F.transform(column, lambda x: project(x, source.elementType, target.elementType))
    assert isinstance(source, T.StructType) and isinstance(target, T.StructType)
    wanted = {f.name: f.dataType for f in target.fields}
    dropped = [quote(f.name) for f in source.fields if f.name not in wanted]
    result = column.dropFields(*dropped) if dropped else column
    for f in source.fields:
        if f.name in wanted and f.dataType != wanted[f.name]:
            result = result.withField(quote(f.name), project(column.getField(f.name), f.dataType, wanted[f.name]))
    return result


def split_fields(df: DataFrame, paths: Sequence[str]) -> tuple[DataFrame, DataFrame]:
    """(``df`` with only the paths, ``df`` without them), as native projections."""
    if isinstance(paths, str):
        paths = [paths]
    tree = path_tree(paths)
    selected = _select_pruned(df, prune_struct(df.schema, tree, True))
    rest = _select_pruned(df, prune_struct(df.schema, tree, False))
    return selected, rest


def _select_pruned(df: DataFrame, target: T.StructType | None) -> DataFrame:
    if target is None:
        return df.select()
    source = {f.name: f.dataType for f in df.schema.fields}
    return df.select(*[project(F.col(quote(f.name)), source[f.name], f.dataType).alias(f.name) for f in target.fields])


def _collection(
    frame: DynamicFrame,
    parts: dict[str, DataFrame],
    transformation_ctx: str,
    stage_threshold: int,
    total_threshold: int,
) -> DynamicFrameCollection:
    """Each DataFrame as a frame downstream of ``frame``, named by its key."""
    return DynamicFrameCollection(
        {
            name: frame.derive(
                df,
                name=name,
                transformation_ctx=transformation_ctx,
                stage_threshold=stage_threshold,
                total_threshold=total_threshold,
            )
            for name, df in parts.items()
        },
        frame.glue_ctx,
    )


class SplitFields(Transform):
    """Splits a DynamicFrame into two by fields (Glue's SplitFields).

    ``name1`` gets the given paths (nested paths keep their parent structs, ``items[].price``
    reaches into array elements), ``name2`` the remaining fields; a struct left without fields is
    dropped. The names default to the frame's name (or ``"frame"``) plus ``1`` and ``2``, as in
    Glue. Paths not in the schema are ignored, as Glue ignores fields no record has.
    """

    def __call__(
        self,
        frame: DynamicFrame,
        paths: Sequence[str],
        name1: str | None = None,
        name2: str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        base = frame.name or "frame"
        name1 = base + "1" if name1 is None else name1
        name2 = base + "2" if name2 is None else name2
        if name1 == name2:
            raise TransformError(f"SplitFields: name1 and name2 are both {name1!r}")
        selected, rest = split_fields(frame.toDF(), paths)
        return _collection(frame, {name1: selected, name2: rest}, transformation_ctx, stageThreshold, totalThreshold)


# ----- rows ----------------------------------------------------------------------------------
_OPERATORS: dict[str, Callable[[Column, Column], Column]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}

_TEMPORAL = (T.DateType, T.TimestampType, T.TimestampNTZType)


def _accepts(dtype: T.DataType, value: Any) -> bool:
    """Whether a field of ``dtype`` can be compared with the Python ``value``."""
    if isinstance(value, bool):
        return isinstance(dtype, T.BooleanType)
    if isinstance(value, int | float | Decimal):
        return isinstance(dtype, T.NumericType)
    if isinstance(value, datetime.date):
        return isinstance(dtype, _TEMPORAL)
    if isinstance(value, str):
        return isinstance(dtype, (T.StringType, *_TEMPORAL))
    return False


def _comparison(schema: T.StructType, path: str, op: str, value: Any) -> Column:
    """One comparison as a Column; null (no match) where the field is null or missing."""
    if op not in _OPERATORS:
        raise TransformError(f"SplitRows: unknown operator {op!r} for {path!r}; use one of {list(_OPERATORS)}")
    if value is None:
        raise TransformError(f"SplitRows: {path!r} {op} None never matches; compare with a value")
    steps = parse_path(path)
    if any(step.into_array for step in steps):
        raise TransformError(f"SplitRows: {path!r} goes into an array; compare single values")
    dtype = type_at(schema, steps)
    if dtype is None:
        return F.lit(None).cast("boolean")
    column = column_at([step.name for step in steps])
    candidates = (
        [(column.getField(n), t) for n, t in choice_variants(dtype).items()] if is_choice(dtype) else [(column, dtype)]
    )
    compared = [_OPERATORS[op](c, F.lit(value)) for c, t in candidates if _accepts(t, value)]
    if not compared:
        raise TransformError(
            f"SplitRows: {path!r} ({dtype.simpleString()}) cannot be compared with {value!r} ({type(value).__name__})"
        )
    return reduce(or_, compared)


def row_condition(schema: T.StructType, comparison_dict: Mapping[str, Mapping[str, Any]]) -> Column:
    """True where every comparison holds, false otherwise (never null)."""
    if not comparison_dict:
        raise TransformError("SplitRows: comparison_dict needs at least one comparison")
    conditions = []
    for path, comparisons in comparison_dict.items():
        if not isinstance(comparisons, Mapping) or not comparisons:
            raise TransformError(
                f"SplitRows: {path!r} must map to {{operator: value}}, e.g. {{'>': 10}}; got {comparisons!r}"
            )
        conditions.extend(_comparison(schema, path, op, value) for op, value in comparisons.items())
    return F.coalesce(reduce(and_, conditions), F.lit(False))


class SplitRows(Transform):
    """Splits a DynamicFrame into two by rows (Glue's SplitRows).

    ``comparison_dict`` maps a field path to ``{operator: value}`` with operators ``<``, ``>``,
    ``<=``, ``>=``, ``=`` and ``!=``: ``{"age": {">": 10, "<": 20}}``. Records that pass every
    comparison go to ``name1``, the others to ``name2``, including records whose field is null or
    missing (a path absent from the schema matches no record). A choice field is compared through
    its alternatives of the value's kind. Comparing a field with a value of another kind (a string
    field with a number) raises TransformError.
    """

    def __call__(
        self,
        frame: DynamicFrame,
        comparison_dict: Mapping[str, Mapping[str, Any]],
        name1: str = "frame1",
        name2: str = "frame2",
        transformation_ctx: str = "",
        info: str | None = None,
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        if name1 == name2:
            raise TransformError(f"SplitRows: name1 and name2 are both {name1!r}")
        df = frame.toDF()
        matched = row_condition(df.schema, comparison_dict)
        parts = {name1: df.filter(matched), name2: df.filter(~matched)}
        return _collection(frame, parts, transformation_ctx, stageThreshold, totalThreshold)
