"""MinHash LSH blocking: recall on typo'd duplicates, few pairs for different records, the banding
math, the bucket cap, incremental mode, determinism, nulls, and the shape of the pairs."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from etl.errors import TransformError
from etl.findmatches.blocking import candidate_pairs
from etl.findmatches.columns import KEY, ResolvedColumn, prepare
from etl.findmatches.minhash import (
    ALL_COLUMNS,
    BAND_KEY,
    HashFamily,
    LshPlan,
    band_columns,
    column_shingles,
    design_bands,
    drop_frequent,
    fmix64,
    minhash,
    pack,
    plan_for,
    signature_bands,
    text_shingles,
)

COLUMNS = [
    ResolvedColumn("first", "name"),
    ResolvedColumn("last", "name"),
    ResolvedColumn("street", "text"),
    ResolvedColumn("city", "text"),
    ResolvedColumn("born", "date"),
    ResolvedColumn("age", "numeric"),
]
SCHEMA = "id long, first string, last string, street string, city string, born string, age int"

# Entities 1-6, each a clean record and one or two typo'd copies (ids: entity * 10 + copy).
PEOPLE = [
    ("Margaret", "Thompson", "14 Wattle Avenue", "Ballarat", "1961-03-14", 63),
    ("Jonathan", "Fitzgerald", "221 Bourke Street", "Melbourne", "1984-11-02", 40),
    ("Priya", "Raghunathan", "7 Kookaburra Close", "Toowoomba", "1990-07-21", 34),
    ("William", "O'Sullivan", "88 Esplanade", "St Kilda", "1955-01-30", 69),
    ("Hannah", "Kowalczyk", "3/45 Riverside Drive", "Launceston", "2001-09-09", 23),
    ("Alexander", "Papadopoulos", "19 Banksia Crescent", "Wollongong", "1972-05-17", 52),
]
COPIES = {
    1: [("Margret", "Thompson", "14 Wattle Ave", "Ballarat", "1961-03-14", 63)],
    2: [
        ("Jonathon", "Fitzgerald", "221 Bourke St", "Melbourne", "1984-11-02", None),
        ("Jonathan", "Fitzgerld", "221 Bourke Street", "Melborne", None, 40),
    ],
    3: [("Priya", "Ragunathan", "7 Kookaburra Cl", "Toowomba", "1990-07-21", 34)],
    4: [("Wiliam", "OSullivan", "88 Esplanade", "Saint Kilda", "1955-01-30", 69)],
    5: [("Hanna", "Kowalczyk", "45 Riverside Dr", "Launceston", "2001-09-09", 23)],
    6: [
        ("Alexander", "Papadopolous", "19 Banksia Cres", "Wollongong", "1972-05-17", 52),
        ("Alex", "Papadopoulos", "19 Banksia Crescent", "Woollongong", "1972-05-17", None),
    ],
}
FIRST = "olivia noah isla leo amelia oscar mia harry ava jack grace henry zoe felix ruby max ivy sam".split()


def word(rng: np.random.Generator, low: int = 5, high: int = 10) -> str:
    return "".join(chr(97 + c) for c in rng.integers(0, 26, rng.integers(low, high)))


def people_rows() -> list[tuple]:
    rows = []
    for entity, person in enumerate(PEOPLE, start=1):
        rows.append((entity * 10, *person))
        rows += [(entity * 10 + copy, *values) for copy, values in enumerate(COPIES[entity], start=1)]
    return rows


def true_pairs(rows: list[tuple]) -> set[tuple[int, int]]:
    ids = [row[0] for row in rows if row[0] < 100]
    return {(a, b) for a, b in itertools.combinations(sorted(ids), 2) if a // 10 == b // 10}


def strangers(count: int, start: int = 1000) -> list[tuple]:
    """Different people: every value made up independently."""
    rng = np.random.default_rng(7)
    return [
        (
            start + i,
            word(rng).title(),
            word(rng).title(),
            f"{rng.integers(1, 400)} {word(rng).title()} {word(rng, 3, 6).title()}",
            word(rng).title(),
            f"{rng.integers(1940, 2005)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}",
            int(rng.integers(18, 90)),
        )
        for i in range(count)
    ]


def prepared_frame(spark, rows: list[tuple], extra: str = ""):
    df = spark.createDataFrame(rows, SCHEMA + extra)
    return prepare(df, "id", COLUMNS, keep=[extra.split()[1]] if extra else [])


def pair_set(pairs) -> set[tuple]:
    return {(row.id_l, row.id_r) for row in pairs.collect()}


@pytest.fixture(scope="module")
def people(spark):
    rows = people_rows() + strangers(40)
    return rows, prepared_frame(spark, rows).cache()


def test_typo_duplicates_become_candidates_and_strangers_rarely_do(people) -> None:
    rows, prepared = people
    found = pair_set(candidate_pairs(prepared, COLUMNS, plan_for(0.5)).pairs)
    truth = true_pairs(rows)
    assert truth <= found, f"missed {sorted(truth - found)}"
    stranger_pairs = {p for p in found if p[0] >= 1000 and p[1] >= 1000}
    assert len(stranger_pairs) <= 2  # of 780 pairs among the 40 strangers


def test_pairs_are_ordered_and_unique_and_deterministic_for_a_seed(people) -> None:
    _, prepared = people
    plan = plan_for(1.0)  # the most bands: the most pairs found by several bands
    first = candidate_pairs(prepared, COLUMNS, plan, seed=3).pairs
    rows = [(r.id_l, r.id_r) for r in first.collect()]
    assert rows and all(left < right for left, right in rows)
    assert len(rows) == len(set(rows))
    assert pair_set(candidate_pairs(prepared, COLUMNS, plan, seed=3).pairs) == set(rows)
    keys = signature_bands(prepared, COLUMNS, plan, seed=3).where(F.col(KEY) == 10).collect()
    other = signature_bands(prepared, COLUMNS, plan, seed=4).where(F.col(KEY) == 10).collect()
    assert {r[BAND_KEY] for r in keys} != {r[BAND_KEY] for r in other}
    assert len(keys) == plan.bands


def test_string_keys_and_a_stats_summary(spark) -> None:
    rows = [(f"rec-{r[0]}", *r[1:]) for r in people_rows()] + [("rec-empty", None, "", None, " ", None, None)]
    df = spark.createDataFrame(rows, SCHEMA.replace("id long", "id string"))
    result = candidate_pairs(prepare(df, "id", COLUMNS), COLUMNS, plan_for(0.5))
    found = pair_set(result.pairs)
    assert ("rec-10", "rec-11") in found and ("rec-20", "rec-22") in found
    assert all("rec-empty" not in pair for pair in found)
    stats = result.stats
    assert stats.records_without_shingles == stats.records_without_band_keys == 1
    assert stats.buckets_capped == 0
    assert 2 <= stats.largest_bucket <= 3
    assert stats.pairs_emitted >= len(found)
    assert stats.band_keys > 14 * plan_for(0.5).bands // 2  # most bands have all their columns


def test_nulls_contribute_nothing_and_sparse_records_get_no_band_keys(spark) -> None:
    rows = [
        (1, "Zebedee", "Quarrington", "5 Pell Lane", "Yass", None, None),
        (2, "Zebedee", "Quarrington", "5 Pell Lane", "Yass", None, None),  # equal on the four non-null columns
        (3, None, None, None, None, None, None),  # no shingles at all
        (4, None, None, None, None, None, None),
        (5, "Zebedee", "Quarrington", None, None, None, None),  # two columns: fewer than a band's three
    ]
    result = candidate_pairs(prepared_frame(spark, rows), COLUMNS, plan_for(0.0))
    assert pair_set(result.pairs) == {(1, 2)}  # the two all-null records are not "equal"
    assert result.stats.records_without_shingles == 2
    assert result.stats.records_without_band_keys == 3


def test_whole_values_are_hashed_with_their_column(spark) -> None:
    columns = [ResolvedColumn("age", "numeric"), ResolvedColumn("rooms", "numeric"), ResolvedColumn("born", "date")]
    rows = [(1, 41, None, "1970-01-01"), (2, 41, None, "1970-01-01"), (3, None, 41, None)]
    rows += [(5, 42, None, "1970-01-02"), (6, 41, None, None), (7, 41, None, None)]
    df = spark.createDataFrame(rows, "id long, age int, rooms int, born string")
    found = pair_set(candidate_pairs(prepare(df, "id", columns), columns, plan_for(0.0)).pairs)
    assert {(1, 2), (6, 7)} <= found
    assert not [p for p in found if 3 in p or 5 in p]  # 41 as rooms is not 41 as age
    assert band_columns(plan_for(0.0), len(columns), 1).tolist() == [[ALL_COLUMNS] * 3] * 20  # record-level


def test_a_skewed_value_is_capped_to_a_window_per_member(spark) -> None:
    same = [(1000 + i, "Sam", "Lee", "1 George Street", "Sydney", None, None) for i in range(300)]
    prepared = prepared_frame(spark, same + people_rows())
    plan = replace(plan_for(0.5), max_bucket=20, window=3)
    result = candidate_pairs(prepared, COLUMNS, plan)
    found = pair_set(result.pairs)
    giant = {p for p in found if p[0] >= 1000}
    # uncapped: 300 * 299 / 2 = 44,850 pairs; capped: each member with its next 3 in one order
    # shared by all bands (a hash of the key), so 3 * 300 - 6 pairs whatever the number of bands.
    assert len(giant) == 3 * 300 - 6
    assert {i for p in giant for i in p} == set(range(1000, 1300))  # every member still paired
    assert true_pairs(people_rows()) <= found  # the other records are unaffected
    text_only = sum(set(band.tolist()) <= {0, 1, 2, 3} for band in band_columns(plan, len(COLUMNS), 1))
    stats = result.stats
    assert stats.buckets_capped == text_only > 0  # one giant bucket per band of text columns
    assert stats.capped_memberships == 300 * text_only
    assert stats.largest_bucket == 300


def test_incremental_mode_pairs_only_with_new_records(spark) -> None:
    rows = people_rows() + strangers(20)
    flagged = [(*row, row[0] % 10 == 2 or row[0] == 51) for row in rows]  # copies 22, 62 and 51 are new
    prepared = prepared_frame(spark, flagged, ", is_new boolean").cache()
    plan = plan_for(0.75)
    full = pair_set(candidate_pairs(prepared, COLUMNS, plan).pairs)
    new_ids = {row[0] for row in flagged if row[-1]}
    incremental = pair_set(candidate_pairs(prepared, COLUMNS, plan, new_flag="is_new").pairs)
    assert incremental == {p for p in full if p[0] in new_ids or p[1] in new_ids}
    assert {(20, 22), (21, 22), (60, 62), (61, 62), (50, 51)} <= incremental
    assert (10, 11) in full and (10, 11) not in incremental  # both old


def test_an_unknown_new_flag_column_is_an_error(people) -> None:
    _, prepared = people
    with pytest.raises(TransformError, match="'is_new' is not in the frame"):
        candidate_pairs(prepared, COLUMNS, plan_for(0.5), new_flag="is_new")


def test_frequent_shingles_are_found_per_column(spark) -> None:
    rng = np.random.default_rng(3)
    rows = [(i, word(rng), word(rng), f"{i} {word(rng)} street", "Ballarat", None, None) for i in range(120)]
    prepared = prepared_frame(spark, rows)
    plan = replace(plan_for(0.5), max_shingle_df=0.5)  # frequent: in more than 60 of 120 records
    street = text_shingles(pa.array([" street "]), plan.shingle_size)[1]  # " str" "stre" "tree" "reet" "eet "
    city = text_shingles(pa.array([" ballarat "]), plan.shingle_size)[1]
    expected = np.concatenate([pack(2, street), pack(3, city)])  # columns 2 (street) and 3 (city)
    design = design_bands(prepared, COLUMNS, plan)
    assert design.records == design.sampled == 120
    found = np.concatenate([pack(c, shingles) for c, shingles in enumerate(design.frequent)])
    assert sorted(found.tolist()) == sorted(set(expected.tolist()))
    assert not any(len(f) for f in design_bands(prepared, COLUMNS, replace(plan, max_shingle_df=1.0)).frequent)


def test_drop_frequent_keeps_a_records_only_shingles() -> None:
    rows = np.array([0, 0, 0, 1, 1, 2])
    shingles = np.array([5, 7, 9, 5, 7, 9], np.uint64)
    kept_rows, kept = drop_frequent(rows, shingles, np.array([5, 7], np.uint64), 3)
    assert kept_rows.tolist() == [0, 1, 1, 2] and kept.tolist() == [9, 5, 7, 9]  # record 1 has only 5 and 7


def test_column_shingles_are_distinct_per_record_and_whole_values_are_one_shingle() -> None:
    batch = pa.RecordBatch.from_arrays(
        [pa.array([1, 2]), pa.array([" abab ", None]), pa.array([None, 77], pa.int64())], names=["k", "t", "v"]
    )
    (text_rows, text), (value_rows, value) = column_shingles(batch, [(1, True), (2, False)], 2, distinct=True)
    assert text_rows.tolist() == [0, 0, 0, 0] and len(set(text.tolist())) == 4  # " a" "ab" "ba" "b "
    assert value_rows.tolist() == [1] and len(value) == 1


# --- the numpy kernels and the plan ---------------------------------------------------------------


def test_text_shingles_cut_byte_grams_per_string_and_skip_nulls() -> None:
    values = pa.array(["xabcd", None, "ab", "", "abcd"])
    rows, grams = text_shingles(values, 3)
    assert rows.tolist() == [0, 0, 0, 2, 4, 4]
    assert grams[1] == grams[4] and grams[2] == grams[5]  # "abc", "bcd" in rows 0 and 4
    assert len(set(grams.tolist())) == 4  # xab abc bcd ab
    sliced_rows, sliced = text_shingles(values.slice(2), 3)  # an Arrow slice (non-zero offset)
    assert sliced_rows.tolist() == [0, 2, 2] and sliced.tolist() == grams[3:].tolist()
    assert len(text_shingles(pa.array([None, None], pa.string()), 3)[0]) == 0


def test_minhash_agreement_estimates_jaccard() -> None:
    plan = LshPlan(num_hashes=1000, bands=500, rows_per_band=2)
    for jaccard, left, right in [(0.5, (0, 300), (100, 400)), (0.2, (0, 120), (80, 200))]:
        ids = np.concatenate([np.arange(*left, dtype=np.uint64), np.arange(*right, dtype=np.uint64)])
        shingles = fmix64(ids) & np.uint64(0xFFFFFFFF)  # shingle hashes are mixed, as text_shingles makes them
        starts, records = np.array([0, left[1] - left[0]]), np.array([0, 1])
        agreement = []
        for seed in range(8):
            hashes = HashFamily.for_plan(plan, seed)
            values = np.array(
                [minhash(shingles, starts, records, hashes.a[j], hashes.b[j], 2) for j in range(plan.num_hashes)]
            )
            agreement.append(np.mean(values[:, 0] == values[:, 1]))
        assert float(np.mean(agreement)) == pytest.approx(jaccard, abs=0.02)  # about 3.5 standard deviations


def test_bands_take_different_columns_and_cover_every_combination() -> None:
    plan = plan_for(0.5)  # 60 bands of 3 rows
    columns = band_columns(plan, 6, seed=1)  # 20 combinations of 3 of 6 columns
    assert columns.shape == (60, 3)
    assert all(len(set(band.tolist())) == 3 for band in columns)
    assert {tuple(sorted(band.tolist())) for band in columns} == set(itertools.combinations(range(6), 3))
    assert (band_columns(plan, 6, seed=1) == columns).all() and not (band_columns(plan, 6, seed=2) == columns).all()
    assert (band_columns(plan, 3, seed=1) == ALL_COLUMNS).all()
    assert (band_columns(replace(plan, per_column=False), 6, seed=1) == ALL_COLUMNS).all()


def test_plan_for_spans_the_s_curve() -> None:
    plans = [plan_for(t) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert [p.bands for p in plans] == sorted(p.bands for p in plans)
    thresholds = [p.threshold for p in plans]
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[0] == pytest.approx(0.368, abs=0.01) and thresholds[-1] == pytest.approx(0.177, abs=0.01)
    for plan in plans:
        assert plan.num_hashes == plan.bands * plan.rows_per_band
        # near the threshold about 1 - 1/e of the pairs are candidates; far above, all; far below, few
        assert plan.candidate_probability(plan.threshold) == pytest.approx(1 - (1 - 1 / plan.bands) ** plan.bands)
        assert plan.candidate_probability(min(1.0, 2 * plan.threshold)) > 0.99
        assert plan.candidate_probability(plan.threshold / 3) < 0.05
    default = plan_for(0.5)
    assert default.candidate_probability(0.5) > 0.99 and default.candidate_probability(0.05) < 0.01
    with pytest.raises(ValueError, match="accuracy_cost_tradeoff"):
        plan_for(1.5)
    with pytest.raises(ValueError, match="num_hashes"):
        LshPlan(num_hashes=10, bands=4, rows_per_band=3)
    with pytest.raises(ValueError, match="shingle_size"):
        LshPlan(num_hashes=12, bands=4, rows_per_band=3, shingle_size=9)
