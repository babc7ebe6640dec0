"""Unbox: parse a string field holding JSON or CSV into a struct, in place.

Glue's ``unbox(path, format, **options)``. The struct's schema is inferred from the data with
one aggregate query (or taken from ``withSchema``); a value that cannot be parsed becomes an
error record of this stage instead of a null struct, and its row leaves the output frame.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import SchemaError, TransformError
from etl.frame.records import error_frame
from etl.io import choices  # a module import: etl.io.choices itself imports etl.transforms
from etl.sqltext import sql_ident
from etl.transforms.base import Transform
from etl.transforms.paths import column_at, parse_path, quote, type_at, update_at

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

FORMATS = ("json", "csv")
CSV_OPTIONS = ("separator", "delimiter", "escaper", "quoteChar", "skipFirst", "withHeader", "withSchema")
JSON_OPTIONS = ("withSchema",)

_WORK = "__unbox"  # temporary column: struct<value, error>
_CORRUPT = "__unbox_corrupt"


@dataclass(frozen=True)
class Parsed:
    """How to unbox one field: the parsed value, and an error message (null when it parsed)."""

    value: Column
    error: Column


# ----- schemas --------------------------------------------------------------------------------
def schema_option(schema: Any) -> T.StructType:
    """``withSchema`` as a StructType: a StructType, its JSON (``StructType.json()``) or DDL."""
    if isinstance(schema, T.StructType):
        return schema
    if not isinstance(schema, str) or not schema.strip():
        raise TransformError(f"Unbox: withSchema must be a StructType or its JSON, got {schema!r}")
    try:
        parsed = T.StructType.fromJson(json.loads(schema))
    except (ValueError, KeyError, TypeError):
        try:
            parsed = T._parse_datatype_string(schema)
        except Exception as exc:  # Spark's parser raises several types
            raise TransformError(f"Unbox: withSchema {schema!r} is neither StructType JSON nor DDL") from exc
    if not isinstance(parsed, T.StructType):
        raise TransformError(f"Unbox: withSchema must describe a struct, got {parsed.simpleString()}")
    return parsed


def variant_schema(text: str | None) -> T.StructType:
    """The struct type of a ``schema_of_variant_agg`` result, as the JSON reader infers it:
    integers are ``long``, fractions ``double``, disagreeing or always-null fields ``string``."""
    try:
        return choices.variant_struct(text)
    except SchemaError as exc:
        raise TransformError(f"Unbox: {exc}") from exc


# ----- JSON -----------------------------------------------------------------------------------
def json_parser(df: DataFrame, value: Column, path: str, options: Mapping[str, Any]) -> Parsed:
    """Strict JSON (``try_parse_json``); the value must be an object. The schema is the merge of
    every object's (``schema_of_variant_agg``, one aggregate) unless ``withSchema`` is given."""
    variant = F.try_parse_json(value)
    is_object = F.schema_of_variant(variant).startswith("OBJECT<")
    if "withSchema" in options:
        schema = schema_option(options["withSchema"])
    else:
        row = df.where(is_object).select(F.schema_of_variant_agg(variant)).first()
        schema = variant_schema(row[0] if row else None)
    error = (
        F.when(value.isNull(), F.lit(None))
        .when(variant.isNull(), F.lit(f"Unbox: {path!r} is not valid JSON"))
        .when(~is_object, F.lit(f"Unbox: {path!r} is JSON but not an object"))
    )
    return Parsed(F.from_json(value, schema), error)


# ----- CSV ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CsvDialect:
    separator: str = ","
    quote: str = '"'
    escaper: str | None = None
    header_line: bool = False  # each value starts with a line to skip (withHeader / skipFirst)
    with_header: bool = False  # ... and that line names the columns

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CsvDialect:
        separator = options.get("separator", options.get("delimiter", ","))
        quote_char = options.get("quoteChar", '"')
        escaper = options.get("escaper") or None
        for label, char in (("separator", separator), ("quoteChar", quote_char), ("escaper", escaper)):
            if char is not None and (not isinstance(char, str) or len(char) != 1):
                raise TransformError(f"Unbox: CSV {label} must be one character, got {char!r}")
        with_header = bool(options.get("withHeader", False))
        return cls(separator, quote_char, escaper, with_header or bool(options.get("skipFirst")), with_header)

    def spark_options(self) -> dict[str, str]:
        opts = {"sep": self.separator, "quote": self.quote, "mode": "PERMISSIVE"}
        opts["columnNameOfCorruptRecord"] = _CORRUPT
        if self.escaper:
            opts["escape"] = self.escaper
        return opts

    def field_count(self, record: Column) -> Column:
        """Fields in a record: separators outside quoted sections, plus one."""
        q = re.escape(self.quote)
        inner = f"(?:[^{q}{re.escape(self.escaper)}]|{re.escape(self.escaper)}.)*" if self.escaper else f"[^{q}]*"
        unquoted = F.regexp_replace(record, f"{q}{inner}{q}", "")
        return F.size(F.split(unquoted, re.escape(self.separator), -1))

    def header_names(self, line: str) -> list[str]:
        """Column names from a header line (parsed on the driver: it is one short string)."""
        reader = csv.reader([line], delimiter=self.separator, quotechar=self.quote, escapechar=self.escaper)
        names = [name.strip() or f"col{i}" for i, name in enumerate(next(reader, []))]
        if len(set(names)) != len(names):
            raise TransformError(f"Unbox: duplicate column names in the CSV header {line!r}")
        return names


def csv_parser(df: DataFrame, value: Column, path: str, options: Mapping[str, Any]) -> Parsed:
    """One record per value (after a first line to skip with ``skipFirst``/``withHeader``).

    Columns are named by ``withSchema``, the header line (``withHeader``; every value must carry
    the same one) or ``col0, col1, ...`` as Glue names header-less CSV, as many as the most
    common number of fields; types are inferred like Spark's CSV reader (int, bigint, double,
    boolean, else string) with one aggregate query. A record whose field count or types do not
    fit is an error record.
    """
    dialect = CsvDialect.from_options(options)
    record = F.regexp_replace(_record_of(value, dialect), r"[\r\n]+$", "")
    if "withSchema" in options:
        schema = schema_option(options["withSchema"])
    else:
        names = _csv_names(df, value, record, dialect)
        schema = _infer_csv_types(df, record, names, dialect)
    parsed = F.from_csv(record, _csv_ddl(schema), dialect.spark_options())
    error = F.when(value.isNull(), F.lit(None)).when(
        parsed.getField(_CORRUPT).isNotNull(), F.lit(f"Unbox: {path!r} is not a CSV record of {schema.simpleString()}")
    )
    if dialect.header_line:
        error = F.when(
            value.isNotNull() & (F.instr(value, "\n") == 0),
            F.lit(f"Unbox: {path!r} has no record after its first line"),
        ).otherwise(error)
    if not schema.fields:  # no values to learn columns from: Spark cannot drop a struct's last field
        return Parsed(F.lit(None).cast(schema), error)
    return Parsed(parsed.dropFields(_CORRUPT), error)


def _csv_ddl(schema: T.StructType) -> str:
    """The DDL ``from_csv`` parses with: the schema's fields, then the corrupt-record column."""
    fields = [f"{sql_ident(f.name)} {f.dataType.simpleString()}" for f in schema.fields]
    return ", ".join([*fields, f"{sql_ident(_CORRUPT)} string"])


def _record_of(value: Column, dialect: CsvDialect) -> Column:
    return F.regexp_extract(value, r"\n([\s\S]*)$", 1) if dialect.header_line else value


def _csv_names(df: DataFrame, value: Column, record: Column, dialect: CsvDialect) -> list[str]:
    if dialect.with_header:
        header = F.regexp_replace(F.substring_index(value, "\n", 1), r"\r$", "")
        lines = [r[0] for r in df.where(value.isNotNull()).select(header).distinct().limit(2).collect()]
        if len(lines) > 1:
            raise TransformError(f"Unbox: the values carry different CSV headers, e.g. {lines[0]!r} and {lines[1]!r}")
        return dialect.header_names(lines[0]) if lines else []
    # the most common field count (ties: the larger); records of other lengths become errors
    counts = df.where(value.isNotNull()).groupBy(dialect.field_count(record).alias("n")).count()
    row = counts.orderBy(F.desc("count"), F.desc("n")).first()
    return [f"col{i}" for i in range(row["n"] if row else 0)]


def _infer_csv_types(df: DataFrame, record: Column, names: list[str], dialect: CsvDialect) -> T.StructType:
    if not names:
        return T.StructType([])
    as_text = T.StructType([T.StructField(n, T.StringType()) for n in names])
    tokens = F.from_csv(record, _csv_ddl(as_text), dialect.spark_options())
    checks = []
    for i, name in enumerate(names):
        token = tokens.getField(name)
        absent = token.isNull() | (token == "")
        for kind, test in _CSV_TYPE_TESTS:
            checks.append(F.bool_and(absent | test(token)).alias(f"{i}:{kind}"))
    row = df.where(tokens.getField(_CORRUPT).isNull()).select(*checks).first()
    return T.StructType([T.StructField(name, _csv_type(row, i), True) for i, name in enumerate(names)])


def _integral(spark_type: str) -> Any:
    return lambda t: t.rlike(r"^[+-]?[0-9]+$") & t.try_cast(spark_type).isNotNull()


_CSV_TYPE_TESTS = (
    ("int", _integral("int")),
    ("bigint", _integral("bigint")),
    ("double", lambda t: (t == F.trim(t)) & t.try_cast("double").isNotNull()),
    ("boolean", lambda t: F.lower(t).isin("true", "false")),
)
_CSV_TYPES = {"int": T.IntegerType(), "bigint": T.LongType(), "double": T.DoubleType(), "boolean": T.BooleanType()}


def _csv_type(row: Any, index: int) -> T.DataType:
    for kind, _ in _CSV_TYPE_TESTS:
        if row is not None and row[f"{index}:{kind}"]:
            return _CSV_TYPES[kind]
    return T.StringType()


# ----- the transform --------------------------------------------------------------------------
def _value_column(df: DataFrame, path: str) -> Column:
    """The string (or binary) field at ``path``, as a string column; TransformError otherwise."""
    steps = parse_path(path)
    if any(step.into_array for step in steps):
        raise TransformError(f"Unbox: {path!r} goes into an array; unbox fields of structs only")
    dtype = type_at(df.schema, steps)
    if dtype is None:
        raise TransformError(f"Unbox: field {path!r} not found in the frame's schema")
    if not isinstance(dtype, T.StringType | T.BinaryType):
        raise TransformError(f"Unbox: {path!r} is {dtype.simpleString()}, not a string")
    return column_at([step.name for step in steps]).cast("string")


def _check_options(fmt: str, options: Mapping[str, Any]) -> None:
    allowed = CSV_OPTIONS if fmt == "csv" else JSON_OPTIONS
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TransformError(f"Unbox: unknown {fmt} option(s) {unknown}; known: {list(allowed)}")


def unbox(
    df: DataFrame, path: str, fmt: str, options: Mapping[str, Any], *, transformation_ctx: str = "", info: str = ""
) -> tuple[DataFrame, DataFrame]:
    """(rows with ``path`` parsed into a struct, error records of the rows that did not parse)."""
    name = (fmt or "").strip().lower()
    if name not in FORMATS:
        raise TransformError(f"Unbox: format {fmt!r} is not supported; use one of {list(FORMATS)}")
    _check_options(name, options)
    if _WORK in df.columns:
        raise TransformError(f"Unbox: the frame already has a column named {_WORK!r}")
    value = _value_column(df, path)
    parser = json_parser if name == "json" else csv_parser
    parsed = parser(df, value, path, options)
    work = df.withColumn(_WORK, F.struct(parsed.value.alias("value"), parsed.error.alias("error")))
    failed = F.col(_WORK).getField("error").isNotNull()
    good = update_at(work.where(~failed), path, lambda _column, _dtype: F.col(_WORK).getField("value"))
    errors = error_frame(
        work.where(failed),
        transformation_ctx=transformation_ctx,
        info=info,
        message=F.col(_WORK).getField("error"),
        source=F.lit(path),
        input_record=F.to_json(F.struct(*[F.col(quote(c)) for c in df.columns])),
    )
    return good.drop(_WORK), errors


class Unbox(Transform):
    """Parses a JSON or CSV string field into a struct (Glue's Unbox).

    ``format`` is ``"json"`` or ``"csv"``. Options (Glue's names): ``withSchema`` (a StructType,
    its JSON or DDL; skips inference), and for CSV ``separator`` (alias ``delimiter``),
    ``quoteChar``, ``escaper`` (escapes characters inside quoted values, as Spark's CSV ``escape``),
    ``skipFirst`` and ``withHeader`` (each value's first line is skipped / names the columns).
    Unknown options raise TransformError. Nulls stay null; values that do not parse become error
    records (message, ``info``, ``transformation_ctx``, the field path as ``source`` and the
    whole input record as JSON) and leave the frame. JSON is parsed strictly (no single quotes,
    no NaN) and must be an object.
    """

    def __call__(
        self,
        frame: DynamicFrame,
        path: str,
        format: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        **options: Any,
    ) -> DynamicFrame:
        good, errors = unbox(frame.toDF(), path, format, options, transformation_ctx=transformation_ctx, info=info)
        return frame.derive(
            good,
            stage_errors=errors,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
