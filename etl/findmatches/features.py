"""Comparison features of candidate pairs, and the comparison levels the match model reads.

:func:`compare` joins each pair ``(id_l, id_r)`` to both records' prepared columns
(:func:`etl.findmatches.columns.prepare`) and computes, per column kind, the features below, named
``<column>__<feature>``. Every feature is null when either side is null (no information).

=============  ==================================================================================
kind           features
=============  ==================================================================================
text, name     ``exact`` (bool), ``jw`` Jaro-Winkler similarity, ``lev`` 1 - Levenshtein distance /
               longer length, ``jaccard`` of the sets of space-separated tokens (doubles in [0, 1])
name           also ``soundex`` (bool, equal Soundex codes) and, when there are several name columns,
               ``swapped`` (bool: the value equals the other record's value of another name column)
numeric        ``exact`` (bool), ``absdiff`` \\|l - r\\|, ``reldiff`` \\|l - r\\| / max(\\|l\\|, \\|r\\|)
date           ``exact`` (bool), ``days`` apart, ``edits`` (Levenshtein distance of the yyyyMMdd
               forms: one mistyped digit is 1), ``transposed`` (bool: same year, day and month swapped)
exact          ``exact`` (bool)
=============  ==================================================================================

The text features of every text column are computed in one pass over Arrow batches
(``mapInArrow``): Jaro-Winkler and Levenshtein with ``rapidfuzz``'s batch scorers (one call per
column and batch), exact equality with ``pyarrow.compute`` and token Jaccard with numpy (tokens
dictionary-encoded, each pair's distinct tokens counted by sorting), instead of Spark's native
``levenshtein`` and array functions plus a Jaro-Winkler pandas UDF (compared in
bench/RESULTS.md). What
depends on one record only (Soundex codes, yyyyMMdd forms of dates) is computed once per record
before the join; the rest (numeric, date, exact, swapped names) is native Spark.

:func:`levels` turns the features into one small int per column (``<column>__level``) for the
Fellegi-Sunter model; :data:`LEVEL_TABLE` documents them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from functools import reduce

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.findmatches.columns import KEY, ResolvedColumn
from etl.sqltext import sql_ident

NULL_LEVEL = -1  # either side is null: the comparison carries no information (weight 0)

#: The comparison levels per column kind, highest first; a pair gets the first level whose test holds,
#: ``-1`` when either side is null and ``0`` when none holds. Thresholds are on the features above.
LEVEL_TABLE: dict[str, list[tuple[int, str]]] = {
    "text": [
        (4, "exact"),
        (3, "jw >= 0.95, or lev >= 0.9, or the same set of tokens (jaccard = 1)"),
        (2, "jw >= 0.88, or lev >= 0.8"),
        (1, "jw >= 0.70"),
        (0, "else"),
    ],
    "name": [
        (5, "exact"),
        (4, "swapped with another name column"),
        (3, "jw >= 0.95, or the same set of tokens"),
        (2, "jw >= 0.88, or equal Soundex codes"),
        (1, "jw >= 0.70"),
        (0, "else"),
    ],
    "numeric": [(3, "exact"), (2, "reldiff <= 0.05"), (1, "reldiff <= 0.25"), (0, "else")],
    "date": [
        (4, "exact"),
        (3, "one digit differs (edits = 1), or day and month transposed"),
        (2, "days <= 31"),
        (1, "days <= 366"),
        (0, "else"),
    ],
    "exact": [(1, "exact"), (0, "else")],
}


def level_count(kind: str) -> int:
    """How many non-null levels a column of this kind has (levels are ``0 .. count - 1``)."""
    return len(LEVEL_TABLE[kind])


def feature_name(column: str, feature: str) -> str:
    """The name of one feature column: ``<column>__<feature>``."""
    return f"{column}__{feature}"


def level_name(column: str) -> str:
    """The name of a column's comparison level: ``<column>__level``."""
    return feature_name(column, "level")


def col(name: str) -> Column:
    """A column by its exact name (dots, spaces and back-ticks allowed)."""
    return F.col(sql_ident(name))


def _both(left: Column, right: Column, value: Column) -> Column:
    """``value`` when both sides are set, else null."""
    return F.when(left.isNotNull() & right.isNotNull(), value)


def _masked(values: np.ndarray, both: np.ndarray) -> pa.Array:
    """``values`` as an Arrow array, null where ``both`` is False."""
    return pa.array(values, mask=~both)


def token_jaccard(left: pa.Array, right: pa.Array) -> np.ndarray:
    """Per row, the Jaccard similarity of the sets of space-separated tokens of the two strings
    (0 where either is null; callers mask those), vectorized: tokens of both sides are
    dictionary-encoded together, each row's distinct tokens are ``row << 32 | token`` sorted
    and unique, and the tokens in both sides are the values that occur twice."""
    n = len(left)

    def distinct_tokens(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
        lists = pc.split_pattern(values.cast(pa.large_string()), " ")
        lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
        return pc.list_flatten(lists), np.repeat(np.arange(n, dtype=np.uint64), lengths)

    tokens_l, rows_l = distinct_tokens(left)
    tokens_r, rows_r = distinct_tokens(right)
    codes = pc.dictionary_encode(pa.concat_arrays([tokens_l, tokens_r])).indices.to_numpy(zero_copy_only=False)
    codes = codes.astype(np.uint64)
    unique_l = np.unique((rows_l << np.uint64(32)) | codes[: len(tokens_l)])
    unique_r = np.unique((rows_r << np.uint64(32)) | codes[len(tokens_l) :])
    both = np.concatenate([unique_l, unique_r])
    both.sort()
    shared = both[1:][both[1:] == both[:-1]] >> np.uint64(32)
    count_l = np.bincount((unique_l >> np.uint64(32)).astype(np.int64), minlength=n)
    count_r = np.bincount((unique_r >> np.uint64(32)).astype(np.int64), minlength=n)
    inter = np.bincount(shared.astype(np.int64), minlength=n)
    union = count_l + count_r - inter
    return np.divide(inter, union, out=np.zeros(n), where=union > 0)


def text_features_of(left: pa.Array, right: pa.Array) -> list[pa.Array]:
    """``exact``, ``jw``, ``lev`` and ``jaccard`` of each row's two strings, null where either is null."""
    from rapidfuzz.distance import JaroWinkler, Levenshtein
    from rapidfuzz.process import cpdist

    both = pc.and_(pc.is_valid(left), pc.is_valid(right)).to_numpy(zero_copy_only=False)
    exact = pc.fill_null(pc.equal(left, right), False).to_numpy(zero_copy_only=False)
    strings_l = pc.fill_null(left, "").to_pylist()
    strings_r = pc.fill_null(right, "").to_pylist()
    scores = [
        cpdist(strings_l, strings_r, scorer=scorer, dtype=np.float64, workers=1)
        for scorer in (JaroWinkler.normalized_similarity, Levenshtein.normalized_similarity)
    ]
    return [_masked(exact, both), *(_masked(v, both) for v in scores), _masked(token_jaccard(left, right), both)]


_TEXT_FEATURES = ("exact", "jw", "lev", "jaccard")
_TEXT_TYPES = (T.BooleanType(), T.DoubleType(), T.DoubleType(), T.DoubleType())


def _with_text_features(joined: DataFrame, text: Sequence[tuple[int, str]]) -> DataFrame:
    """``joined`` plus the :data:`_TEXT_FEATURES` of each text column ``(index, name)``, whose
    sides are ``__l<index>`` and ``__r<index>``, from one ``mapInArrow`` pass."""
    names = joined.columns
    sides = [(names.index(f"__l{i}"), names.index(f"__r{i}")) for i, _ in text]
    out_names = [*names, *(feature_name(name, f) for _, name in text for f in _TEXT_FEATURES)]

    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            arrays = list(batch.columns)
            for left, right in sides:
                arrays += text_features_of(batch.column(left), batch.column(right))
            yield pa.RecordBatch.from_arrays(arrays, names=out_names)

    fields = list(joined.schema.fields)
    fields += [
        T.StructField(feature_name(name, f), t)
        for _, name in text
        for f, t in zip(_TEXT_FEATURES, _TEXT_TYPES, strict=True)
    ]
    return joined.mapInArrow(compute, T.StructType(fields))


def _name_features(
    name: str, left: Column, right: Column, soundex: tuple[Column, Column], others: Sequence[tuple[Column, Column]]
) -> list[Column]:
    out = [_both(left, right, soundex[0] == soundex[1]).alias(feature_name(name, "soundex"))]
    if others:
        crossed = [(left == other_r) | (right == other_l) for other_l, other_r in others]
        swapped = F.coalesce(reduce(operator.or_, crossed), F.lit(False))
        out.append(_both(left, right, swapped).alias(feature_name(name, "swapped")))
    return out


def _numeric_features(name: str, left: Column, right: Column) -> list[Column]:
    diff = F.abs(left - right)
    scale = F.greatest(F.abs(left), F.abs(right))
    return [
        _both(left, right, left == right).alias(feature_name(name, "exact")),
        _both(left, right, diff).alias(feature_name(name, "absdiff")),
        _both(left, right, F.when(scale == 0, F.lit(0.0)).otherwise(diff / scale)).alias(feature_name(name, "reldiff")),
    ]


def _date_features(name: str, left: Column, right: Column, digits: tuple[Column, Column]) -> list[Column]:
    transposed = (
        (F.year(left) == F.year(right))
        & (F.month(left) == F.dayofmonth(right))
        & (F.dayofmonth(left) == F.month(right))
        & (F.month(left) != F.dayofmonth(left))
    )
    edits = F.levenshtein(*digits)
    return [
        _both(left, right, left == right).alias(feature_name(name, "exact")),
        _both(left, right, F.abs(F.datediff(left, right))).alias(feature_name(name, "days")),
        _both(left, right, edits).alias(feature_name(name, "edits")),
        _both(left, right, transposed).alias(feature_name(name, "transposed")),
    ]


def feature_columns(columns: Sequence[ResolvedColumn]) -> list[str]:
    """The feature column names :func:`compare` produces for these columns, in order."""
    names = {c.name for c in columns if c.kind == "name"}
    out: list[str] = []
    for column in columns:
        if column.is_text:
            out += [feature_name(column.name, f) for f in ("exact", "jw", "lev", "jaccard")]
            if column.kind == "name":
                out.append(feature_name(column.name, "soundex"))
                if len(names) > 1:
                    out.append(feature_name(column.name, "swapped"))
        elif column.kind == "numeric":
            out += [feature_name(column.name, f) for f in ("exact", "absdiff", "reldiff")]
        elif column.kind == "date":
            out += [feature_name(column.name, f) for f in ("exact", "days", "edits", "transposed")]
        else:
            out.append(feature_name(column.name, "exact"))
    return out


def has_features(df: DataFrame, columns: Sequence[ResolvedColumn]) -> bool:
    """Whether ``df`` holds every feature :func:`compare` makes for these columns."""
    present = set(df.columns)
    return all(name in present for name in feature_columns(columns))


def compare(pairs: DataFrame, prepared: DataFrame, columns: Sequence[ResolvedColumn]) -> DataFrame:
    """The comparison features of each pair: ``id_l, id_r`` and the columns of :func:`feature_columns`.

    Args:
        pairs: ``id_l, id_r`` keys of ``prepared`` (``__fm_key``).
        prepared: the records as :func:`etl.findmatches.columns.prepare` returns them.
        columns: the compared columns and their kinds.
    """
    sides = {}
    for side in ("l", "r"):
        renamed = [col(KEY).alias(f"id_{side}")]
        for i, c in enumerate(columns):
            renamed.append(col(c.name).alias(f"__{side}{i}"))
            if c.kind == "name":  # once per record, not once per pair
                renamed.append(F.soundex(col(c.name)).alias(f"__{side}{i}_soundex"))
            elif c.kind == "date":
                renamed.append(F.date_format(col(c.name), "yyyyMMdd").alias(f"__{side}{i}_digits"))
        sides[side] = prepared.select(*renamed)
    joined = pairs.select("id_l", "id_r").join(sides["l"], "id_l").join(sides["r"], "id_r")
    joined = _with_text_features(joined, [(i, c.name) for i, c in enumerate(columns) if c.is_text])

    def side(i: int, suffix: str = "") -> tuple[Column, Column]:
        return F.col(f"__l{i}{suffix}"), F.col(f"__r{i}{suffix}")

    name_index = [i for i, c in enumerate(columns) if c.kind == "name"]
    features: list[Column] = []
    for i, column in enumerate(columns):
        left, right = side(i)
        if column.is_text:
            features += [col(feature_name(column.name, f)) for f in _TEXT_FEATURES]
            if column.kind == "name":
                others = [side(j) for j in name_index if j != i]
                features += _name_features(column.name, left, right, side(i, "_soundex"), others)
        elif column.kind == "numeric":
            features += _numeric_features(column.name, left, right)
        elif column.kind == "date":
            features += _date_features(column.name, left, right, side(i, "_digits"))
        else:
            features.append(_both(left, right, left == right).alias(feature_name(column.name, "exact")))
    return joined.select("id_l", "id_r", *features)


def _first(conditions: Sequence[tuple[Column, int]], null: Column) -> Column:
    """The level of the first condition that holds; ``-1`` when ``null``; ``0`` when none holds."""
    level = F.when(null, F.lit(NULL_LEVEL))
    for condition, value in conditions:
        level = level.when(condition, F.lit(value))
    return level.otherwise(F.lit(0)).cast("int")


def level_expr(column: ResolvedColumn, available: Sequence[str]) -> Column:
    """The comparison level of one column (see :data:`LEVEL_TABLE`) from its features."""

    def f(feature: str) -> Column:
        return col(feature_name(column.name, feature))

    exact = f("exact")
    null = exact.isNull()
    if column.is_text:
        jw = f("jw")
        same_tokens = f("jaccard") >= 1.0
        if column.kind == "text":
            lev = f("lev")
            return _first(
                [
                    (exact, 4),
                    ((jw >= 0.95) | (lev >= 0.9) | same_tokens, 3),
                    ((jw >= 0.88) | (lev >= 0.8), 2),
                    (jw >= 0.70, 1),
                ],
                null,
            )
        swapped = f("swapped") if feature_name(column.name, "swapped") in available else F.lit(False)
        return _first(
            [
                (exact, 5),
                (swapped, 4),
                ((jw >= 0.95) | same_tokens, 3),
                ((jw >= 0.88) | f("soundex"), 2),
                (jw >= 0.70, 1),
            ],
            null,
        )
    if column.kind == "numeric":
        reldiff = f("reldiff")
        return _first([(exact, 3), (reldiff <= 0.05, 2), (reldiff <= 0.25, 1)], null)
    if column.kind == "date":
        days = f("days")
        return _first([(exact, 4), ((f("edits") <= 1) | f("transposed"), 3), (days <= 31, 2), (days <= 366, 1)], null)
    return _first([(exact, 1)], null)


def levels(features: DataFrame, columns: Sequence[ResolvedColumn]) -> DataFrame:
    """``features`` plus one int ``<column>__level`` per compared column (see :data:`LEVEL_TABLE`),
    replacing level columns already there."""
    available = features.columns
    names = {level_name(c.name) for c in columns}
    kept = [col(name) for name in available if name not in names]
    return features.select(*kept, *[level_expr(c, available).alias(level_name(c.name)) for c in columns])
