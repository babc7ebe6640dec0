"""FindMatches labels: Glue's labeling file, labelled pairs, and choosing what to label next.

A labeling file is a CSV whose header is ``labeling_set_id``, ``label``, then the record's columns
(the primary key among them). Within one labeling set, records with the same label are one entity
and records with different labels are different entities; labels are only compared within a set,
so ``A`` in set 1 and ``A`` in set 2 say nothing about each other.

Reading is strict, and every error names the file and the line (the header is line 1) or column:

- the header must have ``labeling_set_id``, ``label`` and the primary key column, once each
  (Glue writes the first two first; any order is read);
- columns the data set does not have are rejected (the file was likely made for other data);
  data set columns missing from the file are fine, only the key is needed to train;
- every row needs a labeling set id, a label and a primary key, and a key appears once per set
  (it may appear in several sets);
- a set with a single record is accepted, with a logged warning: it yields no pair to learn from.

Values are kept as text; an empty cell reads as None.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import LabelConflictError, LabelFileError, TransformError
from etl.findmatches.columns import KEY

if TYPE_CHECKING:
    from etl.findmatches.store import MLTransformStore

log = logging.getLogger(__name__)

SET_ID = "labeling_set_id"
LABEL = "label"
LEADING = (SET_ID, LABEL)


@dataclass(frozen=True)
class LabelRecord:
    """One labelled record.

    Attributes:
        labeling_set_id: the set it was labelled in.
        label: its entity within the set.
        key: the primary key value, as text.
        record: the record's columns as labelled (the key among them), in file order.
    """

    labeling_set_id: str
    label: str
    key: str
    record: dict[str, Any] = field(default_factory=dict, compare=False)


# ----- files -------------------------------------------------------------------------------------
def read_label_file(path: str | Path, key_column: str, columns: Sequence[str] | None = None) -> list[LabelRecord]:
    """Read and check a labeling file.

    Args:
        path: the CSV file (UTF-8, a byte order mark is accepted).
        key_column: the primary key column (``PrimaryKeyColumnName``).
        columns: the data set's columns (all of them, not only the compared ones); a file column
            outside them and the key is an error. None skips that check.

    Raises:
        LabelFileError: the file is missing or malformed; the message names file and line or column.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise LabelFileError(name, "file not found") from None
    except OSError as exc:
        raise LabelFileError(name, f"cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LabelFileError(name, f"not UTF-8 text ({exc.reason}); save it as UTF-8", line=line) from None
    rows = _read_rows(io.StringIO(text, newline=""), name)
    if not rows:
        raise LabelFileError(
            name, f"empty file; expected a header with {SET_ID},{LABEL} and the record's columns", line=1
        )
    (_, header), body = rows[0], rows[1:]
    header = [h.strip() for h in header]
    _check_header(name, header, key_column, columns)
    if not body:
        raise LabelFileError(name, "has a header but no labelled records")

    records: list[LabelRecord] = []
    seen: dict[tuple[str, str], int] = {}  # (set, key) -> line
    set_lines: dict[str, list[int]] = {}
    for line, values in body:
        if len(values) != len(header):
            raise LabelFileError(name, f"{len(values)} fields, the header has {len(header)}", line=line)
        row = dict(zip(header, values, strict=True))
        set_id, label, key = row[SET_ID].strip(), row[LABEL].strip(), row[key_column].strip()
        for column, value in ((SET_ID, set_id), (LABEL, label), (key_column, key)):
            if not value:
                raise LabelFileError(name, f"column {column!r} is empty", line=line)
        for column, value in ((SET_ID, set_id), (LABEL, label)):
            if len(value) > 255:
                raise LabelFileError(name, f"column {column!r} is longer than 255 characters", line=line)
        if (set_id, key) in seen:
            raise LabelFileError(
                name,
                f"primary key {key!r} appears twice in labeling set {set_id!r} (lines {seen[set_id, key]} and {line})",
                line=line,
            )
        seen[set_id, key] = line
        set_lines.setdefault(set_id, []).append(line)
        record = {c: (v if v != "" else None) for c, v in row.items() if c not in LEADING}
        records.append(LabelRecord(set_id, label, key, record))
    for set_id, lines in set_lines.items():
        if len(lines) == 1:
            log.warning(
                "%s, line %d: labeling set %r has a single record; it gives no pair to learn from",
                name,
                lines[0],
                set_id,
            )
    return records


def _read_rows(handle: Iterable[str], name: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV rows with the line each starts on (1-based)."""
    reader = csv.reader(handle, strict=True)
    rows: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            raise LabelFileError(name, f"malformed CSV: {exc}", line=start) from None
        if any(v.strip() for v in values):
            rows.append((start, values))


def _check_header(name: str, header: list[str], key_column: str, columns: Sequence[str] | None) -> None:
    seen: set[str] = set()
    for column in header:
        if not column:
            raise LabelFileError(name, "the header has an empty column name", line=1)
        if column in seen:
            raise LabelFileError(name, f"column {column!r} appears twice in the header", line=1)
        seen.add(column)
    for column in LEADING:
        if column not in seen:
            raise LabelFileError(name, f"the header lacks the {column!r} column (it has {','.join(header)})", line=1)
    if key_column not in seen:
        raise LabelFileError(name, f"the primary key column {key_column!r} is not in the header", line=1)
    if columns is not None:
        known = {*columns, key_column, *LEADING}
        unknown = [c for c in header if c not in known]
        if unknown:
            raise LabelFileError(
                name,
                f"column(s) {', '.join(repr(c) for c in unknown)} are not in the data set "
                f"(its columns: {', '.join(columns)})",
                line=1,
            )


def write_label_file(path: str | Path, records: Sequence[LabelRecord], columns: Sequence[str] | None = None) -> int:
    """Write records as a labeling file (replacing ``path`` atomically); returns the rows written.

    Args:
        columns: the record columns in order; default: every record's columns in order of first
            appearance.
    """
    if columns is None:
        columns = list(dict.fromkeys(c for r in records for c in r.record))
    clash = [c for c in columns if c in LEADING]
    if clash:
        raise TransformError(f"record column(s) {clash} clash with the labeling file's own columns")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*LEADING, *columns])
            for r in records:
                writer.writerow([r.labeling_set_id, r.label, *(_text(r.record.get(c)) for c in columns)])
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(records)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_labels(store: MLTransformStore, name: str, path: str | Path) -> int:
    """Write a transform's stored labels as a labeling file (Glue: StartExportLabelsTaskRun);
    returns the number of labels written."""
    return write_label_file(path, store.labels(name))


def write_labeling_set(frame: DataFrame, path: str | Path, key: str) -> int:
    """Write a :func:`labeling_set_frame` (small: sets x set size rows) as one labeling file."""
    columns = [c for c in frame.columns if c not in LEADING]
    records = [
        LabelRecord(row[SET_ID], row[LABEL] or "", _text(row[key]), {c: row[c] for c in columns})
        for row in frame.collect()
    ]
    return write_label_file(path, records, columns)


# ----- pairs -------------------------------------------------------------------------------------
def labeled_pairs(spark: SparkSession, records: Sequence[LabelRecord], key_type: T.DataType) -> DataFrame:
    """Every pair of records within each labeling set: ``id_l < id_r`` (keys cast to ``key_type``),
    ``is_match`` when their labels are equal. A pair labelled in several sets appears once.

    Labels are small (a few thousand records at most), so the pairs are built on the driver;
    keys of a type other than string are converted by Spark's own cast in one small job.

    Raises:
        TransformError: a key does not convert to ``key_type``.
        LabelConflictError: two sets disagree on a pair; the message names the keys and both sets.
    """
    typed = _typed_keys(spark, {r.key for r in records}, key_type)
    verdicts: dict[tuple[Any, Any], dict[bool, list[str]]] = {}
    for set_id, members in labels_by_set(records).items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                ka, kb = typed[a.key], typed[b.key]
                if ka == kb:
                    continue
                pair = (ka, kb) if ka < kb else (kb, ka)
                sets = verdicts.setdefault(pair, {True: [], False: []})[a.label == b.label]
                if set_id not in sets:
                    sets.append(set_id)
    conflicts = [(pair, v) for pair, v in verdicts.items() if v[True] and v[False]]
    if conflicts:
        detail = "; ".join(
            f"{pair[0]!r} and {pair[1]!r} match in set(s) {', '.join(v[True])} but not in set(s) {', '.join(v[False])}"
            for pair, v in conflicts[:5]
        )
        more = f" (and {len(conflicts) - 5} more pairs)" if len(conflicts) > 5 else ""
        raise LabelConflictError(f"labels disagree: {detail}{more}")
    schema = T.StructType(
        [
            T.StructField("id_l", key_type, False),
            T.StructField("id_r", key_type, False),
            T.StructField("is_match", T.BooleanType(), False),
        ]
    )
    return spark.createDataFrame([(a, b, bool(v[True])) for (a, b), v in sorted(verdicts.items())], schema)


def _typed_keys(spark: SparkSession, keys: set[str], key_type: T.DataType) -> dict[str, Any]:
    """Each key text as a Python value of ``key_type``, converted by Spark's cast."""
    if isinstance(key_type, T.StringType) or not keys:
        return {k: k for k in keys}
    texts = spark.createDataFrame([(k,) for k in sorted(keys)], "key string")
    typed = {row[0]: row[1] for row in texts.select("key", F.col("key").try_cast(key_type)).collect()}
    bad = sorted(k for k, v in typed.items() if v is None)
    if bad:
        raise TransformError(
            f"labels: primary key value(s) {', '.join(map(repr, bad[:5]))} are not of the key's type "
            f"{key_type.simpleString()}"
        )
    return typed


# ----- choosing what to label --------------------------------------------------------------------
def choose_labeling_sets(
    scored_pairs: DataFrame,
    *,
    threshold: float,
    num_sets: int,
    set_size: int = 10,
    seed: int = 0,
) -> DataFrame:
    """Pick informative, non-overlapping labeling sets (Glue: StartMLLabelingSetGenerationTaskRun).

    Each set grows from a seed pair, the pairs whose ``match_probability`` is nearest the
    ``threshold`` first (the model is least sure of them), half of them from below the threshold
    (some of those at random) and half from above it, so the labels teach both matches and
    non-matches (see ``_balanced_seed_pairs``); with no probability (no model yet)
    seeds are drawn at random (a hash of the pair and ``seed``) from the candidate pairs. A set is
    its seed's two records plus their most probable candidate neighbours, up to ``set_size``
    records. Seeds share no record, and a neighbour joins only the set in which it scores highest,
    so sets never overlap.

    Seeds are found in rounds: a pair is a seed when it is the most uncertain remaining pair of
    both its records; a round's seeds are removed with their records and the next round looks
    again, until ``num_sets`` seeds or nothing new (at most ``SEED_ROUNDS`` rounds). Only seeds
    and the chosen records (at most ``num_sets`` x ``set_size``) reach the driver, and the result
    is a small local DataFrame, so using it does not recompute the scoring.

    The set id is a hash of the set's keys, so the same set generated again gets the same id
    (importing its labels replaces the earlier answer) and different sets get different ids.

    Args:
        scored_pairs: ``id_l``, ``id_r``, ``match_probability`` (double, may be null).

    Returns:
        ``labeling_set_id`` (string), ``__fm_key``: at most ``num_sets`` x ``set_size`` rows.
    """
    if num_sets < 1:
        raise TransformError(f"choose_labeling_sets: num_sets must be at least 1, got {num_sets}")
    if set_size < 2:
        raise TransformError(f"choose_labeling_sets: set_size must be at least 2, got {set_size}")
    missing = {"id_l", "id_r", "match_probability"} - set(scored_pairs.columns)
    if missing:
        raise TransformError(f"choose_labeling_sets: scored pairs lack column(s) {sorted(missing)}")

    spark = scored_pairs.sparkSession
    key_type = scored_pairs.schema["id_l"].dataType
    pairs = scored_pairs.select(
        "id_l",
        "id_r",
        F.col("match_probability").cast("double").alias("p"),
        F.xxhash64(F.col("id_l"), F.col("id_r"), F.lit(seed)).alias("tie"),
    ).withColumn("doubt", F.coalesce(F.abs(F.col("p") - F.lit(float(threshold))), F.lit(float("inf"))))

    seeds = _balanced_seed_pairs(pairs, num_sets, threshold)
    seed_of = {k: i for i, pair in enumerate(seeds) for k in pair}
    sets: list[list[Any]] = [list(pair) for pair in seeds]
    if seeds and set_size > 2:
        for row in _neighbours(pairs, seed_of, key_type, set_size - 2).collect():
            sets[row.seed].append(row.b)
    schema = T.StructType([T.StructField(SET_ID, T.StringType(), False), T.StructField(KEY, key_type, False)])
    return spark.createDataFrame([(_set_id(keys), k) for keys in sets for k in keys], schema)


SEED_ROUNDS = 5


def _balanced_seed_pairs(pairs: DataFrame, num_sets: int, threshold: float) -> list[tuple[Any, Any]]:
    """Seeds from both sides of the threshold (either side tops up the other when short).

    Half the sets grow from pairs the model accepts, the most uncertain first. The other half grow
    from pairs it rejects: every other one of them the most uncertain, the rest drawn at random
    among the rejected pairs. Nearest-the-threshold alone can pick only likely matches (a
    confident model on clean data: the rejected pairs nearest the threshold are often true matches
    it missed), and labels without a non-matching pair teach nothing about non-matches and leave
    the quality unestimable; the random draws also give the quality estimate pairs that are not
    all borderline.
    """
    below = pairs.filter(F.col("p") < F.lit(float(threshold)))
    above = pairs.filter(~(F.col("p") < F.lit(float(threshold))) | F.col("p").isNull())
    at_random = below.withColumn("doubt", F.lit(0.0))  # ordered by the seeded hash alone
    rejected = num_sets // 2
    chosen = _seed_pairs(below, rejected - rejected // 2)
    chosen += _seed_pairs(_without(at_random, chosen), rejected // 2)
    chosen += _seed_pairs(_without(above, chosen), num_sets - len(chosen))
    if len(chosen) < num_sets:
        chosen += _seed_pairs(_without(below, chosen), num_sets - len(chosen))
    return chosen


def _without(pairs: DataFrame, chosen: Sequence[tuple[Any, Any]]) -> DataFrame:
    """``pairs`` that touch none of the ``chosen`` pairs' records."""
    if not chosen:
        return pairs
    used = [F.lit(k) for pair in chosen for k in pair]
    return pairs.filter(~F.col("id_l").isin(*used) & ~F.col("id_r").isin(*used))


def _seed_pairs(pairs: DataFrame, num_sets: int) -> list[tuple[Any, Any]]:
    """Up to ``num_sets`` record-disjoint pairs, most uncertain first (see choose_labeling_sets)."""
    chosen: list[tuple[Any, Any]] = []
    if num_sets < 1:
        return chosen
    remaining = pairs
    order = ("doubt", "tie", "id_l", "id_r")
    for _ in range(SEED_ROUNDS):
        ends = remaining.select(F.col("id_l").alias("rec"), *order).unionByName(
            remaining.select(F.col("id_r").alias("rec"), *order)
        )
        found = (
            ends.groupBy("rec")
            .agg(F.min(F.struct(*order)).alias("best"))  # each record's most uncertain pair
            .groupBy("best")
            .agg(F.count("*").alias("ends"))
            .filter(F.col("ends") == 2)  # the most uncertain pair of both its records
            .orderBy("best")
            .limit(num_sets - len(chosen))
            .select("best.id_l", "best.id_r")
            .collect()
        )
        chosen += [(row.id_l, row.id_r) for row in found]
        if not found or len(chosen) >= num_sets:
            break
        remaining = _without(pairs, chosen)
    return chosen


def _neighbours(pairs: DataFrame, seed_of: Mapping[Any, int], key_type: T.DataType, per_seed: int) -> DataFrame:
    """``seed``, ``b``: up to ``per_seed`` records per seed that share a pair with a seed record,
    most probable first; a record joins the seed it scores highest with."""
    members = [F.lit(k).cast(key_type) for k in seed_of]
    index = F.create_map(*(x for k, i in seed_of.items() for x in (F.lit(k).cast(key_type), F.lit(i))))
    edges = pairs.select(F.col("id_l").alias("a"), F.col("id_r").alias("b"), "p", "tie").unionByName(
        pairs.select(F.col("id_r").alias("a"), F.col("id_l").alias("b"), "p", "tie")
    )
    near = edges.filter(F.col("a").isin(*members) & ~F.col("b").isin(*members)).select(
        "b",
        F.coalesce(F.col("p"), F.lit(-1.0)).alias("strength"),
        F.bitwise_not(F.col("tie")).alias("untie"),  # larger is better, like strength
        F.bitwise_not(index[F.col("a")]).alias("unseed"),
    )
    best = (
        near.groupBy("b")
        .agg(F.max(F.struct("strength", "untie", "unseed")).alias("m"))
        .select("b", "m.strength", "m.untie", F.bitwise_not(F.col("m.unseed")).alias("seed"))
    )
    ranked = Window.partitionBy("seed").orderBy(F.desc("strength"), F.desc("untie"), "b")
    return best.withColumn("n", F.row_number().over(ranked)).filter(F.col("n") <= per_seed).select("seed", "b")


def _set_id(keys: Sequence[Any]) -> str:
    """A labeling set's id: a hash of its sorted keys."""
    return hashlib.sha256(",".join(sorted(_text(k) for k in keys)).encode()).hexdigest()[:16]


def labeling_set_frame(sets: DataFrame, records: DataFrame, key: str) -> DataFrame:
    """The labeling file's rows: ``labeling_set_id``, an empty ``label``, then each chosen record's
    columns, ordered by set and key.

    Args:
        sets: ``labeling_set_id``, ``__fm_key`` (from :func:`choose_labeling_sets`).
        records: the data set; ``key`` is its primary key column.
    """
    clash = [c for c in records.columns if c in LEADING]
    if clash:
        raise TransformError(f"labeling set: the data set has column(s) {clash}, which the labeling file uses itself")
    if key not in records.columns:
        raise TransformError(f"labeling set: primary key column {key!r} is not in the data set")
    joined = records.join(F.broadcast(sets), records[key] == sets[KEY])
    return joined.select(
        sets[SET_ID].alias(SET_ID), F.lit("").alias(LABEL), *(records[c] for c in records.columns)
    ).orderBy(SET_ID, key)


def labels_by_set(records: Iterable[LabelRecord]) -> Mapping[str, list[LabelRecord]]:
    """Records grouped by labeling set, in first-appearance order."""
    grouped: dict[str, list[LabelRecord]] = {}
    for r in records:
        grouped.setdefault(r.labeling_set_id, []).append(r)
    return grouped
