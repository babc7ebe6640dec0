"""MinHash signatures and LSH band keys for FindMatches blocking.

Shingles: the character k-grams of each text value (padded with a space on both sides, so word
starts and ends count) and the whole value of each exact, numeric or date column (hashed with the
column's name). Nulls contribute nothing.

Bands AND columns, not just hashes: each band's ``r`` rows are minhashes of ``r`` different
compared columns (each row its own hash function, each band its own choice of columns, spread
over all combinations), so two records share a band when ``r`` of their columns agree, each
fuzzily (probability ``J_c1 * J_c2 * ... * J_cr``, the product of the columns' Jaccard
similarities). Unrelated customers often share a common surname and a city; they rarely share
three columns. On Febrl3 this gives, at the same 80 bands of 3 rows, a blocking recall of 0.998
with 0.004% of all pairs compared, where one MinHash over all of a record's shingles (the
classic record-level signature) reaches 0.995 with 0.08% (20x the pairs); prefixing the
record-level shingles with their column was worse still (0.984 at 0.085%). ``per_column=False``
gives the record-level signature (each row a minhash of the union of the record's shingles).
A band with a null (shingle-less) column for a record gives that record no key for that band:
a missing value agrees with nothing, and a record with fewer than ``r`` non-null columns gets no
band key at all (``BlockingStats.records_without_band_keys`` counts them). With ``r`` compared
columns or fewer, bands are record-level.

Shingles found in more than ``plan.max_shingle_df`` of the records within their column (``st``
of street types, ``gmai`` of e-mail domains) are dropped: they join unrelated records and say
little about duplicates. A record whose every shingle in a column is frequent (a state, a
whole value) keeps them.

Signatures are numpy on Arrow batches (``mapInArrow``): a column's k-grams are cut from the
batch's string buffer in one vectorized pass and hashed to 32 bits (murmur3's finalizer); each
band row's hash function ``h(x) = (a*x + b) >> 32`` (``a`` odd, 64-bit: multiply-add-shift) runs
over the whole batch's shingles of its column with one ``np.minimum.reduceat``. A band key is
a 64-bit hash of the band's minhashes and the band's own salt, so one key column serves all
bands.

Banding: with per-row agreement probability ``s``, a pair shares a given band with probability
``s**r`` (AND of the ``r`` rows) and becomes a candidate with probability ``1 - (1 - s**r)**b``
(OR over the ``b`` bands): an S-curve that rises steepest near ``s* = (1/b)**(1/r)``.
:func:`plan_for` picks ``b`` and ``r`` from ``accuracy_cost_tradeoff``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.findmatches.columns import KEY, ResolvedColumn

BAND_KEY = "__fm_band_key"  # int64 band key; null on the one row of a record without any
SHINGLES = "__fm_shingles"  # int32: the record's shingles after the frequent filter (repeats count)
MIN_FREQUENT_RECORDS = 50  # a shingle is only ever "frequent" when more records than this have it
FREQUENT_SAMPLE_ROWS = 2000  # records per Arrow batch whose shingles are counted for the frequent set
ALL_COLUMNS = -1  # a band row over the union of the record's shingles (per_column=False)

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_TEXT_SALT = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class LshPlan:
    """How many MinHash functions, split into ``bands`` bands of ``rows_per_band`` rows.

    Attributes:
        num_hashes: ``bands * rows_per_band``.
        bands: ``b``: a pair is a candidate when it agrees on every row of any band.
        rows_per_band: ``r``: minhashes ANDed within a band (of ``r`` different columns when
            ``per_column`` and there are that many compared columns).
        shingle_size: ``k`` of the character k-grams of text columns (1..8 bytes of UTF-8).
        max_bucket: a bucket (records sharing a band key) with more members pairs each member only
            with its next ``window`` members in an order by a seeded hash of the key, not all pairs.
        window: neighbours per member in an oversized bucket.
        max_shingle_df: shingles in more than this fraction of the records (in one column) are
            dropped, when more than ``MIN_FREQUENT_RECORDS`` records have them; 1.0 keeps all.
        per_column: each band row is a minhash of one column (different columns within a band);
            False: of the union of all of the record's shingles (classic record-level MinHash).
    """

    num_hashes: int
    bands: int
    rows_per_band: int
    shingle_size: int = 4
    max_bucket: int = 100
    window: int = 10
    max_shingle_df: float = 0.02
    per_column: bool = True

    def __post_init__(self) -> None:
        if self.bands < 1 or self.rows_per_band < 1 or self.num_hashes != self.bands * self.rows_per_band:
            raise ValueError(
                f"LshPlan: num_hashes ({self.num_hashes}) must be bands ({self.bands}) * rows_per_band "
                f"({self.rows_per_band}), each at least 1"
            )
        if not 1 <= self.shingle_size <= 8:
            raise ValueError(f"LshPlan: shingle_size must be 1..8, not {self.shingle_size}")
        if self.max_bucket < 2 or self.window < 1:
            raise ValueError(f"LshPlan: max_bucket must be >= 2 and window >= 1 ({self.max_bucket}, {self.window})")
        if not 0.0 < self.max_shingle_df <= 1.0:
            raise ValueError(f"LshPlan: max_shingle_df must be in (0, 1], not {self.max_shingle_df}")

    @property
    def threshold(self) -> float:
        """``(1/b)**(1/r)``: the per-row agreement probability where the S-curve is steepest
        (about ``1 - 1/e`` of the pairs that similar become candidates)."""
        return (1.0 / self.bands) ** (1.0 / self.rows_per_band)

    def candidate_probability(self, similarity: float) -> float:
        """``1 - (1 - s**r)**b``: the chance that a pair whose band rows each agree with
        probability ``s`` (a Jaccard similarity) becomes a candidate."""
        return 1.0 - (1.0 - similarity**self.rows_per_band) ** self.bands


_FEWEST_BANDS, _MOST_BANDS, _ROWS = 20, 180, 3


def plan_for(accuracy_cost_tradeoff: float) -> LshPlan:
    """The LSH plan for Glue's ``accuracy_cost_tradeoff`` (0 = cheapest, 1 = highest recall).

    ``r = 3`` rows (columns) per band throughout and ``b = 20 * 9**t`` bands: 20 at 0, 35 at
    0.25, 60 at 0.5, 104 at 0.75 and 180 at 1. The S-curve's threshold ``s* = (1/b)**(1/3)``
    moves from 0.37 through 0.31, 0.26 and 0.21 to 0.18. At 0.5, a pair whose band columns
    agree with Jaccard 0.5 each is a candidate with probability 0.9997, 0.4 each 0.98, 0.3
    each 0.81, 0.1 each 0.06. Cost grows with ``b``: band keys per record (the shuffle that
    finds shared ones dominates blocking time) and candidate pairs. Febrl3 blocking recall at
    b = 30, 40, 50, 60, 80 (seeds 1-3): 0.985-0.987, 0.993-0.994, 0.995-0.996, 0.9965-0.9968,
    0.998-0.9985 (bench/findmatches_blocking.py).

    Raises:
        ValueError: the tradeoff is not in [0, 1].
    """
    if not 0.0 <= accuracy_cost_tradeoff <= 1.0:
        raise ValueError(f"accuracy_cost_tradeoff must be in [0, 1], not {accuracy_cost_tradeoff}")
    bands = round(_FEWEST_BANDS * (_MOST_BANDS / _FEWEST_BANDS) ** accuracy_cost_tradeoff)
    return LshPlan(num_hashes=bands * _ROWS, bands=bands, rows_per_band=_ROWS)


# --- numpy kernels (run on the executors, inside mapInArrow) -------------------------------------


def fmix64(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finalizer, elementwise on a uint64 array (a new array)."""
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def text_shingles(values: pa.Array, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The byte k-grams of each string as 32-bit hashes: ``(row index, hash)`` per gram, in row
    order. A string shorter than ``k`` is one gram; nulls and empty strings have none."""
    n = len(values)
    if n == 0 or values.null_count == n:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.large_string())  # e.g. string_view: read through offsets below
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[values.offset : values.offset + n + 1].astype(np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    if values.null_count:
        lengths[~values.is_valid().to_numpy(zero_copy_only=False)] = 0
    counts = np.where(lengths > 0, np.maximum(lengths - k + 1, 1), 0)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    first_gram = np.cumsum(counts) - counts
    pos = np.repeat(offsets[:-1], counts) + (np.arange(total, dtype=np.int64) - np.repeat(first_gram, counts))
    end = np.repeat(offsets[1:], counts)
    gram = np.zeros(total, np.uint64)
    last = len(data) - 1
    for j in range(k):
        idx = pos + j
        byte = data[np.minimum(idx, last)].astype(np.uint64)
        gram |= np.where(idx < end, byte, np.uint64(0)) << np.uint64(8 * j)
    return rows, fmix64(gram ^ _TEXT_SALT) & _MASK32


def value_shingles(hashes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """One shingle per non-null 64-bit value hash (computed by Spark), folded to 32 bits."""
    valid = hashes.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(valid).astype(np.int64)
    values = hashes.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64)[rows]
    return rows, fmix64(values) & _MASK32


def _distinct(rows: np.ndarray, shingles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each record's distinct shingles, sorted by record (a sort, not ``np.unique``'s hash table:
    several times faster here)."""
    packed = (rows.astype(np.uint64) << _SHIFT32) | shingles
    packed.sort()
    packed = packed[np.concatenate([[True], packed[1:] != packed[:-1]])] if len(packed) else packed
    return (packed >> _SHIFT32).astype(np.int64), packed & _MASK32


def column_shingles(
    batch: pa.RecordBatch, sources: Sequence[tuple[int, bool]], k: int, *, distinct: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per compared column (``(batch column, is_text)``), the records' shingles as ``(record,
    shingle)`` arrays in record order; each record's shingles only once with ``distinct``
    (MinHash does not need it: a repeated shingle does not change a minimum)."""
    out = []
    for index, is_text in sources:
        column = batch.column(index)
        rows, shingles = text_shingles(column, k) if is_text else value_shingles(column)
        out.append(_distinct(rows, shingles) if distinct else (rows, shingles))
    return out


def pack(column: int, shingles: np.ndarray) -> np.ndarray:
    """``column << 32 | shingle``: a shingle within its column, as one uint64."""
    return (np.uint64(column) << _SHIFT32) | shingles


def drop_frequent(
    rows: np.ndarray, shingles: np.ndarray, frequent: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """One column's ``(rows, shingles)`` without the ``frequent`` ones (sorted), except for
    records that have nothing else in the column."""
    if len(frequent) == 0 or len(shingles) == 0:
        return rows, shingles
    common = np.isin(shingles, frequent)
    rare_per_record = np.bincount(rows[~common], minlength=n)
    keep = ~common | (rare_per_record[rows] == 0)
    return rows[keep], shingles[keep]


def hash_parameters(plan: LshPlan, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The multiply-add-shift coefficients ``a`` (odd) and ``b`` of each band row, and one salt
    per band, from ``seed``."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**63, plan.num_hashes, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, plan.num_hashes, dtype=np.uint64)
    salts = rng.integers(0, 2**63, plan.bands, dtype=np.uint64)
    return a, b, salts


def band_columns(plan: LshPlan, n_columns: int, seed: int) -> np.ndarray:
    """``(bands, rows)`` column of each band row: ``r`` different columns per band, cycling
    through all combinations in a seeded order (drawn at random past 100,000 combinations).
    ``ALL_COLUMNS`` (the record-level union) everywhere unless ``plan.per_column`` and there are
    more columns than rows: with ``r`` columns or fewer, requiring every column to agree would
    lose any duplicate with one column changed or missing."""
    bands, r = plan.bands, plan.rows_per_band
    if not plan.per_column or n_columns <= r:
        return np.full((bands, r), ALL_COLUMNS, np.int64)
    rng = np.random.default_rng([seed, 7])
    if math.comb(n_columns, r) <= 100_000:
        combos = np.array(list(itertools.combinations(range(n_columns), r)), np.int64)
        combos = combos[rng.permutation(len(combos))]
        return combos[np.arange(bands) % len(combos)]
    return np.array([rng.choice(n_columns, r, replace=False) for _ in range(bands)], np.int64)


def minhash(
    shingles: np.ndarray, starts: np.ndarray, records: np.ndarray, a: np.uint64, b: np.uint64, n: int
) -> np.ndarray:
    """Per record of the batch (``n``), the minimum of ``(a*x + b) >> 32`` over its shingles
    (grouped by record: ``starts`` of each group, ``records`` it belongs to); 0 for records
    without shingles."""
    hashed = shingles * a
    hashed += b
    hashed >>= _SHIFT32
    out = np.zeros(n, np.uint64)
    if len(starts):
        out[records] = np.minimum.reduceat(hashed, starts)
    return out


def band_keys(
    shingles: Sequence[tuple[np.ndarray, np.ndarray]],
    columns: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    salts: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, valid)``, each ``(n, bands)``: the int64 band keys of the batch's records and
    whether the record has shingles in every column of the band.

    ``shingles`` are the columns' ``(rows, shingles)`` (sorted by record), ``columns`` the band
    rows' columns (:func:`band_columns`); ``a``, ``b``, ``salts`` from :func:`hash_parameters`.
    """
    groups: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def group(column: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if column not in groups:
            if column == ALL_COLUMNS:
                rows, values = _distinct(
                    np.concatenate([s[0] for s in shingles]), np.concatenate([s[1] for s in shingles])
                )
            else:
                rows, values = shingles[column]
            starts = np.flatnonzero(np.diff(rows, prepend=-1)) if len(rows) else np.empty(0, np.int64)
            present = np.zeros(n, bool)
            present[rows[starts]] = True
            groups[column] = (values, starts, rows[starts], present)
        return groups[column]

    bands, r = columns.shape
    keys = np.empty((n, bands), np.uint64)
    valid = np.empty((n, bands), bool)
    for band in range(bands):
        key = np.full(n, salts[band], np.uint64)
        ok = np.ones(n, bool)
        for row in range(r):
            values, starts, records, present = group(int(columns[band, row]))
            j = band * r + row
            key = fmix64(key ^ minhash(values, starts, records, a[j], b[j], n))
            ok &= present
        keys[:, band] = key
        valid[:, band] = ok
    return keys.view(np.int64), valid


# --- Spark side ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    frame: DataFrame  # KEY, one column per compared column (text padded, others a value hash), carry
    sources: tuple[tuple[int, bool], ...]  # (frame column index, is text) per compared column
    carry: tuple[str, ...]


def _shingle_inputs(prepared: DataFrame, columns: Sequence[ResolvedColumn], carry: Sequence[str]) -> _Inputs:
    """The columns the numpy kernels read: text padded with spaces, other kinds as a Spark
    ``xxhash64`` of (column name, value); null stays null."""
    selected, sources = [], []
    for i, column in enumerate(columns):
        source = F.col(f"`{column.name}`")
        if column.is_text:
            selected.append(F.concat(F.lit(" "), source.cast("string"), F.lit(" ")).alias(f"__fm_c{i}"))
        else:
            selected.append(F.when(source.isNotNull(), F.xxhash64(F.lit(column.name), source)).alias(f"__fm_c{i}"))
        sources.append((i + 1, column.is_text))
    frame = prepared.select(F.col(KEY), *selected, *(F.col(f"`{c}`") for c in carry))
    return _Inputs(frame, tuple(sources), tuple(carry))


def _counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values and how often each occurs (sort-based)."""
    values = np.sort(values)
    if len(values) == 0:
        return values, np.empty(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    return values[starts], np.diff(np.append(starts, len(values)))


def frequent_shingles(prepared: DataFrame, columns: Sequence[ResolvedColumn], plan: LshPlan) -> np.ndarray:
    """The shingles (packed with their column, :func:`pack`) of more than ``plan.max_shingle_df``
    of the records and of more than ``MIN_FREQUENT_RECORDS``, sorted.

    One pass over ``prepared``: each Arrow batch counts the shingles of an evenly spaced sample
    of at most ``FREQUENT_SAMPLE_ROWS`` of its records (a shingle in 2% of the records is in
    about 40 of 2,000) and reports the locally common ones (in at least half the threshold's
    share of the sample) with their counts scaled to the batch, and its size; Spark sums them
    and only that small table (shingles common somewhere) reaches the driver.
    """
    if plan.max_shingle_df >= 1.0:
        return np.empty(0, np.uint64)
    inputs = _shingle_inputs(prepared, columns, ())
    frame = inputs.frame.drop(KEY)
    sources = tuple((index - 1, is_text) for index, is_text in inputs.sources)  # no DataFrame in the closure
    k, share = plan.shingle_size, plan.max_shingle_df / 2

    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            step = -(-n // FREQUENT_SAMPLE_ROWS)
            sample = batch.take(pa.array(np.arange(0, n, step))) if step > 1 else batch
            packed = [pack(c, s) for c, (_, s) in enumerate(column_shingles(sample, sources, k, distinct=True))]
            values, counts = _counts(np.concatenate(packed))
            common = counts >= max(2, math.ceil(share * sample.num_rows))
            shingles = np.append(values[common].view(np.int64), 0)
            records = np.append(counts[common] * (n / max(sample.num_rows, 1)), n)
            size_row = np.append(np.zeros(int(common.sum()), bool), True)  # null shingle: the batch size
            yield pa.RecordBatch.from_arrays(
                [pa.array(shingles, mask=size_row), pa.array(records)], names=["shingle", "records"]
            )

    schema = T.StructType([T.StructField("shingle", T.LongType()), T.StructField("records", T.DoubleType())])
    rows = frame.mapInArrow(count, schema).groupBy("shingle").agg(F.sum("records").alias("records")).collect()
    n = sum(row.records for row in rows if row.shingle is None)
    limit = max(plan.max_shingle_df * n, MIN_FREQUENT_RECORDS)
    frequent = [row.shingle for row in rows if row.shingle is not None and row.records > limit]
    return np.sort(np.array(frequent, dtype=np.int64).view(np.uint64))


def signature_bands(
    prepared: DataFrame,
    columns: Sequence[ResolvedColumn],
    plan: LshPlan,
    *,
    seed: int = 1,
    carry: Sequence[str] = (),
) -> DataFrame:
    """``(KEY, BAND_KEY, SHINGLES, *carry)``: one row per band a record has a key for, and one
    row with a null band key for a record with none (no shingles, or too few non-null columns
    for any band), so those can be counted.

    Runs :func:`frequent_shingles` first (a Spark job) unless ``plan.max_shingle_df`` is 1:
    ``prepared`` is read twice, so cache it if it is expensive to compute.
    """
    inputs = _shingle_inputs(prepared, columns, carry)
    frequent = frequent_shingles(prepared, columns, plan)
    per_column = [frequent[(frequent >> _SHIFT32) == c] & _MASK32 for c in range(len(columns))]
    a, b, salts = hash_parameters(plan, seed)
    band_cols = band_columns(plan, len(columns), seed)
    sources, k, carry_names = inputs.sources, plan.shingle_size, inputs.carry
    carry_idx = [inputs.frame.columns.index(c) for c in carry_names]

    def sign(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            shingles = [
                drop_frequent(rows, values, per_column[c], n)
                for c, (rows, values) in enumerate(column_shingles(batch, sources, k))
            ]
            counts = sum((np.bincount(rows, minlength=n) for rows, _ in shingles), np.zeros(n, np.int64))
            keys, valid = band_keys(shingles, band_cols, a, b, salts, n)
            records, bands = np.nonzero(valid)
            without = np.flatnonzero(~valid.any(axis=1))
            take = pa.array(np.concatenate([records, without]))
            key_values = np.concatenate([keys[records, bands], np.zeros(len(without), np.int64)])
            null_key = np.concatenate([np.zeros(len(records), bool), np.ones(len(without), bool)])
            out = [batch.column(0).take(take), pa.array(key_values, mask=null_key)]
            out.append(pa.array(counts.astype(np.int32)).take(take))
            out += [batch.column(i).take(take) for i in carry_idx]
            yield pa.RecordBatch.from_arrays(out, names=[KEY, BAND_KEY, SHINGLES, *carry_names])

    fields = [inputs.frame.schema[KEY], T.StructField(BAND_KEY, T.LongType()), T.StructField(SHINGLES, T.IntegerType())]
    fields += [inputs.frame.schema[c] for c in carry_names]
    return inputs.frame.mapInArrow(sign, T.StructType(fields))
