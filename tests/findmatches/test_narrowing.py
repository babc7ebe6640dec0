"""Band narrowing: a band whose pairs are chance agreement gets a further column; a band whose
pairs are duplicates, or whose only further column is sparse, stays as it is; the sampled pair
estimate matches the exact count; the design reaches the Spark side."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from etl.findmatches.blocking import candidate_pairs
from etl.findmatches.columns import ResolvedColumn, prepare, resolve_columns
from etl.findmatches.minhash import HashFamily, LshPlan, fmix64, narrow_bands
from etl.findmatches.params import FindMatchesParameters
from etl.findmatches.pipeline import Timer, score_candidates

PLAN = replace(LshPlan(num_hashes=3, bands=1, rows_per_band=3), min_narrowed_pairs=1000)


def value_column(values: np.ndarray, present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One whole-value shingle per record (as ``value_shingles`` makes them), sorted by record."""
    rows = np.arange(len(values)) if present is None else np.flatnonzero(present)
    return rows, fmix64(values[rows].astype(np.uint64) + np.uint64(1)) & np.uint64(0xFFFFFFFF)


def exact_pairs(*columns: np.ndarray) -> int:
    _, counts = np.unique(np.stack(columns, axis=1), axis=0, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def narrow(shingles, base, plan=PLAN, sampled=None, total=None):
    n = sampled or len(shingles[0][0])
    return narrow_bands(shingles, np.array(base), plan, HashFamily.for_plan(plan, 1), n, total or n)


def test_a_band_of_common_values_gets_the_column_that_removes_its_chance_pairs() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    city, first, street = (rng.integers(0, 3, n) for _ in range(3))  # 27 combinations: ~296,000 pairs
    unique = np.arange(n)
    layout, estimates = narrow([value_column(c) for c in (city, first, street, unique)], [[0, 1, 2]])
    assert layout == ((0, 1, 2, 3),)
    assert estimates[0] == 0  # no two records share all four
    # with a budget above the band's pairs it is left alone, with the exact count as its estimate
    roomy = replace(PLAN, pair_budget=n)
    layout, estimates = narrow([value_column(c) for c in (city, first, street, unique)], [[0, 1, 2]], roomy)
    assert layout == ((0, 1, 2),) and estimates[0] == exact_pairs(city, first, street)


def test_a_band_whose_pairs_are_duplicates_is_kept() -> None:
    n = 4000  # 2000 entities, each twice, equal on every column: 2000 pairs, over the minimum of 1000
    entity = np.arange(n) // 2
    tight = replace(PLAN, pair_budget=0.1)
    layout, estimates = narrow([value_column(entity * 7 + c) for c in range(4)], [[0, 1, 2]], tight)
    assert layout == ((0, 1, 2),) and estimates[0] == n // 2  # a fourth column removes none of them


def test_a_sparse_column_is_not_used_to_narrow() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    common = [value_column(rng.integers(0, 2, n)) for _ in range(3)]
    sparse = value_column(np.arange(n), present=rng.random(n) < 0.5)  # unique, but half the records lack it
    layout, _ = narrow([*common, sparse], [[0, 1, 2]])
    assert layout == ((0, 1, 2),)


def test_the_sampled_estimate_scales_to_all_records() -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    columns = [rng.integers(0, 40, n) for _ in range(3)]  # 64,000 combinations
    roomy = replace(PLAN, pair_budget=n)
    exact = exact_pairs(*columns)
    sample = np.sort(rng.choice(n, 8000, replace=False))
    _, estimates = narrow([value_column(c[sample]) for c in columns], [[0, 1, 2]], roomy, 8000, n)
    assert estimates[0] == pytest.approx(exact, rel=0.15)


def test_record_level_bands_narrow_with_another_record_level_row() -> None:
    rng = np.random.default_rng(4)
    n = 4000
    small = value_column(rng.integers(0, 2, n))  # one 2-valued column: record-level minhashes agree often
    layout, _ = narrow([small, value_column(np.arange(n) % 3)], [[-1, -1, -1]])
    assert layout[0][:3] == (-1, -1, -1)  # may or may not narrow, but only with record-level rows
    assert set(layout[0]) == {-1}


def test_candidate_pairs_report_the_design(spark) -> None:
    rng = np.random.default_rng(5)
    rows = [(i, *(f"{c}{rng.integers(0, 2)}" for c in "ncs"), f"u{i}") for i in range(400)]
    columns = [ResolvedColumn(name, "exact") for name in ("first", "city", "street", "phone")]
    df = spark.createDataFrame(rows, "id long, first string, city string, street string, phone string")
    prepared = prepare(df, "id", columns).cache()
    plan = LshPlan(num_hashes=12, bands=4, rows_per_band=3)
    plan = replace(plan, pair_budget=0.1, min_narrowed_pairs=1000, sample_records=200)
    result = candidate_pairs(prepared, columns, plan)
    design = result.design
    assert design.records == 400 and 120 <= design.sampled <= 280  # a 50% sample
    assert result.pairs.count() < 50  # 8 combinations of the three 2-valued columns would give ~10,000
    # the four bands are the four combinations of three columns; only first+city+street lacks phone
    assert [design.describe(columns, band) for band in design.narrowed(plan)] == ["first+city+street+phone"]


def test_a_run_says_which_bands_it_narrowed(spark) -> None:
    rng = np.random.default_rng(6)
    rows = [(i, *(f"{c}{rng.integers(0, 2)}" for c in "ncs"), f"u{i}") for i in range(1200)]
    df = spark.createDataFrame(rows, "id long, first string, city string, street string, phone string")
    params = FindMatchesParameters(primary_key_column_name="id", columns=["first", "city", "street", "phone"])
    columns = resolve_columns(df, params)
    timer = Timer()
    prepared = timer.run("prepare", lambda: prepare(df, "id", columns))
    compared = score_candidates(prepared, columns, params, timer)
    timer.release()
    assert compared.count() < 20_000  # the first+city+street band alone would give about 90,000 (> 50,000)
    assert len(timer.notes) == 1 and "first+city+street+phone" in timer.notes[0]
    assert "estimated from 1,200 of 1,200 records" in timer.notes[0]


def test_bands_under_the_pair_floor_are_never_narrowed() -> None:
    """Febrl3 (5,000 records, 60% duplicates with heavy typos) lost blocking recall when its
    duplicate-rich bands were narrowed: below ``min_narrowed_pairs`` a band is left alone."""
    rng = np.random.default_rng(7)
    n = 1000
    columns = [value_column(rng.integers(0, 3, n)) for _ in range(3)] + [value_column(np.arange(n))]
    default = LshPlan(num_hashes=3, bands=1, rows_per_band=3)
    layout, estimates = narrow(columns, [[0, 1, 2]], default)
    assert layout == ((0, 1, 2),) and 0 < estimates[0] < default.min_narrowed_pairs  # ~18,500 pairs
    assert narrow(columns, [[0, 1, 2]])[0] == ((0, 1, 2, 3),)  # with a floor of 1,000 it is narrowed
