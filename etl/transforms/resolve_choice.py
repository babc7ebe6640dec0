"""ResolveChoice: turn choice types (one field, several types) into ordinary columns.

Actions, as Glue documents them:

* ``cast:TYPE`` - every alternative cast to TYPE; values that cannot be cast become null.
* ``project:TYPE`` - keep only the values that already are TYPE; the others become null.
* ``make_cols`` - one column per alternative, named ``<name>_<type>`` (``price_long``).
* ``make_struct`` - a plain struct with one field per alternative.
* ``match_catalog`` - cast to the type the catalog table gives the field.

A path may go through structs (``a.b``) and array elements (``items[].price``). ``cast`` and
``project`` also apply to a field that is not a choice (a plain cast), as in Glue; ``make_cols``
and ``make_struct`` leave such a field as it is. Everything compiles to native Spark expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import SchemaError, TransformError
from etl.frame.types import (
    choice_paths,
    choice_variants,
    is_choice,
    parse_glue_type,
    strip_choice_marker,
    type_ddl,
)
from etl.transforms.base import Transform
from etl.transforms.paths import Step, parse_path, quote, type_at, update_at

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

ACTIONS = ("cast", "project", "make_cols", "make_struct", "match_catalog")


def parse_action(action: str) -> tuple[str, str | None]:
    """``"cast:long"`` -> ``("cast", "long")``; checks the action name and its argument."""
    name, _, argument = action.strip().partition(":")
    name = name.strip().lower()
    if name not in ACTIONS:
        raise TransformError(f"ResolveChoice: unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if name in ("cast", "project") and not argument.strip():
        raise TransformError(f"ResolveChoice: {name} needs a type, e.g. '{name}:long' (got {action!r})")
    if name not in ("cast", "project") and argument.strip():
        raise TransformError(f"ResolveChoice: {name} takes no type (got {action!r})")
    return name, argument.strip() or None


_COMPLEX = (T.StructType, T.ArrayType, T.MapType)


def _target_type(type_name: str) -> T.DataType:
    try:
        return parse_glue_type(type_name)
    except SchemaError as exc:
        raise TransformError(f"ResolveChoice: unknown type {type_name!r}") from exc


@lru_cache(maxsize=512)
def _castable(dtype: T.DataType, target: T.DataType) -> bool:
    """Whether Spark can cast ``dtype`` to ``target`` at all (a struct to a long cannot).

    Asked of Spark's analyzer on an empty plan (no data is read), so the answer is Spark's own.
    """
    spark = SparkSession.getActiveSession()
    if spark is None:
        return True
    try:
        probe = spark.range(0).select(F.lit(None).cast(dtype).try_cast(target))
        return len(probe.schema.fields) == 1
    except AnalysisException:
        return False


@lru_cache(maxsize=512)
def _widens(dtype: T.DataType, target: T.DataType) -> bool:
    """Whether Spark's up-cast rule allows ``dtype`` to ``target`` (int to long, long to double):
    then a plain ``cast`` cannot fail and gives what ``try_cast`` would, without its guard."""
    spark = SparkSession.getActiveSession()
    jvm = getattr(getattr(spark, "sparkContext", None), "_jvm", None)
    if jvm is None:
        return False
    to_java = jvm.org.apache.spark.sql.types.DataType.fromJson
    return bool(
        jvm.org.apache.spark.sql.catalyst.expressions.Cast.canUpCast(to_java(dtype.json()), to_java(target.json()))
    )


def _as(value: Column, dtype: T.DataType, target: T.DataType) -> Column:
    """``value`` of type ``dtype`` as ``target``; null where it cannot be converted.

    Structs, arrays and maps become JSON text when cast to string, and JSON text becomes a
    struct, array or map (null unless it parses into ``target``); a pair of types Spark cannot
    cast at all gives null, as a value that does not convert does.
    """
    if isinstance(target, T.StringType) and isinstance(dtype, _COMPLEX):
        return F.to_json(value)
    if isinstance(dtype, T.StringType) and isinstance(target, _COMPLEX):
        return F.try_variant_get(F.try_parse_json(value), "$", type_ddl(target))
    if dtype == target:
        return value
    if _widens(dtype, target):
        return value.cast(target)
    if not _castable(dtype, target):
        return F.lit(None).cast(target)
    return value.try_cast(target)


def cast_value(value: Column, dtype: T.DataType, target: T.DataType) -> Column:
    """A choice (or plain value) cast to ``target``: the one set alternative, converted."""
    if not is_choice(dtype):
        return _as(value, dtype, target)
    parts = [_as(value.getField(name), vtype, target) for name, vtype in choice_variants(dtype).items()]
    return F.coalesce(*parts) if len(parts) > 1 else parts[0]


def project_value(value: Column, dtype: T.DataType, type_name: str) -> Column:
    """Only the alternative of Glue type ``type_name``; records holding another type get null."""
    wanted = type_name.strip().lower()
    if is_choice(dtype) and wanted in choice_variants(dtype):  # also project:struct, project:array
        # the cast drops the choice marker Spark would otherwise carry over from the variant field
        return value.getField(wanted).cast(choice_variants(dtype)[wanted])
    target = _target_type(type_name)
    if not is_choice(dtype):
        return _as(value, dtype, target)
    variants = choice_variants(dtype)
    matches = [name for name, vtype in variants.items() if name == wanted or vtype == target]
    if not matches:
        return F.lit(None).cast(target)
    return value.getField(matches[0]).cast(target)


def _resolve_one(value: Column, dtype: T.DataType, name: str, argument: str | None, catalog_type: T.DataType | None):
    if name == "cast":
        return cast_value(value, dtype, _target_type(argument or ""))
    if name == "project":
        return project_value(value, dtype, argument or "")
    if name == "make_struct":
        if not is_choice(dtype):
            return value
        return value.cast(strip_choice_marker(dtype))
    if name == "match_catalog":
        if catalog_type is None:
            return value
        return cast_value(value, dtype, catalog_type)
    raise AssertionError(name)  # make_cols is handled at the parent level


def make_cols(df: DataFrame, steps: list[Step], text: str) -> DataFrame:
    """Replace the choice at ``steps`` with one sibling field per alternative."""
    parent_steps, leaf = steps[:-1], steps[-1]
    if leaf.into_array:
        raise TransformError(f"ResolveChoice: make_cols cannot split array elements ({text!r})")

    def split(columns: list[tuple[str, Column, T.DataType]]) -> list[Column]:
        out: list[Column] = []
        for field_name, column, dtype in columns:
            if field_name == leaf.name and is_choice(dtype):
                for variant, vtype in choice_variants(dtype).items():
                    out.append(
                        column.getField(variant).cast(strip_choice_marker(vtype)).alias(f"{field_name}_{variant}")
                    )
            else:
                out.append(column.alias(field_name))
        return out

    if not parent_steps:
        columns = [(f.name, F.col(quote(f.name)), f.dataType) for f in df.schema.fields]
        return df.select(*split(columns))

    def rebuild(parent: Column, ptype: T.DataType) -> Column:
        if not isinstance(ptype, T.StructType):
            raise TransformError(f"ResolveChoice: {text!r} does not lead to a struct field")
        fields = [(f.name, parent.getField(f.name), f.dataType) for f in ptype.fields]
        return F.when(parent.isNull(), F.lit(None)).otherwise(F.struct(*split(fields)))

    return update_at(df, parent_steps, rebuild)


def resolve_path(
    df: DataFrame, path: str, action: str, catalog_types: dict[str, T.DataType] | None = None
) -> DataFrame:
    """Apply one ``(path, action)`` spec to ``df``."""
    name, argument = parse_action(action)
    steps = parse_path(path)
    dtype = type_at(df.schema, steps)
    if dtype is None:
        raise TransformError(f"ResolveChoice: field {path!r} not found in the frame's schema")
    if name == "make_cols":
        return make_cols(df, steps, path) if is_choice(dtype) else df
    catalog_type = None
    if name == "match_catalog":
        catalog_type = (catalog_types or {}).get(_plain(steps))
        if catalog_type is None:
            raise TransformError(f"ResolveChoice: match_catalog found no column {path!r} in the catalog table")
    return update_at(df, steps, lambda value, t: _resolve_one(value, t, name, argument, catalog_type))


def _plain(steps: list[Step]) -> str:
    """A path without array markers, lower-cased, as catalog columns are matched."""
    return ".".join(s.name.lower() for s in steps)


def catalog_column_types(catalog: Any, database: str, table_name: str) -> dict[str, T.DataType]:
    """``{"a.b": type}`` for every (nested) column of a catalog table; array elements are
    looked through, so ``items[].price`` matches ``items: array<struct<price: ...>>``."""
    table = catalog.get_table(DatabaseName=database, Name=table_name)["Table"]
    columns = [*table["StorageDescriptor"]["Columns"], *table.get("PartitionKeys", [])]
    found: dict[str, T.DataType] = {}

    def walk(prefix: str, dtype: T.DataType) -> None:
        found[prefix] = dtype
        while isinstance(dtype, T.ArrayType):
            dtype = dtype.elementType
        if isinstance(dtype, T.StructType):
            for f in dtype.fields:
                walk(f"{prefix}.{f.name.lower()}", f.dataType)

    for column in columns:
        try:
            dtype = parse_glue_type(column["Type"])
        except SchemaError as exc:
            raise TransformError(
                f"ResolveChoice: catalog column {database}.{table_name}.{column['Name']} has a type Spark "
                f"cannot read: {column['Type']!r}"
            ) from exc
        walk(column["Name"].lower(), dtype)
    return found


def check_arguments(specs: Sequence[tuple[str, str]] | None, choice: str) -> None:
    """Glue's rule (specs or choice, not both); each spec a ``(path, action)`` pair of strings."""
    if specs is not None and choice:
        raise TransformError("ResolveChoice: give either specs or choice, not both (Glue's rule)")
    if specs is None:
        return
    if isinstance(specs, (str, bytes)):
        raise TransformError(f"ResolveChoice: specs is a list of (path, action) tuples, got {specs!r}")
    for spec in specs:
        if isinstance(spec, (str, bytes)) or len(spec) != 2 or not all(isinstance(x, str) for x in spec):
            raise TransformError(f"ResolveChoice: each spec is (path, action), got {spec!r}")
        parse_action(spec[1])


def resolve_choice(
    df: DataFrame,
    specs: Sequence[tuple[str, str]] | None = None,
    choice: str = "",
    catalog_types: dict[str, T.DataType] | None = None,
) -> DataFrame:
    """Resolve the listed choices (``specs``), or every choice in the frame with ``choice``."""
    check_arguments(specs, choice)
    if specs is None and not choice:
        if catalog_types is None:
            raise TransformError("ResolveChoice: give specs, choice, or database and table_name")
        choice = "match_catalog"
    if specs is None:
        parse_action(choice)
        specs = [(path, choice) for path in choice_paths(df.schema)]
    for path, action in specs:
        df = resolve_path(df, path, action, catalog_types)
    return df


class ResolveChoice(Transform):
    """Resolves choice types (Glue's ResolveChoice)."""

    def __call__(
        self,
        frame: DynamicFrame,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        catalog_id: str | None = None,
    ) -> DynamicFrame:
        if (database is None) != (table_name is None):
            raise TransformError("ResolveChoice: database and table_name go together")
        check_arguments(specs, choice)
        catalog_types = None
        if database is not None and table_name is not None:
            catalog_types = catalog_column_types(frame.glue_ctx.catalog, database, table_name)
        needs_catalog = (choice or "").strip().lower() == "match_catalog" or any(
            parse_action(action)[0] == "match_catalog" for _, action in (specs or [])
        )
        if needs_catalog and catalog_types is None:
            raise TransformError("ResolveChoice: match_catalog needs database and table_name")
        df = resolve_choice(frame.toDF(), specs, choice, catalog_types)
        return frame.derive(
            df, transformation_ctx=transformation_ctx, stage_threshold=stageThreshold, total_threshold=totalThreshold
        )


__all__ = ["ResolveChoice", "resolve_choice"]
