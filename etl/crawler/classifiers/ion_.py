"""Glue's Ion classifier: Amazon Ion text or binary, one struct per record.

Binary Ion starts with the version marker ``E0 01 00 EA``. Its top-level values are walked by
their type/length descriptors (never decoded) to find the end of the first 1,000 records, the
exact record count when the sample covers the file, and where a truncated sample ends; only that
prefix is loaded with ``simpleion.loads``. A binary file whose framing breaks is corrupt
(:class:`ClassificationError`).

Text Ion must start like a record stream (``$ion_1_0``, ``{``, an annotation ``name::`` or a
comment) and is loaded lazily (``simpleion.load(..., parse_eagerly=False)``), up to 1,000 values;
a truncated sample keeps the values before the cut. Every record must be a struct. Text that is
also plain JSON (JSON lines or a JSON document) is left to the JSON classifier, which Glue runs
first: JSON is a subset of Ion text.

Types: bool -> boolean; int -> int/bigint by value (beyond 64 bits like a decimal); float ->
double; decimal -> decimal(38,18) when the value fits it exactly, else string; timestamp ->
timestamp; string/symbol -> string; blob/clob -> binary; list/sexp -> array; struct -> struct;
typed nulls carry no type.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simple_types import IonPyNull

from etl.crawler.classifiers._records import columns_of, decimal_type, text_parameters
from etl.crawler.model import Classification
from etl.crawler.sample import SAMPLE_RECORDS, FileSample
from etl.crawler.types import NULL, Type, infer_value, integral_type, merge_fields, widen
from etl.errors import ClassificationError

ION_SERDE = "com.amazon.ionhiveserde.IonHiveSerDe"
ION_INPUT = "com.amazon.ionhiveserde.formats.IonInputFormat"
ION_OUTPUT = "com.amazon.ionhiveserde.formats.IonOutputFormat"
IVM = b"\xe0\x01\x00\xea"

_TEXT_START = re.compile(
    r"\s*(?:\$ion_1_0\b|\{|/[/*]|[A-Za-z_$][\w$]*\s*::|'(?:[^'\\\n]|\\.)*'\s*::)"
)
_SYMBOL_TABLE_SID = 3  # $ion_symbol_table
_TYPE_BOOL, _TYPE_STRUCT, _TYPE_ANNOTATION, _TYPE_RESERVED = 0x1, 0xD, 0xE, 0xF


# ----- types ------------------------------------------------------------------------------------
def ion_type(value: Any) -> Type:
    """The Hive type of a loaded Ion value (see the module docstring)."""
    if value is None or isinstance(value, IonPyNull):
        return NULL
    kind = getattr(value, "ion_type", None)
    if kind is None:
        return infer_value(value)
    if kind is IonType.BOOL:
        return "boolean"
    if kind is IonType.INT:
        number = int(value)
        if -(2**63) <= number < 2**63:
            return integral_type(number)
        return decimal_type(Decimal(number))
    if kind is IonType.FLOAT:
        return "double"
    if kind is IonType.DECIMAL:
        return decimal_type(Decimal(value))
    if kind is IonType.TIMESTAMP:
        return "timestamp"
    if kind in (IonType.BLOB, IonType.CLOB):
        return "binary"
    if kind is IonType.STRUCT:
        # Ion structs may repeat a field name; the repeats merge into one field.
        fields, _ = merge_fields([], [(str(k), ion_type(item)) for k, item in value.items()])
        return ("struct", fields)
    if kind in (IonType.LIST, IonType.SEXP):
        element: Type = NULL
        for item in value:
            element, _ = widen(element, ion_type(item))
        return ("array", element)
    return "string"  # string, symbol


def _is_struct(value: Any) -> bool:
    return getattr(value, "ion_type", None) is IonType.STRUCT and not isinstance(value, IonPyNull)


# ----- binary framing ---------------------------------------------------------------------------
class _Cut(Exception):
    """The data ends inside a value."""


class _Corrupt(Exception):
    """The data is not valid binary Ion framing."""


def _var_uint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for i in range(pos, min(len(data), pos + 10)):
        result = (result << 7) | (data[i] & 0x7F)
        if data[i] & 0x80:
            return result, i + 1
    if len(data) - pos < 10:
        raise _Cut()
    raise _Corrupt(f"VarUInt too long at byte {pos}")


def walk_binary(data: bytes) -> tuple[list[int], bool]:
    """End offsets of the top-level user values, and whether the data ended cleanly.

    System values (version markers, NOP padding, ``$ion_symbol_table::`` structs) are skipped.

    Raises:
        _Corrupt: a reserved type code or a malformed length.
    """
    ends: list[int] = []
    pos, n = 0, len(data)
    while pos < n:
        if data.startswith(IVM, pos):
            pos += 4
            continue
        if n - pos < 4 and IVM.startswith(data[pos:]):
            return ends, False
        try:
            start = pos
            descriptor = data[pos]
            kind, low = descriptor >> 4, descriptor & 0x0F
            pos += 1
            if kind == _TYPE_RESERVED or (kind == _TYPE_ANNOTATION and low < 3):
                raise _Corrupt(f"invalid type descriptor 0x{descriptor:02x} at byte {start}")
            if kind == _TYPE_BOOL or low == 0x0F:
                length = 0
            elif low == 0x0E or (kind == _TYPE_STRUCT and low == 1):
                length, pos = _var_uint(data, pos)
            else:
                length = low
            system = kind == 0 and low != 0x0F  # NOP padding
            if kind == _TYPE_ANNOTATION:
                _, sids_at = _var_uint(data, pos)  # skip the annotations' byte length
                first_sid, _ = _var_uint(data, sids_at)
                system = first_sid == _SYMBOL_TABLE_SID
        except _Cut:
            return ends, False
        end = pos + length
        if end > n:
            return ends, False
        if not system:
            ends.append(end)
        pos = end
    return ends, True


# ----- the classifier ---------------------------------------------------------------------------
class IonClassifier:
    """Amazon Ion, text or binary."""

    name = "ion"

    def classify(self, sample: FileSample) -> Classification | None:
        if sample.first_bytes.startswith((b"PAR1", b"ORC", b"Obj\x01")):
            return None
        head = sample.head
        if head.startswith(IVM):
            return self._binary(sample, head)
        return self._text(sample, head)

    def _binary(self, sample: FileSample, head: bytes) -> Classification | None:
        try:
            ends, clean = walk_binary(head)
        except _Corrupt as exc:
            raise ClassificationError(f"{sample.path}: corrupt binary Ion: {exc}") from exc
        if not clean and not sample.truncated:
            raise ClassificationError(
                f"{sample.path}: binary Ion ends inside a value (truncated file)")
        if not ends:
            return None
        cut = ends[min(len(ends), SAMPLE_RECORDS) - 1]
        try:
            values = simpleion.loads(head[:cut], single_value=False)
        except Exception as exc:  # the Ion reader raises IonException and others
            raise ClassificationError(f"{sample.path}: binary Ion does not load: {exc}") from exc
        exact = clean and not sample.truncated
        return self._result(sample, values, "binary", len(ends) if exact else None)

    def _text(self, sample: FileSample, head: bytes) -> Classification | None:
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        if sample.is_binary or not _TEXT_START.match(head[:4096].decode("utf-8", "replace")):
            return None
        values: list[Any] = []
        exhausted = False
        try:
            reader = simpleion.load(io.BytesIO(head), single_value=False, parse_eagerly=False)
            for value in reader:
                values.append(value)
                if len(values) > SAMPLE_RECORDS:
                    break
            else:
                exhausted = True
        except Exception:  # the Ion reader raises IonException and others
            if not sample.truncated:
                return None
        if sample.truncated and exhausted and values and not _is_struct(values[-1]):
            values.pop()  # a symbol or number cut by the end of the sample
        more = len(values) > SAMPLE_RECORDS
        values = values[:SAMPLE_RECORDS]
        if not values or not all(_is_struct(v) for v in values):
            return None
        if not head.lstrip().startswith(b"$ion_1_0"):
            from etl.crawler.classifiers.json_ import JSON

            as_json = JSON.classify(sample)
            if as_json is not None and as_json.certainty == 1.0:
                return None  # plain JSON: the JSON classifier's file
        exact = exhausted and not more and not sample.truncated
        return self._result(sample, values, "text", len(values) if exact else None)

    def _result(self, sample: FileSample, values: list[Any], encoding: str,
                record_count: int | None) -> Classification | None:
        if not values or not all(_is_struct(v) for v in values):
            return None
        columns = columns_of(ion_type(v)[1] for v in values)
        return Classification(
            classification="ion",
            certainty=1.0,
            columns=columns,
            parameters=text_parameters(sample, "ion"),
            serde={"SerializationLibrary": ION_SERDE,
                   "Parameters": {"ion.encoding": encoding.upper()}},
            input_format=ION_INPUT,
            output_format=ION_OUTPUT,
            record_count=record_count,
            reason=(f"{encoding} Ion: {len(values)} struct record(s), "
                    f"{len(columns)} top-level field(s)"
                    + (" (sample truncated)" if sample.truncated else "")),
            classifier=self.name,
        )


ION = IonClassifier()
