"""ApplyMapping: select, rename, cast and re-nest fields in one declarative list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.records import error_frame
from etl.frame.types import is_choice, parse_glue_type
from etl.transforms.base import Transform
from etl.transforms.paths import Step, column_at, quote, split_path, type_at
from etl.transforms.resolve_choice import cast_value

ERROR = "__etl_error"

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame


def _normalize(mapping: Sequence[str]) -> tuple[str, str | None, str]:
    """(source, target, target type or None to keep the source type)."""
    if len(mapping) == 4:
        return mapping[0], mapping[3], mapping[2]
    if len(mapping) == 3:
        return mapping[0], mapping[2], mapping[1]
    if len(mapping) == 2:
        return mapping[0], None, mapping[1]
    raise TransformError(
        f"mapping {tuple(mapping)!r} must be (source, source_type, target, target_type), "
        "(source, target, target_type) or (source, target)"
    )


def _resolve_source(schema: T.StructType, parts: list[str], case_sensitive: bool) -> list[str] | None:
    """The real field names along ``parts``, matching case-insensitively unless asked not to."""
    resolved = []
    current: T.DataType = schema
    for part in parts:
        if not isinstance(current, T.StructType):
            return None
        match = next(
            (f for f in current.fields if (f.name == part if case_sensitive else f.name.lower() == part.lower())),
            None,
        )
        if match is None:
            return None
        resolved.append(match.name)
        current = match.dataType
    return resolved


@dataclass
class _Cast:
    """One typed mapping, kept to check it under ``strict``: the source value and its cast."""

    source: str
    target_type: str
    value: Column
    cast: Column


def _plan(df: DataFrame, mappings: Sequence[Sequence[str]], case_sensitive: bool) -> tuple[dict[str, Any], list[_Cast]]:
    if not mappings:
        raise TransformError("ApplyMapping needs at least one mapping")
    tree: dict[str, Any] = {}
    casts: list[_Cast] = []
    for mapping in mappings:
        source, target_type, target = _normalize(mapping)
        parts = _resolve_source(df.schema, split_path(source), case_sensitive)
        column: Column = column_at(parts) if parts else F.lit(None)
        if target_type:
            source_type = type_at(df.schema, [Step(p) for p in parts]) if parts else None
            target_spark = parse_glue_type(target_type)
            value = column
            if source_type is not None and is_choice(source_type):
                column = cast_value(column, source_type, target_spark)
            else:
                column = column.cast(target_spark)
            if parts:
                casts.append(_Cast(source, target_type, value, column))
        elif parts is None:
            column = column.cast("string")
        _insert(tree, split_path(target), column, target)
    return tree, casts


def apply_mapping(df: DataFrame, mappings: Sequence[Sequence[str]], *, case_sensitive: bool = False) -> DataFrame:
    """Project ``df`` to the mapped fields; unmapped fields are dropped, as in Glue.

    A source field that does not exist yields a null of the target type (Glue's records simply
    lack it). Dotted target paths build nested structs. A choice-typed source is cast from
    whichever alternative each record holds.
    """
    tree, _ = _plan(df, mappings, case_sensitive)
    return df.select(*[_build(name, node) for name, node in tree.items()])


def apply_mapping_strict(
    df: DataFrame, mappings: Sequence[Sequence[str]], *, case_sensitive: bool = False
) -> tuple[DataFrame, DataFrame]:
    """Like :func:`apply_mapping`, but a record with a non-null value that its cast turns into
    null is set aside: returns (mapped good records, failing input records with ``__etl_error``)."""
    tree, casts = _plan(df, mappings, case_sensitive)
    problems = [
        F.when(
            c.value.isNotNull() & c.cast.isNull(),
            F.format_string(
                f"cannot cast %s to {c.target_type} ({c.source})",
                F.regexp_extract(F.to_json(F.array(c.value)), r"^\[(.*)\]$", 1),
            ),
        )
        for c in casts
    ]
    flagged = df.withColumn(ERROR, F.concat_ws("; ", *problems) if problems else F.lit(""))
    good = flagged.where(F.col(ERROR) == "").select(*[_build(name, node) for name, node in tree.items()])
    bad = flagged.where(F.col(ERROR) != "")
    return good, bad


def _insert(tree: dict[str, Any], parts: list[str], column: Column, target: str) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise TransformError(f"target {target!r} nests under a field that is already mapped")
        node = child
    if parts[-1] in node:
        raise TransformError(f"target {target!r} is mapped twice")
    node[parts[-1]] = column


def _build(name: str, node: Column | dict[str, Any]) -> Column:
    if isinstance(node, dict):
        return F.struct(*[_build(k, v) for k, v in node.items()]).alias(name)
    return node.alias(name)


class ApplyMapping(Transform):
    """Applies a declarative mapping to a DynamicFrame (Glue's ApplyMapping)."""

    def __call__(
        self,
        frame: DynamicFrame,
        mappings: Sequence[Sequence[str]],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        caseSensitive: bool = False,
        strict: bool = False,
    ) -> DynamicFrame:
        """``strict`` (an extension of Glue's API): a value that cannot be cast to its target
        type makes the record an error record, instead of a silent null."""
        source = frame.toDF()
        errors = None
        if strict:
            df, bad = apply_mapping_strict(source, mappings, case_sensitive=caseSensitive)
            errors = error_frame(
                bad,
                transformation_ctx=transformation_ctx,
                info=info or "ApplyMapping",
                message=F.col(ERROR),
                source=None,
                input_record=F.to_json(F.struct(*[F.col(quote(c)) for c in source.columns])),
            )
        else:
            df = apply_mapping(source, mappings, case_sensitive=caseSensitive)
        return frame.derive(
            df,
            stage_errors=errors,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
