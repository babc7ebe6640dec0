"""Schema inference that keeps type conflicts visible as choice types, as Glue's readers do.

Spark's own JSON inference turns a field that is a number in one record and a string in another
into a string, silently. Here JSON lines are inferred through Spark's VARIANT type: one aggregate
(``schema_of_variant_agg``) gives the merged schema with ``VARIANT`` wherever records disagree,
and one small grouped query per disagreeing field lists the kinds of value found there. The data
are then parsed with that field typed VARIANT and split into a choice struct with native
expressions. Numbers widen (long + double is double), as in Spark; a field is a choice only when
its values are of different kinds (number, string, boolean, struct, array).

CSV columns that Spark infers as strings but that hold numbers in some rows and text in others
become ``choice<long|double, string>``, as Glue shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import SchemaError
from etl.frame.types import choice_column, type_ddl
from etl.transforms.paths import Step, quote, update_at

_NUMERIC_KINDS = ("long", "double")


@dataclass(frozen=True)
class Conflict:
    """A field whose values are of several kinds: ``{kind: Spark type}``, kinds sorted."""

    steps: tuple[Step, ...]
    variants: dict[str, T.DataType]


def _glue_json_type(dtype: T.DataType) -> T.DataType:
    """Variant inference types as Glue reads JSON: fractions are doubles (integers too large for a
    long stay ``decimal(p,0)``), all-null is string."""
    if isinstance(dtype, T.DecimalType):
        return dtype if dtype.scale == 0 and dtype.precision > 18 else T.DoubleType()
    if isinstance(dtype, T.NullType):
        return T.StringType()
    if isinstance(dtype, T.StructType):
        return T.StructType([T.StructField(f.name, _glue_json_type(f.dataType)) for f in dtype.fields])
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(_glue_json_type(dtype.elementType))
    return dtype


def _variant_type(schema_text: str | None) -> T.DataType | None:
    if not schema_text:
        return None
    try:
        return _glue_json_type(T.DataType.fromDDL(schema_text.replace("OBJECT<", "STRUCT<")))
    except Exception as exc:  # Spark's parser raises its own ParseException
        raise SchemaError(f"cannot read the inferred schema {schema_text!r}") from exc


def variant_struct(schema_text: str | None) -> T.StructType:
    """The struct type of a ``schema_of_variant_agg`` result (``OBJECT<a: BIGINT, ...>``), with
    every disagreement between records (``VARIANT``) as JSON text; a non-object is ``struct<>``."""
    dtype = _nested_variants_as_text(_variant_type(schema_text)) if schema_text else None
    return dtype if isinstance(dtype, T.StructType) else T.StructType([])


def kind_of(value: Column) -> Column:
    """The Glue kind of a variant value: long, double, string, boolean, struct, array, or null."""
    schema = F.schema_of_variant(value)
    return (
        F.when(schema.startswith("OBJECT"), "struct")
        .when(schema.startswith("ARRAY"), "array")
        .when(schema.isin("BIGINT", "INT", "SMALLINT", "TINYINT"), "long")
        .when(schema.startswith("DECIMAL") | schema.isin("DOUBLE", "FLOAT"), "double")
        .when(schema == "STRING", "string")
        .when(schema == "BOOLEAN", "boolean")
        .when(schema.isin("NULL", "VOID"), F.lit(None))
        .otherwise(F.lower(schema))
    )


def _variant_paths(dtype: T.DataType, steps: tuple[Step, ...] = ()) -> list[tuple[Step, ...]]:
    """Paths (as steps) of every VARIANT inside ``dtype``."""
    found: list[tuple[Step, ...]] = []
    if isinstance(dtype, T.StructType):
        for f in dtype.fields:
            child = f.dataType
            if isinstance(child, T.VariantType):
                found.append((*steps, Step(f.name)))
            elif isinstance(child, T.ArrayType):
                found.extend(_array_paths(child, (*steps, Step(f.name, True))))
            else:
                found.extend(_variant_paths(child, (*steps, Step(f.name))))
    return found


def _array_paths(dtype: T.ArrayType, steps: tuple[Step, ...]) -> list[tuple[Step, ...]]:
    element = dtype.elementType
    if isinstance(element, T.VariantType):
        return [steps]
    return _variant_paths(element, steps)


def _text_in_nested_arrays(dtype: T.DataType) -> T.DataType:
    """A Glue path cannot address elements of arrays of arrays: disagreements there become JSON
    text (as Spark's JSON reader makes them), not a choice."""
    if isinstance(dtype, T.StructType):
        return T.StructType([T.StructField(f.name, _text_in_nested_arrays(f.dataType)) for f in dtype.fields])
    if isinstance(dtype, T.ArrayType):
        element = dtype.elementType
        if isinstance(element, T.ArrayType):
            return T.ArrayType(_nested_variants_as_text(element))
        return T.ArrayType(_text_in_nested_arrays(element))
    return dtype


def _member(value: Column, name: str) -> Column:
    """The member ``name`` of a variant object (null if absent or not an object).

    Spark's variant paths cannot escape a quote inside ``$['...']``, so a name holding a single
    quote uses the double-quoted form, and one holding both (or empty) goes through a map.
    """
    if name and "'" not in name:
        return F.try_variant_get(value, f"$['{name}']", "variant")
    if name and '"' not in name:
        return F.try_variant_get(value, f'$["{name}"]', "variant")
    return F.try_variant_get(value, "$", "map<string, variant>").getItem(name)


def _values_at(parsed: DataFrame, steps: tuple[Step, ...]) -> DataFrame:
    """One row per variant value found at ``steps`` (array steps explode)."""
    frame = parsed.select(F.col("v"))
    for step in steps:
        frame = frame.select(_member(F.col("v"), step.name).alias("v"))
        if step.into_array:
            frame = frame.select(F.explode(F.col("v").try_cast("array<variant>")).alias("v"))
    return frame


def _kinds_at(parsed: DataFrame, steps: tuple[Step, ...]) -> dict[str, T.DataType]:
    rows = (
        _values_at(parsed, steps)
        .select(kind_of(F.col("v")).alias("kind"), F.col("v"))
        .where(F.col("kind").isNotNull())
        .groupBy("kind")
        .agg(F.schema_of_variant_agg(F.col("v")).alias("schema"))
        .collect()  # one row per kind of value: metadata, not data
    )
    kinds = {row["kind"]: _nested_variants_as_text(_variant_type(row["schema"])) for row in rows}
    if all(k in kinds for k in _NUMERIC_KINDS):
        kinds.pop("long")
        kinds["double"] = T.DoubleType()
    return {k: kinds[k] for k in sorted(kinds)}


def _nested_variants_as_text(dtype: T.DataType | None) -> T.DataType:
    """Inside one alternative of a choice, further disagreements are kept as JSON text."""
    if dtype is None or isinstance(dtype, T.VariantType):
        return T.StringType()
    if isinstance(dtype, T.StructType):
        return T.StructType([T.StructField(f.name, _nested_variants_as_text(f.dataType)) for f in dtype.fields])
    if isinstance(dtype, T.ArrayType):
        return T.ArrayType(_nested_variants_as_text(dtype.elementType))
    return dtype


def _replace_at(dtype: T.DataType, steps: tuple[Step, ...], new: T.DataType) -> T.DataType:
    if not steps:
        return new
    assert isinstance(dtype, T.StructType)
    step, rest = steps[0], steps[1:]
    fields = []
    for f in dtype.fields:
        if f.name == step.name:
            child = f.dataType
            if step.into_array:
                assert isinstance(child, T.ArrayType)
                child = T.ArrayType(_replace_at(child.elementType, rest, new))
            else:
                child = _replace_at(child, rest, new)
            fields.append(T.StructField(f.name, child))
        else:
            fields.append(f)
    return T.StructType(fields)


# NaN and infinities as Spark's JSON reader accepts them (allowNonNumericNumbers), as bare tokens.
_NON_FINITE = r"(?<=[\[:,])\s*(?:NaN|[+-]?Infinity|[+-]?INF)(?=\s*[,\]}])"


def _finite_numbers(line: Column) -> Column:
    """``line`` with bare NaN/Infinity tokens read as 0.0, for inference only.

    Spark's JSON parser (and Python's ``json.dumps``) allow them; ``parse_json`` rejects the whole
    line, which would hide the line's fields from inference. A match inside a string value only
    changes that string's text, which inference does not look at.
    """
    suspect = line.contains("NaN") | line.contains("Inf") | line.contains("INF")
    return F.when(suspect, F.regexp_replace(line, _NON_FINITE, "0.0")).otherwise(line)


def infer_json_lines(lines: DataFrame, column: str = "value") -> tuple[T.StructType, list[Conflict]] | None:
    """Infer the schema of JSON text lines, keeping disagreeing fields as VARIANT.

    Returns the schema to parse with (VARIANT where records disagree) and the conflicts to turn
    into choices; None when the lines are not JSON objects (arrays, scalars), so the caller can
    fall back to Spark's own reader.
    """
    line = _finite_numbers(F.col(quote(column)))
    parsed = lines.select(F.try_parse_json(line).alias("v")).where(F.col("v").isNotNull())
    merged = parsed.select(F.schema_of_variant_agg(F.col("v"))).first()
    text = merged[0] if merged else None
    if not text or not text.startswith("OBJECT"):
        return None
    schema = _text_in_nested_arrays(_variant_type(text))  # type: ignore[arg-type]
    assert isinstance(schema, T.StructType)
    conflicts = []
    for steps in _variant_paths(schema):
        kinds = _kinds_at(parsed, steps)
        if len(kinds) == 1:
            schema = _replace_at(schema, steps, next(iter(kinds.values())))  # type: ignore[assignment]
        elif kinds:
            conflicts.append(Conflict(steps, kinds))
        else:
            schema = _replace_at(schema, steps, T.StringType())  # type: ignore[assignment]
    return schema, conflicts  # type: ignore[return-value]


def split_choices(df: DataFrame, conflicts: list[Conflict]) -> DataFrame:
    """Turn each VARIANT conflict field of ``df`` into a choice struct."""
    for conflict in conflicts:
        df = update_at(df, list(conflict.steps), lambda v, _t, c=conflict: _choice_of(v, c))
    return df


def _choice_of(value: Column, conflict: Conflict) -> Column:
    kind = kind_of(value)
    variants: dict[str, Column] = {}
    for name, dtype in conflict.variants.items():
        matches = kind.isin(*_NUMERIC_KINDS) if name == "double" else kind == name
        variants[name] = F.when(matches, F.try_variant_get(value, "$", type_ddl(dtype)))
    return F.when(kind.isNotNull(), choice_column(variants))


def csv_choices(df: DataFrame, columns: list[str]) -> DataFrame:
    """Make ``choice<long|double, string>`` of string columns that mix numbers and text.

    One aggregate over the listed (string) columns counts, per column, values that are integral,
    fractional, and neither.
    """
    if not columns:
        return df
    counts = []
    for name in columns:
        value = F.col(quote(name))
        as_double = value.try_cast("double")
        counts += [
            F.count_if(as_double.isNotNull()).alias(f"n{len(counts)}"),
            F.count_if(as_double.isNotNull() & ~_integral(value)).alias(f"n{len(counts) + 1}"),
            F.count_if(value.isNotNull() & as_double.isNull()).alias(f"n{len(counts) + 2}"),
        ]
    row = df.agg(*counts).first()
    assert row is not None
    mixed: dict[str, str] = {}
    for i, name in enumerate(columns):
        numbers, fractions, text = row[3 * i], row[3 * i + 1], row[3 * i + 2]
        if numbers and text:
            mixed[name] = "double" if fractions else "long"
    if not mixed:
        return df
    out = []
    for f in df.schema.fields:
        if f.name not in mixed:
            out.append(F.col(quote(f.name)))
            continue
        value = F.col(quote(f.name))
        number_type = mixed[f.name]
        number = (
            F.when(_integral(value), value.try_cast("bigint")) if number_type == "long" else value.try_cast("double")
        )
        choice = choice_column({number_type: number, "string": F.when(number.isNull(), value)})
        out.append(F.when(value.isNotNull(), choice).alias(f.name))
    return df.select(*out)


def _integral(value: Column) -> Column:
    return value.rlike(r"^\s*[+-]?\d+\s*$")
