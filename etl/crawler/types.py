"""Hive/Glue type strings: parse, print, infer from values, and widen when files disagree.

Widening follows the lattice Glue users expect: tinyint < smallint < int < bigint < double,
float < double, date < timestamp, structs merge field by field, arrays by element, and anything
else falls back to string, flagged as a conflict so the catalog can show the choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Union

from etl.errors import SchemaError

# A type is a primitive name, or ("struct", [(name, type)]), ("array", t), ("map", k, v).
Type = Union[str, tuple]  # noqa: UP007 - a runtime alias, kept valid for isinstance-free use

NULL = "null"  # no value seen yet; widens to anything
_INTEGRAL = ["tinyint", "smallint", "int", "bigint"]
_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3, "float": 4, "double": 5}
_ALIASES = {"integer": "int", "long": "bigint", "short": "smallint", "byte": "tinyint", "bool": "boolean"}


# ----- parse / format -------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def parse_type(text: str) -> Type:
    """Parse a type string (cached: the result must not be mutated)."""
    parser = _TypeParser(text)
    result = parser.parse()
    if parser.pos != len(parser.text):
        raise SchemaError(f"unexpected {parser.text[parser.pos:]!r} in type {text!r}")
    return result


class _TypeParser:
    def __init__(self, text: str) -> None:
        self.text = text.replace(" ", "")
        self.pos = 0

    def word(self) -> str:
        match = re.compile(r"[A-Za-z_][\w]*(\(\d+(,\d+)?\))?").match(self.text, self.pos)
        if not match:
            raise SchemaError(f"bad type at {self.text[self.pos:]!r}")
        self.pos = match.end()
        return match.group(0)

    def expect(self, ch: str) -> None:
        if not self.text.startswith(ch, self.pos):
            raise SchemaError(f"expected {ch!r} at {self.text[self.pos:]!r}")
        self.pos += 1

    def parse(self) -> Type:
        name = self.word()
        lower = name.lower()
        if lower == "struct":
            self.expect("<")
            fields = []
            while not self.text.startswith(">", self.pos):
                field_name = self.field_name()
                self.expect(":")
                fields.append((field_name, self.parse()))
                if self.text.startswith(",", self.pos):
                    self.pos += 1
            self.expect(">")
            return ("struct", fields)
        if lower == "array":
            self.expect("<")
            element = self.parse()
            self.expect(">")
            return ("array", element)
        if lower == "map":
            self.expect("<")
            key = self.parse()
            self.expect(",")
            value = self.parse()
            self.expect(">")
            return ("map", key, value)
        return _ALIASES.get(lower, lower)

    def field_name(self) -> str:
        if self.text.startswith("`", self.pos):
            end = self.text.index("`", self.pos + 1)
            name = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return name
        match = re.compile(r"[^:,<>]+").match(self.text, self.pos)
        if not match:
            raise SchemaError(f"bad field name at {self.text[self.pos:]!r}")
        self.pos = match.end()
        return match.group(0)


def format_type(t: Type) -> str:
    if isinstance(t, str):
        return "string" if t == NULL else t
    if t[0] == "struct":
        inner = ",".join(f"{_field(name)}:{format_type(ft)}" for name, ft in t[1])
        return f"struct<{inner}>"
    if t[0] == "array":
        return f"array<{format_type(t[1])}>"
    return f"map<{format_type(t[1])},{format_type(t[2])}>"


def _field(name: str) -> str:
    return name if re.fullmatch(r"[\w$]+", name) else f"`{name}`"


# ----- inference -------------------------------------------------------------------------------
_INT_RE = re.compile(r"^[-+]?\d+$")
_FLOAT_RE = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")


def integral_type(value: int) -> str:
    return "int" if -(2**31) <= value < 2**31 else "bigint"


def infer_text(token: str) -> Type:
    """Type of a CSV/log token: boolean, int/bigint, double, date, timestamp or string."""
    text = token.strip()
    if text == "":
        return NULL
    lower = text.lower()
    if lower in ("true", "false"):
        return "boolean"
    if _INT_RE.match(text):
        if len(text.lstrip("+-")) > 1 and text.lstrip("+-").startswith("0"):
            return "string"  # zip codes, ids: leading zeros are data
        value = int(text)
        return integral_type(value) if -(2**63) <= value < 2**63 else "string"
    if _FLOAT_RE.match(text) and lower not in ("nan", "inf"):
        return "double"
    if _DATE_RE.match(text):
        try:
            date.fromisoformat(text)
            return "date"
        except ValueError:
            return "string"
    if _TS_RE.match(text):
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
            return "timestamp"
        except ValueError:
            return "string"
    return "string"


def infer_value(value: Any) -> Type:
    """Type of a decoded JSON/BSON/Ion value."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return integral_type(value)
    if isinstance(value, float):
        return "double"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, date):
        return "date"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, dict):
        return ("struct", [(str(k), infer_value(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        element: Type = NULL
        for item in value:
            element, _ = widen(element, infer_value(item))
        return ("array", element)
    return "string"


# ----- widening --------------------------------------------------------------------------------
def widen(a: Type, b: Type) -> tuple[Type, bool]:
    """The narrowest type holding both, and whether they conflicted (fell back to string)."""
    if a == b:
        return a, False
    if a == NULL:
        return b, False
    if b == NULL:
        return a, False
    if isinstance(a, str) and isinstance(b, str):
        if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
            if a in _INTEGRAL and b in _INTEGRAL:
                return max(a, b, key=_NUMERIC_RANK.__getitem__), False
            return "double", False
        if a.startswith("decimal") and b in _NUMERIC_RANK or b.startswith("decimal") and a in _NUMERIC_RANK:
            return "double", False
        if {a, b} == {"date", "timestamp"}:
            return "timestamp", False
        return "string", True
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "struct":
            merged, conflict = merge_fields(a[1], b[1])
            return ("struct", merged), conflict
        if a[0] == "array":
            element, conflict = widen(a[1], b[1])
            return ("array", element), conflict
        key, c1 = widen(a[1], b[1])
        value, c2 = widen(a[2], b[2])
        return ("map", key, value), c1 or c2
    return "string", True


def merge_fields(
    a: list[tuple[str, Type]],
    b: list[tuple[str, Type]],
    widen_fn: Callable[[Type, Type], tuple[Type, bool]] | None = None,
) -> tuple[list[tuple[str, Type]], bool]:
    """Union of two field lists in first-seen order, widening shared names (case-insensitive)
    with ``widen_fn`` (default :func:`widen`; formats such as XML bring their own rules)."""
    widen_fn = widen_fn or widen
    out: list[tuple[str, Type]] = list(a)
    index = {name.lower(): i for i, (name, _) in enumerate(out)}
    conflict = False
    for name, t in b:
        i = index.get(name.lower())
        if i is None:
            index[name.lower()] = len(out)
            out.append((name, t))
        else:
            merged, c = widen_fn(out[i][1], t)
            conflict = conflict or c
            out[i] = (out[i][0], merged)
    return out, conflict
