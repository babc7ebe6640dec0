"""Choice types: one field holding values of different types, as Glue's ``ChoiceType``.

A DynamicFrame keeps a choice as a Spark struct with one field per type, named by Glue's type
name (``long``, ``string``, ...), at most one of them set per record. Every field of that struct
carries the metadata key :data:`CHOICE_KEY`; Spark keeps field metadata through projections,
arrays, structs and Parquet, so the marker travels with the data and needs no side table.
``resolveChoice`` turns a choice into an ordinary column.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import SchemaError
from etl.sqltext import sql_ident

CHOICE_KEY = "etl.choice"

_GLUE_NAMES: dict[type[T.DataType], str] = {
    T.LongType: "long",
    T.IntegerType: "int",
    T.ShortType: "short",
    T.ByteType: "byte",
    T.DoubleType: "double",
    T.FloatType: "float",
    T.StringType: "string",
    T.BooleanType: "boolean",
    T.DateType: "date",
    T.TimestampType: "timestamp",
    T.TimestampNTZType: "timestamp",
    T.BinaryType: "binary",
    T.DecimalType: "decimal",
    T.StructType: "struct",
    T.ArrayType: "array",
    T.MapType: "map",
    T.NullType: "null",
}

# Glue type names Spark spells differently (everything else is the same word).
_SPARK_ALIASES = {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint"}


def glue_type_name(dtype: T.DataType) -> str:
    """Glue's name for a Spark type: ``LongType()`` -> ``"long"``; a choice -> ``"choice"``."""
    if is_choice(dtype):
        return "choice"
    return _GLUE_NAMES.get(type(dtype), dtype.typeName())


def spark_type_name(glue_type: str) -> str:
    """A Glue type name as Spark SQL spells it: ``"long"`` -> ``"bigint"``."""
    name = glue_type.strip().lower()
    return _SPARK_ALIASES.get(name, name)


def parse_glue_type(glue_type: str) -> T.DataType:
    """A Glue/Hive type name as a Spark type: ``"long"`` -> ``LongType()``,
    ``"decimal(10,2)"``, ``"array<string>"``. Raises SchemaError for an unknown name."""
    try:
        return T.DataType.fromDDL(spark_type_name(glue_type))
    except Exception as exc:  # Spark's parser raises its own ParseException
        raise SchemaError(f"unknown type {glue_type!r}") from exc


def type_ddl(dtype: T.DataType) -> str:
    """A type as Spark's DDL parser reads it back: unlike ``simpleString()``, field names are
    back-ticked, so ``struct<`a b`:bigint>`` survives names with spaces, dots or colons."""
    if isinstance(dtype, T.StructType):
        return "struct<" + ",".join(f"{sql_ident(f.name)}:{type_ddl(f.dataType)}" for f in dtype.fields) + ">"
    if isinstance(dtype, T.ArrayType):
        return f"array<{type_ddl(dtype.elementType)}>"
    if isinstance(dtype, T.MapType):
        return f"map<{type_ddl(dtype.keyType)},{type_ddl(dtype.valueType)}>"
    return dtype.simpleString()


def is_choice(dtype: T.DataType) -> bool:
    """Whether ``dtype`` is a choice struct (every field carries the choice marker)."""
    return (
        isinstance(dtype, T.StructType) and bool(dtype.fields) and all(f.metadata.get(CHOICE_KEY) for f in dtype.fields)
    )


def choice_column(variants: Mapping[str, Column]) -> Column:
    """Build a choice value from ``{glue_type_name: column}`` (at most one non-null per row)."""
    return F.struct(*[col.alias(name, metadata={CHOICE_KEY: True}) for name, col in variants.items()])


def choice_variants(dtype: T.DataType) -> dict[str, T.DataType]:
    """``{glue type name: Spark type}`` of a choice struct."""
    if not is_choice(dtype):
        raise TypeError(f"not a choice type: {dtype.simpleString()}")
    assert isinstance(dtype, T.StructType)
    return {f.name: f.dataType for f in dtype.fields}


def strip_choice_marker(dtype: T.DataType) -> T.DataType:
    """The same type with the choice markers removed (a choice becomes a plain struct)."""
    if isinstance(dtype, T.StructType):
        return T.StructType(
            [
                T.StructField(
                    f.name,
                    strip_choice_marker(f.dataType),
                    f.nullable,
                    {k: v for k, v in f.metadata.items() if k != CHOICE_KEY},
                )
                for f in dtype.fields
            ]
        )
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(strip_choice_marker(dtype.elementType), dtype.containsNull)
    if isinstance(dtype, T.MapType):
        return T.MapType(dtype.keyType, strip_choice_marker(dtype.valueType), dtype.valueContainsNull)
    return dtype


def choice_paths(schema: T.StructType, prefix: str = "") -> list[str]:
    """Glue paths of every choice in ``schema`` (``a.b``, ``items[].price``)."""
    found: list[str] = []

    def walk(dtype: T.DataType, path: str) -> None:
        if is_choice(dtype):
            found.append(path)
            for variant in dtype.fields:  # type: ignore[union-attr]
                walk_children(variant.dataType, path)
            return
        walk_children(dtype, path)

    def walk_children(dtype: T.DataType, path: str) -> None:
        if isinstance(dtype, T.StructType) and not is_choice(dtype):
            for f in dtype.fields:
                name = f"`{f.name}`" if "." in f.name else f.name
                walk(f.dataType, f"{path}.{name}" if path else name)
        elif isinstance(dtype, T.ArrayType):
            walk(dtype.elementType, f"{path}[]")

    walk_children(schema, prefix)
    return found


def tree_string(schema: T.StructType) -> str:
    """Glue's ``printSchema()`` layout: ``root`` then ``|-- name: type``, choices listed."""
    lines = ["root"]

    def emit(dtype: T.DataType, depth: int, label: str) -> None:
        indent = "|    " * depth
        lines.append(f"{indent}|-- {label}{glue_type_name(dtype)}")
        if is_choice(dtype):
            for variant in dtype.fields:  # type: ignore[union-attr]
                emit_variant(variant.dataType, depth + 1)
        else:
            children(dtype, depth + 1)

    def emit_variant(dtype: T.DataType, depth: int) -> None:
        lines.append(f"{'|    ' * depth}|-- {glue_type_name(dtype)}")
        children(dtype, depth + 1)

    def children(dtype: T.DataType, depth: int) -> None:
        if isinstance(dtype, T.StructType):
            for f in dtype.fields:
                emit(f.dataType, depth, f"{f.name}: ")
        elif isinstance(dtype, T.ArrayType):
            emit(dtype.elementType, depth, "element: ")
        elif isinstance(dtype, T.MapType):
            emit(dtype.valueType, depth, "value: ")

    children(schema, 0)
    return "\n".join(lines) + "\n"
