"""Quoting text into Spark SQL statements (string literals and identifiers)."""

from __future__ import annotations


def sql_string(text: str) -> str:
    """A Spark SQL string literal: backslashes and single quotes escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_ident(name: str) -> str:
    """A back-ticked Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"
