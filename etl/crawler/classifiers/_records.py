"""Shared pieces of the record-oriented classifiers (JSON, BSON, XML, Ion).

They all decode a bounded number of records from the sample, infer one Hive type per record
(:func:`etl.crawler.types.infer_value` plus format-specific leaves), merge the records' top-level
fields into columns, and record the same table parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from etl.crawler.model import Column
from etl.crawler.sample import FileSample
from etl.crawler.types import NULL, Type, format_type, widen

TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

# Decimal128 / Ion decimals have no fixed scale. A value that fits Spark's default decimal
# (38 digits, 18 after the point) is typed decimal(38,18); anything larger, finer or non-finite
# is typed string, so no value is silently rounded or overflowed.
DECIMAL_DEFAULT = "decimal(38,18)"
_DECIMAL_INT_DIGITS = 38 - 18
_DECIMAL_SCALE = 18

Widen = Callable[[Type, Type], tuple[Type, bool]]


def decimal_type(value: Decimal) -> Type:
    """``decimal(38,18)`` if the value fits it exactly, else ``string``."""
    if not value.is_finite():
        return "string"
    if value == 0:
        return DECIMAL_DEFAULT
    _, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    int_digits = max(0, len(digits) + exponent)
    if scale > _DECIMAL_SCALE or int_digits > _DECIMAL_INT_DIGITS:
        return "string"
    return DECIMAL_DEFAULT


def columns_of(records: Iterable[list[tuple[str, Type]]], widen_fn: Widen = widen) -> list[Column]:
    """Merge the top-level fields of each record into catalog columns (first-seen order).

    A column whose records disagree beyond widening (``bigint`` and ``string``...) gets the
    widened type and ``choice`` listing the types seen, as the catalog shows choices.
    """
    order: list[str] = []
    names: dict[str, str] = {}
    merged: dict[str, Type] = {}
    seen: dict[str, list[str]] = {}
    conflicted: set[str] = set()
    for fields in records:
        for name, t in fields:
            key = name.lower()
            if key not in merged:
                order.append(key)
                names[key] = name
                merged[key] = t
                seen[key] = []
            else:
                merged[key], conflict = widen_fn(merged[key], t)
                if conflict:
                    conflicted.add(key)
            if t != NULL:
                shown = format_type(t)
                if shown not in seen[key]:
                    seen[key].append(shown)
    return [
        Column(names[k], format_type(merged[k]),
               choice="|".join(seen[k]) if k in conflicted else None)
        for k in order
    ]


def text_parameters(sample: FileSample, classification: str, **extra: str) -> dict[str, str]:
    """Table parameters every text-based structured table gets."""
    params = {"classification": classification, "typeOfData": "file", **extra}
    if sample.compression:
        params["compressionType"] = sample.compression
    return params


def strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text
