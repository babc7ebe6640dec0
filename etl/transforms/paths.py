"""Glue field paths: ``a.b.c``, with back-ticks around names that contain dots."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from etl.errors import TransformError


def split_path(path: str) -> list[str]:
    """``"a.`b.c`.d"`` -> ``["a", "b.c", "d"]``."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in path:
        if ch == "`":
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise TransformError(f"unbalanced back-tick in field path {path!r}")
    parts.append("".join(current))
    if any(p == "" for p in parts):
        raise TransformError(f"empty name in field path {path!r}")
    return parts


def column_at(parts: list[str]) -> Column:
    """A Column reading the nested field ``parts``."""
    column = F.col(f"`{parts[0]}`")
    for name in parts[1:]:
        column = column.getField(name)
    return column
