"""Join: Glue's equality join of two DynamicFrames on (possibly nested) key paths.

Glue keeps every field of both frames. A field of ``frame2`` whose name is already taken by a
field of ``frame1`` (join keys included) is renamed with a leading dot, as Glue does: joining on
``id`` = ``id`` gives both ``id`` and ``.id``; drop what you do not need with ``drop_fields``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import and_, or_
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.dynamicframe import DynamicFrame
from etl.frame.records import union_errors
from etl.frame.types import choice_variants, is_choice
from etl.transforms.base import Transform
from etl.transforms.paths import column_at, parse_path, quote, type_at

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def join_frames(df1: DataFrame, df2: DataFrame, keys1: Sequence[str], keys2: Sequence[str]) -> DataFrame:
    """Inner equality join of ``df1`` and ``df2`` on the key paths, as native Spark.

    Keys compare with SQL equality, so a null key never matches. Key types must be comparable:
    the same type, or both numeric; a choice key matches on the choice's alternatives that are
    comparable with the other side. Columns of ``df2`` whose names clash with ``df1`` get a
    leading ``.`` (repeated until the name is free).
    """
    keys1, keys2 = _key_list(keys1, "keys1"), _key_list(keys2, "keys2")
    if len(keys1) != len(keys2):
        raise TransformError(f"Join: keys1 {keys1} and keys2 {keys2} must have the same number of paths")
    left_keys = [_key_column(df1, path, "frame1") for path in keys1]
    right_keys = [_key_column(df2, path, "frame2") for path in keys2]
    renamed = _renamed_columns(df1.columns, df2.columns, _case_sensitive(df1.sparkSession))
    # Rename the clashing fields of frame2 and compare the keys in place: no helper key columns,
    # so Spark's size estimates (and with them its choice of a broadcast join) stay as for df1.join(df2).
    right = df2.select(*[F.col(quote(old)).alias(new) for old, new in renamed.items()])
    condition = reduce(
        and_,
        [
            _keys_equal(column_at(ln), lt, column_at([renamed[rn[0]], *rn[1:]]), rt, (k1, k2))
            for (ln, lt), (rn, rt), k1, k2 in zip(left_keys, right_keys, keys1, keys2, strict=True)
        ],
    )
    return df1.join(right, on=condition, how="inner")


def _key_list(keys: Sequence[str] | str, label: str) -> list[str]:
    """Glue accepts one path as a plain string."""
    paths = [keys] if isinstance(keys, str) else list(keys)
    if not paths:
        raise TransformError(f"Join: {label} needs at least one key path")
    return paths


def _key_column(df: DataFrame, path: str, side: str) -> tuple[list[str], T.DataType]:
    """The field names along a key path and its type; the path must exist and not go into arrays."""
    steps = parse_path(path)
    if any(step.into_array for step in steps):
        raise TransformError(f"Join: key {path!r} of {side} goes into an array; join keys must be single values")
    dtype = type_at(df.schema, steps)
    if dtype is None:
        raise TransformError(f"Join: key {path!r} not found in the schema of {side}")
    return [step.name for step in steps], dtype


def _case_sensitive(spark: SparkSession) -> bool:
    return str(spark.conf.get("spark.sql.caseSensitive", "false")).lower() == "true"


def _renamed_columns(left: Sequence[str], right: Sequence[str], case_sensitive: bool) -> dict[str, str]:
    """``{right column: name in the result}``; a clash with a left name gets a leading dot."""

    def norm(name: str) -> str:
        return name if case_sensitive else name.lower()

    taken = {norm(name) for name in left}
    renamed: dict[str, str] = {}
    for name in right:
        new = name
        while norm(new) in taken:
            new = "." + new
        taken.add(norm(new))
        renamed[name] = new
    return renamed


def _alternatives(column: Column, dtype: T.DataType) -> list[tuple[Column, T.DataType]]:
    """The values a key can hold: each alternative of a choice, or the key itself."""
    if is_choice(dtype):
        return [(column.getField(name), variant) for name, variant in choice_variants(dtype).items()]
    return [(column, dtype)]


def _comparable(left: T.DataType, right: T.DataType) -> bool:
    if isinstance(left, T.MapType) or isinstance(right, T.MapType):
        return False
    if isinstance(left, T.NumericType) and isinstance(right, T.NumericType):
        return True
    return left.simpleString() == right.simpleString()


def _keys_equal(
    left: Column, left_type: T.DataType, right: Column, right_type: T.DataType, paths: tuple[str, str]
) -> Column:
    """SQL equality of two keys; for choices, equality of any pair of comparable alternatives."""
    pairs = [
        lcol == rcol
        for lcol, ltype in _alternatives(left, left_type)
        for rcol, rtype in _alternatives(right, right_type)
        if _comparable(ltype, rtype)
    ]
    if not pairs:
        raise TransformError(
            f"Join: key {paths[0]!r} of frame1 ({left_type.simpleString()}) cannot be compared with "
            f"key {paths[1]!r} of frame2 ({right_type.simpleString()})"
        )
    return reduce(or_, pairs)


class Join(Transform):
    """Performs an equality join on two DynamicFrames (Glue's Join).

    The result is named ``frame1.name + frame2.name`` as in Glue and carries the error records of
    both inputs. Unlike Glue (aws-glue-libs issue 76), multi-key joins match key by key, never a
    permutation of the keys.
    """

    def __call__(
        self,
        frame1: DynamicFrame,
        frame2: DynamicFrame,
        keys1: Sequence[str] | str,
        keys2: Sequence[str] | str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = join_frames(frame1.toDF(), frame2.toDF(), keys1, keys2)
        # Both inputs are upstream of the join, so both carry their errors over (as DynamicFrame.union).
        frame = DynamicFrame(
            df,
            frame1.glue_ctx,
            frame1.name + frame2.name,
            errors=union_errors(frame1._errors, frame2._errors),
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
            transformation_ctx=transformation_ctx,
        )
        if stageThreshold or totalThreshold:
            frame.assertErrorThreshold()
        return frame
