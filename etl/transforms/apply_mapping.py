"""ApplyMapping: select, rename, cast and re-nest fields in one declarative list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.transforms.base import Transform
from etl.transforms.paths import column_at, split_path

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

# Glue type names that Spark spells differently.
_TYPE_ALIASES = {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint"}


def spark_type(glue_type: str) -> str:
    name = glue_type.strip().lower()
    return _TYPE_ALIASES.get(name, name)


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


def apply_mapping(df: DataFrame, mappings: Sequence[Sequence[str]], *, case_sensitive: bool = False) -> DataFrame:
    """Project ``df`` to the mapped fields; unmapped fields are dropped, as in Glue.

    A source field that does not exist yields a null of the target type (Glue's records simply
    lack it). Dotted target paths build nested structs.
    """
    if not mappings:
        raise TransformError("ApplyMapping needs at least one mapping")
    tree: dict[str, Any] = {}
    for mapping in mappings:
        source, target_type, target = _normalize(mapping)
        parts = _resolve_source(df.schema, split_path(source), case_sensitive)
        column: Column = column_at(parts) if parts else F.lit(None)
        if target_type:
            column = column.cast(spark_type(target_type))
        elif parts is None:
            column = column.cast("string")
        _insert(tree, split_path(target), column, target)
    return df.select(*[_build(name, node) for name, node in tree.items()])


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
    ) -> DynamicFrame:
        df = apply_mapping(frame.toDF(), mappings, case_sensitive=caseSensitive)
        return frame.derive(
            df,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
