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

Narrowing: some combinations of columns agree by chance far more than others. First name, city
and postcode (city and postcode say the same thing) put every "James" of a suburb in one bucket,
and such a band's pairs grow with the square of the records: on synthetic customers the bands
made 4 pairs per record at 100k records and 9 at 250k. Before signing,
:func:`design_bands` reads a sample of the records (at most ``plan.sample_records``) to the
driver, finds the frequent shingles in it and estimates each band's candidate pairs in the whole
data; a band over budget gets a further column (:func:`narrow_bands`) when that removes most of
its pairs, which are then chance agreement. On 250,000 synthetic customers this cut the
candidate pairs from 9.3 to 1.8 per record, blocking recall from 0.9984 to 0.9975; on 1,000,000
it narrowed 12 of 60 bands and left 2.2 pairs per record (bench/RESULTS.md). Bands whose pairs
are mostly duplicates are left as they are: a further column removes few of them, and below
``plan.min_narrowed_pairs`` a band is never narrowed (Febrl3 lost recall when it was).

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
NARROWING_COVERAGE = 0.8  # a column added to a band must be present in this share of its keyed records
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
        max_rows_per_band: narrowing (:func:`narrow_bands`) may AND rows to a band up to this many.
        pair_budget: a band whose estimated candidate pairs exceed this many per record (and
            ``min_narrowed_pairs``) is narrowed, when a further row removes at least
            ``narrowing_cut`` of them.
        min_narrowed_pairs: bands with fewer estimated pairs are never narrowed: comparing that
            many pairs is cheap, and in small or duplicate-heavy data (Febrl3: 5,000 records,
            6,538 true pairs) a band's pairs are mostly duplicates that a further, typo'd
            column would lose.
        narrowing_cut: the share of a band's pairs a further row must remove to be added: chance
            agreement is removed by another column, duplicates mostly agree on it too.
        sample_records: records (at most) read to the driver to find frequent shingles and narrow bands.
    """

    num_hashes: int
    bands: int
    rows_per_band: int
    shingle_size: int = 4
    max_bucket: int = 100
    window: int = 10
    max_shingle_df: float = 0.02
    per_column: bool = True
    max_rows_per_band: int = 5
    pair_budget: float = 0.5
    min_narrowed_pairs: int = 50_000
    narrowing_cut: float = 0.75
    sample_records: int = 50_000

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
        if self.max_rows_per_band < self.rows_per_band:
            raise ValueError(
                f"LshPlan: max_rows_per_band ({self.max_rows_per_band}) must be at least rows_per_band "
                f"({self.rows_per_band})"
            )
        if not 0.0 < self.narrowing_cut <= 1.0 or self.pair_budget <= 0 or self.sample_records < 2:
            raise ValueError(
                f"LshPlan: narrowing_cut must be in (0, 1], pair_budget positive and sample_records at least 2 "
                f"({self.narrowing_cut}, {self.pair_budget}, {self.sample_records})"
            )

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


Layout = tuple[tuple[int, ...], ...]  # per band, the column of each of its rows (ALL_COLUMNS: the union)


@dataclass(frozen=True)
class HashFamily:
    """The multiply-add-shift coefficients ``a`` (odd) and ``b`` of every possible band row
    (``plan.max_rows_per_band`` per band, so narrowing can add rows) and one salt per band."""

    a: np.ndarray
    b: np.ndarray
    salts: np.ndarray
    rows_per_band: int

    @classmethod
    def for_plan(cls, plan: LshPlan, seed: int) -> HashFamily:
        rng = np.random.default_rng(seed)
        count = plan.bands * plan.max_rows_per_band
        a = rng.integers(0, 2**63, count, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.integers(0, 2**63, count, dtype=np.uint64)
        salts = rng.integers(0, 2**63, plan.bands, dtype=np.uint64)
        return cls(a, b, salts, plan.max_rows_per_band)

    def coefficients(self, band: int, row: int) -> tuple[np.uint64, np.uint64]:
        """``(a, b)`` of one band row."""
        j = band * self.rows_per_band + row
        return self.a[j], self.b[j]


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


class GroupedShingles:
    """A batch's shingles per column (``(rows, shingles)`` sorted by record), grouped by record
    for :func:`minhash` on first use; ``ALL_COLUMNS`` is the union of a record's shingles."""

    def __init__(self, shingles: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> None:
        self.n = n
        self._shingles = shingles
        self._groups: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def _group(self, column: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if column not in self._groups:
            if column == ALL_COLUMNS:
                rows, values = _distinct(
                    np.concatenate([s[0] for s in self._shingles]), np.concatenate([s[1] for s in self._shingles])
                )
            else:
                rows, values = self._shingles[column]
            starts = np.flatnonzero(np.diff(rows, prepend=-1)) if len(rows) else np.empty(0, np.int64)
            present = np.zeros(self.n, bool)
            present[rows[starts]] = True
            self._groups[column] = (values, starts, rows[starts], present)
        return self._groups[column]

    def add_row(
        self, key: np.ndarray, ok: np.ndarray, column: int, coefficients: tuple[np.uint64, np.uint64]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A band key with one more row (the minhash of ``column``), and which records have it (a
        record without shingles in ``column`` has no key for the band)."""
        values, starts, records, present = self._group(column)
        return fmix64(key ^ minhash(values, starts, records, *coefficients, self.n)), ok & present

    def band_key(self, hashes: HashFamily, band: int, columns: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(key, ok)`` per record: the uint64 key of one band and whether the record has it."""
        key = np.full(self.n, hashes.salts[band], np.uint64)
        ok = np.ones(self.n, bool)
        for row, column in enumerate(columns):
            key, ok = self.add_row(key, ok, column, hashes.coefficients(band, row))
        return key, ok


def band_keys(
    shingles: Sequence[tuple[np.ndarray, np.ndarray]], layout: Layout, hashes: HashFamily, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, valid)``, each ``(n, bands)``: the int64 band keys of the batch's records and
    whether the record has shingles in every column of the band.

    ``shingles`` are the columns' ``(rows, shingles)`` (sorted by record) and ``layout`` the
    columns of each band's rows (:func:`band_columns`, :func:`narrow_bands`).
    """
    grouped = GroupedShingles(shingles, n)
    keys = np.empty((n, len(layout)), np.uint64)
    valid = np.empty((n, len(layout)), bool)
    for band, columns in enumerate(layout):
        keys[:, band], valid[:, band] = grouped.band_key(hashes, band, columns)
    return keys.view(np.int64), valid


def _counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values and how often each occurs (sort-based)."""
    values = np.sort(values)
    if len(values) == 0:
        return values, np.empty(0, np.int64)
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    return values[starts], np.diff(np.append(starts, len(values)))


def _pairs_sharing(key: np.ndarray, ok: np.ndarray) -> float:
    """How many pairs of records share a key (among those that have one)."""
    _, counts = _counts(key[ok])
    return float((counts * (counts - 1)).sum() / 2)


def frequent_shingles(
    shingles: Sequence[tuple[np.ndarray, np.ndarray]], sampled: int, total: int, plan: LshPlan
) -> list[np.ndarray]:
    """Per column, the (sorted) shingles of more than ``plan.max_shingle_df`` of the records and of
    more than ``MIN_FREQUENT_RECORDS``, from a sample of ``sampled`` of the ``total`` records
    (``shingles``: each record's distinct shingles per column, :func:`column_shingles`)."""
    if plan.max_shingle_df >= 1.0 or sampled == 0:
        return [np.empty(0, np.uint64) for _ in shingles]
    limit = max(plan.max_shingle_df * total, MIN_FREQUENT_RECORDS) * sampled / total
    out = []
    for _, values in shingles:
        distinct, counts = _counts(values)
        out.append(distinct[counts > limit])
    return out


def narrow_bands(
    shingles: Sequence[tuple[np.ndarray, np.ndarray]],
    base: np.ndarray,
    plan: LshPlan,
    hashes: HashFamily,
    sampled: int,
    total: int,
) -> tuple[Layout, tuple[float, ...]]:
    """The band layout, with rows added to bands whose agreement is mostly chance, and each
    band's estimated candidate pairs in all ``total`` records.

    A band's pairs among the ``sampled`` records (``shingles``, after :func:`drop_frequent`),
    scaled by ``total**2 / sampled**2``, estimate its pairs in the data (unbiased: each pair is in
    the sample with probability about ``(sampled / total)**2``). A band over the budget
    (``plan.pair_budget`` per record, and ``plan.min_narrowed_pairs``) gets the further column that
    leaves the fewest pairs among those most of its keyed records have (``NARROWING_COVERAGE``),
    if that removes at least ``plan.narrowing_cut`` of them; repeated up to
    ``plan.max_rows_per_band`` rows. Bands over record-level signatures get another record-level row.
    """
    grouped = GroupedShingles(shingles, sampled)
    scale = total * (total - 1) / (sampled * (sampled - 1)) if sampled > 1 else 0.0
    budget = max(plan.pair_budget * total, plan.min_narrowed_pairs)
    n_columns = len(shingles)
    layout, estimates = [], []
    for band, row_columns in enumerate(base.tolist()):
        columns = list(row_columns)
        key, ok = grouped.band_key(hashes, band, columns)
        pairs = _pairs_sharing(key, ok) * scale
        while pairs > budget and len(columns) < plan.max_rows_per_band:
            options = [ALL_COLUMNS] if ALL_COLUMNS in columns else [c for c in range(n_columns) if c not in columns]
            best: tuple[float, int, np.ndarray, np.ndarray] | None = None
            for column in options:
                narrower, narrower_ok = grouped.add_row(key, ok, column, hashes.coefficients(band, len(columns)))
                if narrower_ok.sum() < NARROWING_COVERAGE * ok.sum():
                    continue  # too sparse: duplicates missing the column would lose the band
                estimate = _pairs_sharing(narrower, narrower_ok) * scale
                if best is None or estimate < best[0]:
                    best = (estimate, column, narrower, narrower_ok)
            if best is None or best[0] > (1.0 - plan.narrowing_cut) * pairs:
                break
            pairs, column, key, ok = best
            columns.append(column)
        layout.append(tuple(columns))
        estimates.append(pairs)
    return tuple(layout), tuple(estimates)


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


@dataclass(frozen=True)
class BandDesign:
    """What blocking decided from its sample: the layout, the frequent shingles dropped, and
    each band's estimated pairs.

    Attributes:
        layout: the column of each row of each band (indices into the compared columns).
        frequent: per column, the sorted shingles dropped as too common.
        records: records in the data.
        sampled: records in the sample the design was made from.
        estimated_pairs: per band, its estimated candidate pairs in all records (before caps).
    """

    layout: Layout
    frequent: tuple[np.ndarray, ...]
    records: int
    sampled: int
    estimated_pairs: tuple[float, ...]

    def narrowed(self, plan: LshPlan) -> list[int]:
        """The bands that got rows beyond ``plan.rows_per_band``."""
        return [band for band, columns in enumerate(self.layout) if len(columns) > plan.rows_per_band]

    def describe(self, columns: Sequence[ResolvedColumn], band: int) -> str:
        """A band's columns by name, e.g. ``first_name+city+postcode+date_of_birth``."""
        return "+".join("(all)" if c == ALL_COLUMNS else columns[c].name for c in self.layout[band])


def _sample_batch(frame: DataFrame, plan: LshPlan, seed: int) -> tuple[pa.RecordBatch, int]:
    """A uniform sample of about ``plan.sample_records`` rows of ``frame`` (all of them when
    there are fewer) as one Arrow batch on the driver, and the number of rows of ``frame``."""
    total = frame.count()
    fraction = min(1.0, plan.sample_records / max(total, 1))
    table = (frame if fraction >= 1.0 else frame.sample(fraction=fraction, seed=seed)).toArrow()
    arrays = [column.combine_chunks() for column in table.columns]
    return pa.RecordBatch.from_arrays(arrays, names=table.column_names), total


def design_bands(prepared: DataFrame, columns: Sequence[ResolvedColumn], plan: LshPlan, *, seed: int = 1) -> BandDesign:
    """The :class:`BandDesign` for ``prepared``, from a sample read to the driver (two Spark jobs:
    a count and the sample; cache ``prepared`` if it is expensive to compute)."""
    inputs = _shingle_inputs(prepared, columns, ())
    sample, total = _sample_batch(inputs.frame, plan, seed)
    n = sample.num_rows
    sampled_shingles = column_shingles(sample, inputs.sources, plan.shingle_size, distinct=True)
    frequent = frequent_shingles(sampled_shingles, n, total, plan)
    kept = [drop_frequent(rows, values, frequent[c], n) for c, (rows, values) in enumerate(sampled_shingles)]
    base = band_columns(plan, len(columns), seed)
    layout, estimates = narrow_bands(kept, base, plan, HashFamily.for_plan(plan, seed), n, total)
    return BandDesign(layout, tuple(frequent), total, n, estimates)


def signature_bands(
    prepared: DataFrame,
    columns: Sequence[ResolvedColumn],
    plan: LshPlan,
    *,
    seed: int = 1,
    carry: Sequence[str] = (),
    design: BandDesign | None = None,
) -> DataFrame:
    """``(KEY, BAND_KEY, SHINGLES, *carry)``: one row per band a record has a key for, and one
    row with a null band key for a record with none (no shingles, or too few non-null columns
    for any band), so those can be counted.

    Runs :func:`design_bands` first unless a ``design`` is given: ``prepared`` is then read
    three times, so cache it if it is expensive to compute.
    """
    inputs = _shingle_inputs(prepared, columns, carry)
    design = design or design_bands(prepared, columns, plan, seed=seed)
    frequent, layout = design.frequent, design.layout
    hashes = HashFamily.for_plan(plan, seed)
    sources, k, carry_names = inputs.sources, plan.shingle_size, inputs.carry
    carry_idx = [inputs.frame.columns.index(c) for c in carry_names]

    def sign(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            shingles = [
                drop_frequent(rows, values, frequent[c], n)
                for c, (rows, values) in enumerate(column_shingles(batch, sources, k))
            ]
            counts = sum((np.bincount(rows, minlength=n) for rows, _ in shingles), np.zeros(n, np.int64))
            keys, valid = band_keys(shingles, layout, hashes, n)
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
