"""Which columns FindMatches compares, how, and their normalized form.

Normalization is native Spark: text is lower-cased, accents folded, punctuation turned into
spaces and runs of spaces collapsed, so ``"O'Brien,  Ann"`` and ``"obrien ann"`` compare close.
Empty strings become null (a missing value is not a match).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.findmatches.params import CompareColumn, FindMatchesParameters

TEXT_KINDS = ("text", "name")
KEY = "__fm_key"  # the primary key under a fixed name inside the pipeline


@dataclass(frozen=True)
class ResolvedColumn:
    """A compared column with a concrete kind (never ``auto``)."""

    name: str
    kind: str  # text | name | exact | numeric | date

    @property
    def is_text(self) -> bool:
        return self.kind in TEXT_KINDS


def _kind_for(dtype: T.DataType) -> str:
    if isinstance(dtype, T.StringType):
        return "text"
    if isinstance(dtype, T.NumericType):
        return "numeric"
    if isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType):
        return "date"
    return "exact"


def resolve_columns(df: DataFrame, params: FindMatchesParameters) -> list[ResolvedColumn]:
    """The compared columns with kinds from the schema where ``auto``.

    Raises:
        TransformError: the key or a named column is not in the frame, or nothing is left
            to compare.
    """
    types = {f.name: f.dataType for f in df.schema.fields}
    key = params.primary_key_column_name
    if key not in types:
        raise TransformError(
            f"FindMatches: primary key column {key!r} is not in the frame (columns: {', '.join(types)})"
        )
    wanted: Sequence[CompareColumn] = params.columns or [CompareColumn(name=n) for n in types if n != key]
    resolved = []
    for column in wanted:
        if column.name not in types:
            raise TransformError(
                f"FindMatches: column {column.name!r} to compare is not in the frame (columns: {', '.join(types)})"
            )
        if column.name == key:
            raise TransformError(f"FindMatches: the primary key {key!r} cannot also be a compared column")
        dtype = types[column.name]
        if isinstance(dtype, T.StructType | T.ArrayType | T.MapType):
            raise TransformError(
                f"FindMatches: column {column.name!r} is {dtype.simpleString()}; only scalar columns can be "
                "compared (flatten it first, e.g. with UnnestFrame or ApplyMapping)"
            )
        resolved.append(ResolvedColumn(column.name, _kind_for(dtype) if column.kind == "auto" else column.kind))
    if not resolved:
        raise TransformError("FindMatches: no columns to compare besides the primary key")
    return resolved


def normalize_text(column: Column) -> Column:
    """Lower case, accents folded, punctuation to spaces (apostrophes removed), spaces collapsed;
    empty becomes null."""
    text = F.lower(
        F.translate(
            column.cast("string"),
            "ÀÁÂÃÄÅàáâãäåÈÉÊËèéêëÌÍÎÏìíîïÒÓÔÕÖòóôõöÙÚÛÜùúûüÇçÑñ",
            "aaaaaaaaaaaaeeeeeeeeiiiiiiiioooooooooouuuuuuuuccnn",
        )
    )
    text = F.regexp_replace(text, "['`]", "")
    text = F.trim(F.regexp_replace(F.regexp_replace(text, r"[^\p{L}\p{N}]+", " "), " +", " "))
    return F.when(text != "", text)


# Text dates are read in the first of these formats that parses (day before month when ambiguous).
DATE_FORMATS = ("yyyy-MM-dd", "yyyyMMdd", "yyyy/MM/dd", "dd/MM/yyyy", "dd.MM.yyyy", "dd-MM-yyyy", "MM/dd/yyyy")


def as_date(source: Column, dtype: T.DataType) -> Column:
    """A date from a date, timestamp or text column; text in any of ``DATE_FORMATS`` (ISO, compact
    ``19560409`` as in Febrl, European and US forms), anything else null."""
    if isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType):
        return F.to_date(source)
    text = F.trim(source.cast("string"))
    return F.coalesce(*[F.try_to_date(text, fmt) for fmt in DATE_FORMATS])


def prepare(df: DataFrame, key: str, columns: Sequence[ResolvedColumn], keep: Sequence[str] = ()) -> DataFrame:
    """``__fm_key`` plus each compared column normalized under its own name: text normalized,
    ``exact`` as a trimmed string, numbers as double, dates as date; ``keep`` columns as they are."""
    out = [F.col(f"`{key}`").alias(KEY), *[F.col(f"`{name}`") for name in keep]]
    for column in columns:
        source = F.col(f"`{column.name}`")
        if column.is_text:
            value = normalize_text(source)
        elif column.kind == "numeric":
            value = source.try_cast("double")
        elif column.kind == "date":
            value = as_date(source, df.schema[column.name].dataType)
        else:
            value = normalize_text(source)
        out.append(value.alias(column.name))
    return df.select(*out)
