"""Field-level transforms: DropFields, SelectFields, RenameField, DropNullFields, UnnestFrame.

Each is a pure function on a Spark DataFrame plus a Glue-style :class:`Transform`. Paths follow
Glue: ``a.b`` reaches into structs, back-ticks quote names with dots (```a.b`.c``), and a path
goes through arrays of structs either plainly (``friends.age``, as in Glue's docs) or with
``[]`` (``friends[].age``). Names match case-sensitively, as in Glue. Choice columns (see
:mod:`etl.frame.types`) are leaves: paths do not reach into their variants, and they pass through
every transform with their choice marker intact.

Everything compiles to native Spark expressions (``dropFields``, ``withField``, ``transform``,
casts between structs of the same shape); DropNullFields adds one aggregate query.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.frame.types import is_choice
from etl.transforms.base import Transform
from etl.transforms.paths import find_field, parse_path, quote

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

# A path tree maps a field name to WHOLE (the whole field) or to a tree of its children.
WHOLE = "*"
Tree = dict[str, Any]


# ----- path helpers --------------------------------------------------------------------------
def element_type(dtype: T.DataType) -> T.DataType:
    """The innermost element type of (nested) arrays; other types unchanged."""
    while isinstance(dtype, T.ArrayType):
        dtype = dtype.elementType
    return dtype


def resolve_path(schema: T.StructType, path: str) -> list[str] | None:
    """The field names along a Glue path, or None when the schema has no such field.

    Arrays (of structs) are passed through whether or not the path marks them with ``[]``; a
    choice is a leaf. A malformed path (unbalanced back-tick, empty name) raises TransformError.
    """
    names: list[str] = []
    current: T.DataType = schema
    for step in parse_path(path):
        if is_choice(current):
            return None
        found = find_field(current, step.name)
        if found is None:
            return None
        if step.into_array and not isinstance(found.dataType, T.ArrayType):
            return None
        names.append(found.name)
        current = element_type(found.dataType)
    return names


def _path_list(transform: str, paths: str | Sequence[str]) -> list[str]:
    """Glue accepts one path or a list of them."""
    items = [paths] if isinstance(paths, str) else list(paths)
    for p in items:
        if not isinstance(p, str):
            raise TransformError(f"{transform}: paths must be strings, got {p!r}")
    return items


def _resolve_all(transform: str, schema: T.StructType, paths: list[str]) -> list[list[str]]:
    """Resolve every path; paths absent from the schema are left out, as Glue ignores them."""
    resolved = []
    for path in paths:
        try:
            names = resolve_path(schema, path)
        except TransformError as exc:
            raise TransformError(f"{transform}: {exc}") from None
        if names is not None:
            resolved.append(names)
    return resolved


def build_tree(paths: list[list[str]]) -> Tree:
    """Merge resolved paths into one tree; a whole field absorbs any path below it."""
    tree: Tree = {}
    for names in paths:
        node = tree
        for name in names[:-1]:
            child = node.setdefault(name, {})
            if child == WHOLE:
                break
            node = child
        else:
            node[names[-1]] = WHOLE
    return tree


# ----- dropping and keeping subtrees ---------------------------------------------------------
def _absorb_emptied(dtype: T.DataType, tree: Tree) -> Tree | str:
    """Turn struct nodes that would lose every field into whole-field drops.

    Spark cannot drop all fields of a struct, and an empty struct holds no data, so a struct (or
    array of structs) whose every field is dropped is dropped itself.
    """
    struct = element_type(dtype)
    assert isinstance(struct, T.StructType)
    out: Tree = {}
    for name, sub in tree.items():
        child = find_field(struct, name)
        assert child is not None
        out[name] = sub if sub == WHOLE else _absorb_emptied(child.dataType, sub)
    if all(out.get(f.name) == WHOLE for f in struct.fields):
        return WHOLE
    return out


def _drop_in(column: Column, dtype: T.DataType, tree: Tree) -> Column:
    """``column`` without the fields of ``tree``; null structs and arrays stay null."""
    if isinstance(dtype, T.ArrayType):
        return F.transform(column, lambda element: _drop_in(element, dtype.elementType, tree))
    assert isinstance(dtype, T.StructType)
    result = column
    for name, sub in tree.items():
        if sub != WHOLE:
            child = find_field(dtype, name)
            assert child is not None
            result = result.withField(quote(name), _drop_in(column.getField(name), child.dataType, sub))
    dropped = [quote(name) for name, sub in tree.items() if sub == WHOLE]
    return result.dropFields(*dropped) if dropped else result


def drop_tree(df: DataFrame, tree: Tree) -> DataFrame:
    """Project ``df`` without the fields in ``tree`` (names already resolved against its schema)."""
    columns = []
    for field in df.schema.fields:
        sub = tree.get(field.name)
        if sub is not None and sub != WHOLE:
            sub = _absorb_emptied(field.dataType, sub)
        if sub == WHOLE:
            continue
        column = F.col(quote(field.name))
        if sub is not None:
            column = _drop_in(column, field.dataType, sub).alias(field.name, metadata=field.metadata)
        columns.append(column)
    return df.select(*columns)


# ----- the pure DataFrame functions ----------------------------------------------------------
def drop_fields(df: DataFrame, paths: str | Sequence[str]) -> DataFrame:
    """``df`` without the fields at ``paths`` (top-level or nested, through arrays of structs).

    Paths the schema does not have are ignored, as in Glue. A struct left with no fields is
    dropped too (Spark has no empty structs; Glue would keep an empty struct).
    """
    resolved = _resolve_all("DropFields", df.schema, _path_list("DropFields", paths))
    return drop_tree(df, build_tree(resolved)) if resolved else df


def select_fields(df: DataFrame, paths: str | Sequence[str]) -> DataFrame:
    """Only the fields at ``paths``, keeping their nesting: selecting ``a.b`` gives a struct
    ``a`` holding only ``b`` (and through arrays, ``items.price`` gives ``items`` as an array of
    structs holding only ``price``). Paths the schema does not have are ignored, as in Glue;
    fields come out in the frame's order. Selecting nothing that exists gives no columns.
    """
    resolved = _resolve_all("SelectFields", df.schema, _path_list("SelectFields", paths))
    tree = build_tree(resolved)
    columns = []
    for field in df.schema.fields:
        sub = tree.get(field.name)
        if sub == WHOLE:
            columns.append(F.col(quote(field.name)))
        elif sub is not None:
            kept = _keep_in(F.col(quote(field.name)), field.dataType, sub)
            columns.append(kept.alias(field.name, metadata=field.metadata))
    return df.select(*columns)


def _keep_in(column: Column, dtype: T.DataType, tree: Tree) -> Column:
    """``column`` with only the fields of ``tree``, built as a new struct (not by dropping the
    others), so Spark reads only those fields from nested Parquet; null structs stay null."""
    if isinstance(dtype, T.ArrayType):
        return F.transform(column, lambda element: _keep_in(element, dtype.elementType, tree))
    assert isinstance(dtype, T.StructType)
    kept = []
    for field in dtype.fields:
        sub = tree.get(field.name)
        if sub is None:
            continue
        child = column.getField(field.name)
        value = child if sub == WHOLE else _keep_in(child, field.dataType, sub)
        kept.append(value.alias(field.name, metadata=field.metadata))
    return F.when(column.isNotNull(), F.struct(*kept))


def rename_field(df: DataFrame, old_name: str, new_name: str) -> DataFrame:
    """Rename the field at the full path ``old_name`` to the full path ``new_name``.

    Both are full paths (``a.b`` -> ``a.c``), as in Glue; the field keeps its place, type and
    nulls. Moving a field to another parent is not a rename and raises TransformError, as does
    a new name that a sibling already has. A missing ``old_name`` leaves the frame unchanged,
    as Glue does with paths that are not in the data.
    """
    try:
        old = resolve_path(df.schema, old_name)
        new = [step.name for step in parse_path(new_name)]
    except TransformError as exc:
        raise TransformError(f"RenameField: {exc}") from None
    if old is None:
        return df
    if new[:-1] != old[:-1]:
        parent = ".".join(_glue_name(n) for n in old[:-1])
        example = f"{parent}.<new name>" if parent else "<new name> (back-ticked if it has dots)"
        raise TransformError(
            f"RenameField: cannot rename {old_name!r} to {new_name!r}: the new path must keep the "
            f"same parent, e.g. {example!r}; use ApplyMapping to move fields"
        )
    if new[-1] == old[-1]:
        return df
    if len(old) == 1:
        _check_free(df.schema, new[-1], new_name)
        columns = [F.col(quote(f.name)).alias(new[-1] if f.name == old[0] else f.name) for f in df.schema.fields]
        return df.select(*columns)
    # A nested rename is a cast to the same struct shape under the new name: nulls, field order
    # and metadata (choice markers included) are kept, through arrays too.
    renamed_type = _rename_in_type(df.schema[old[0]].dataType, old[1:], new[-1], new_name)
    columns = [
        F.col(quote(f.name)).cast(renamed_type).alias(f.name, metadata=f.metadata)
        if f.name == old[0]
        else F.col(quote(f.name))
        for f in df.schema.fields
    ]
    return df.select(*columns)


def _glue_name(name: str) -> str:
    return f"`{name}`" if "." in name else name


def _check_free(struct: T.StructType, name: str, new_name: str) -> None:
    if find_field(struct, name) is not None:
        raise TransformError(f"RenameField: cannot rename to {new_name!r}: a field named {name!r} exists already")


def _rename_in_type(dtype: T.DataType, names: list[str], new: str, new_name: str) -> T.DataType:
    """``dtype`` with the field at ``names`` (relative path) renamed to ``new``."""
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(_rename_in_type(dtype.elementType, names, new, new_name), dtype.containsNull)
    assert isinstance(dtype, T.StructType)
    if len(names) == 1:
        _check_free(dtype, new, new_name)
    fields = []
    for f in dtype.fields:
        if f.name != names[0]:
            fields.append(f)
        elif len(names) == 1:
            fields.append(T.StructField(new, f.dataType, f.nullable, f.metadata))
        else:
            fields.append(
                T.StructField(f.name, _rename_in_type(f.dataType, names[1:], new, new_name), f.nullable, f.metadata)
            )
    return T.StructType(fields)


def null_fields(df: DataFrame) -> Tree:
    """The fields that hold no value in any record, as a drop tree, found with one aggregate.

    As Glue: fields of NullType, and fields (at any depth in structs and arrays of structs) that
    are null or missing in every record. Only real nulls count: empty strings, ``"null"`` and
    ``-1`` are values (Glue Studio's extra null markers are not part of the DropNullFields
    class). A struct that is null everywhere goes as a whole; choices and maps are leaves (a
    choice counts as null where none of its variants is set). An empty frame has no records to
    judge by, so only its NullType fields go.
    """
    probes = list(_fields_below(df.schema, []))
    typed = [names for names, dtype in probes if not isinstance(dtype, T.NullType)]
    has_value: dict[tuple[str, ...], bool] = {}
    if typed:
        checks = [F.bool_or(F.coalesce(_has_value(df.schema, names), F.lit(False))) for names in typed]
        row = df.agg(*[check.alias(f"f{i}") for i, check in enumerate(checks)]).first()
        if row is not None and row[0] is not None:
            has_value = {tuple(names): bool(row[i]) for i, names in enumerate(typed)}
    return build_tree([names for names, dtype in probes if _is_null_field(names, dtype, has_value)])


def _fields_below(dtype: T.DataType, prefix: list[str]) -> list[tuple[list[str], T.DataType]]:
    """Every field inside a struct, depth first, through arrays of structs; choices are leaves."""
    found = []
    for field in dtype.fields:
        names = [*prefix, field.name]
        found.append((names, field.dataType))
        inner = element_type(field.dataType)
        if isinstance(inner, T.StructType) and not is_choice(inner):
            found.extend(_fields_below(inner, names))
    return found


def _is_null_field(names: list[str], dtype: T.DataType, has_value: dict[tuple[str, ...], bool]) -> bool:
    return isinstance(dtype, T.NullType) or has_value.get(tuple(names)) is False


def _has_value(schema: T.StructType, names: list[str]) -> Column:
    """Whether a record holds a non-null value at ``names`` (in any element of arrays on the way)."""
    top = schema[names[0]]
    return _value_in(F.col(quote(top.name)), top.dataType, names[1:])


def _value_in(column: Column, dtype: T.DataType, rest: list[str]) -> Column:
    if not rest and is_choice(dtype):  # a choice holds a value when one of its variants is set
        return reduce(Column.__or__, [column.getField(variant).isNotNull() for variant in dtype.names])
    if not rest:
        return column.isNotNull()
    if isinstance(dtype, T.ArrayType):
        return F.exists(column, lambda element: _value_in(element, dtype.elementType, rest))
    child = find_field(dtype, rest[0])
    assert child is not None
    return _value_in(column.getField(child.name), child.dataType, rest[1:])


def drop_null_fields(df: DataFrame) -> DataFrame:
    """``df`` without the fields :func:`null_fields` finds."""
    tree = null_fields(df)
    return drop_tree(df, tree) if tree else df


def unnest(df: DataFrame) -> DataFrame:
    """Flatten nested structs into top-level columns named by their path with literal dots, as
    Glue's ``unnest()``: ``Address.Zip.Code`` for field ``Zip.Code`` of struct ``Address``.

    Arrays (of structs too) and choices stay as they are; a null struct gives nulls in all of
    its columns. Two fields flattening to the same name raise TransformError.
    """
    columns: list[Column] = []
    names: list[str] = []
    for field in df.schema.fields:
        _flatten(F.col(quote(field.name)), field, field.name, columns, names)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TransformError(f"UnnestFrame: two fields flatten to the same column name {name!r}")
        seen.add(name)
    return df.select(*columns)


def _flatten(column: Column, field: T.StructField, name: str, columns: list[Column], names: list[str]) -> None:
    dtype = field.dataType
    if isinstance(dtype, T.StructType) and not is_choice(dtype):
        for child in dtype.fields:
            _flatten(column.getField(child.name), child, f"{name}.{child.name}", columns, names)
        return
    columns.append(column.alias(name, metadata=field.metadata))
    names.append(name)


# ----- the Glue transforms -------------------------------------------------------------------
def _derive(frame: DynamicFrame, df: DataFrame, transformation_ctx: str, stage: int, total: int) -> DynamicFrame:
    """The downstream frame of a field transform (no error records of its own)."""
    return frame.derive(df, transformation_ctx=transformation_ctx, stage_threshold=stage, total_threshold=total)


class DropFields(Transform):
    """Drops fields, top-level or nested, from a DynamicFrame (Glue's DropFields)."""

    def __call__(
        self,
        frame: DynamicFrame,
        paths: str | Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = drop_fields(frame.toDF(), paths)
        return _derive(frame, df, transformation_ctx, stageThreshold, totalThreshold)


class SelectFields(Transform):
    """Keeps only the given fields of a DynamicFrame, nesting included (Glue's SelectFields)."""

    def __call__(
        self,
        frame: DynamicFrame,
        paths: str | Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = select_fields(frame.toDF(), paths)
        return _derive(frame, df, transformation_ctx, stageThreshold, totalThreshold)


class RenameField(Transform):
    """Renames one field, top-level or nested, of a DynamicFrame (Glue's RenameField)."""

    def __call__(
        self,
        frame: DynamicFrame,
        old_name: str,
        new_name: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = rename_field(frame.toDF(), old_name, new_name)
        return _derive(frame, df, transformation_ctx, stageThreshold, totalThreshold)


class DropNullFields(Transform):
    """Drops the fields that are null in every record of a DynamicFrame (Glue's DropNullFields)."""

    def __call__(
        self,
        frame: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = drop_null_fields(frame.toDF())
        return _derive(frame, df, transformation_ctx, stageThreshold, totalThreshold)


class UnnestFrame(Transform):
    """Flattens nested structs of a DynamicFrame into top-level fields (Glue's UnnestFrame)."""

    def __call__(
        self,
        frame: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = unnest(frame.toDF())
        return _derive(frame, df, transformation_ctx, stageThreshold, totalThreshold)
