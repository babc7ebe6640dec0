"""SplitFields and SplitRows: one DynamicFrame into a collection of two.

SplitFields puts the given (nested) fields in one frame and the rest in the other; SplitRows puts
the records that pass every comparison in one frame and the rest in the other.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
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
from etl.transforms.fields import drop_fields, select_fields
from etl.transforms.paths import column_at, parse_path, type_at

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame


# ----- fields --------------------------------------------------------------------------------
def split_fields(df: DataFrame, paths: str | Sequence[str]) -> tuple[DataFrame, DataFrame]:
    """(``df`` with only the paths, ``df`` without them), as native projections: the same
    selection and removal SelectFields and DropFields make."""
    return select_fields(df, paths), drop_fields(df, paths)


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
    """True where every comparison holds; false or null (a null or missing field) otherwise.

    Left nullable so that Spark can push the comparisons down to Parquet row groups: wrapping
    it in ``coalesce(..., false)`` hides them from the reader."""
    if not comparison_dict:
        raise TransformError("SplitRows: comparison_dict needs at least one comparison")
    conditions = []
    for path, comparisons in comparison_dict.items():
        if not isinstance(comparisons, Mapping) or not comparisons:
            raise TransformError(
                f"SplitRows: {path!r} must map to {{operator: value}}, e.g. {{'>': 10}}; got {comparisons!r}"
            )
        conditions.extend(_comparison(schema, path, op, value) for op, value in comparisons.items())
    return reduce(and_, conditions)


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
        parts = {name1: df.filter(matched), name2: df.filter(~matched | matched.isNull())}
        return _collection(frame, parts, transformation_ctx, stageThreshold, totalThreshold)
