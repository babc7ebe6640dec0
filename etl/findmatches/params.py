"""A FindMatches transform's parameters, in Glue's names (``FindMatchesParameters``).

Glue keeps these with the ML transform; so does the local catalog (``etl findmatches create``).
Keys are accepted in Glue's PascalCase (``PrimaryKeyColumnName``) or snake_case.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from etl.config import GlueModel

ColumnKind = Literal["auto", "text", "name", "exact", "numeric", "date"]


class CompareColumn(GlueModel):
    """One column to compare and how: ``text`` (edit distance, Jaro-Winkler, token overlap),
    ``name`` (like text, tuned for short person names), ``exact``, ``numeric``, ``date``;
    ``auto`` picks from the column's Spark type (strings are ``text``)."""

    name: str = Field(min_length=1)
    kind: ColumnKind = "auto"


class FindMatchesParameters(GlueModel):
    """Glue's FindMatchesParameters plus the columns to compare (Glue compares every column).

    Attributes:
        primary_key_column_name: unique id of each record (Glue: PrimaryKeyColumnName).
        precision_recall_tradeoff: 0 favours precision, 1 favours recall (Glue's meaning);
            it sets the match threshold.
        accuracy_cost_tradeoff: 0 favours cost (fewer candidate pairs), 1 favours accuracy
            (more LSH bands, higher blocking recall).
        enforce_provided_labels: labelled pairs override the model in the output.
        columns: the columns compared; None compares every column except the key.
    """

    primary_key_column_name: str = Field(min_length=1)
    precision_recall_tradeoff: float = Field(0.5, ge=0.0, le=1.0)
    accuracy_cost_tradeoff: float = Field(0.5, ge=0.0, le=1.0)
    enforce_provided_labels: bool = False
    columns: list[CompareColumn] | None = None

    @field_validator("columns", mode="before")
    @classmethod
    def _names_as_columns(cls, value: object) -> object:
        """``columns: [first_name, surname]`` is short for ``[{name: first_name}, ...]``."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value
