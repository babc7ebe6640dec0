"""Clustering: connected components, match ids, enforced labels, confidence and incremental runs."""

from __future__ import annotations

import random

import pytest
from chispa import assert_df_equality

from etl.errors import TransformError
from etl.findmatches.clustering import (
    CONFIDENCE,
    MATCH_ID,
    assign_match_ids,
    connected_components,
    extend_clusters,
    match_confidence,
)
from etl.findmatches.columns import KEY


def edges_df(spark, pairs, id_type="long"):
    return spark.createDataFrame(pairs, f"id_l {id_type}, id_r {id_type}")


def vertices_df(spark, ids, id_type="long"):
    return spark.createDataFrame([(i,) for i in ids], f"id {id_type}")


def components(spark, pairs, ids, id_type="long"):
    result = connected_components(edges_df(spark, pairs, id_type), vertices_df(spark, ids, id_type))
    return {r["id"]: r["component"] for r in result.collect()}


def reference_components(pairs, ids):
    """Plain union-find, smallest id as the label."""
    parent = {i: i for i in ids}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in ids}


# --- connected components -------------------------------------------------------------------


def test_long_chain_converges_to_its_smallest_id(spark):
    ids = list(range(200))
    order = ids[:]
    random.Random(3).shuffle(order)  # a path whose ids are not in path order
    pairs = list(zip(order, order[1:], strict=False))
    assert components(spark, pairs, ids) == dict.fromkeys(ids, 0)


def test_star_cycle_self_loop_duplicates_and_singletons(spark):
    star = [(5, leaf) for leaf in (1, 2, 3, 4, 6, 7)]  # centre 5 is not the smallest
    cycle = [(10, 11), (11, 12), (12, 13), (13, 10), (12, 11), (11, 11)]  # duplicate, reversed, self-loop
    ids = [1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 20, 21]
    got = components(spark, star + cycle, ids)
    assert got == {**dict.fromkeys([1, 2, 3, 4, 5, 6, 7], 1), **dict.fromkeys([10, 11, 12, 13], 10), 20: 20, 21: 21}


def test_string_ids_keep_their_type(spark):
    pairs = [("carol", "bob"), ("bob", "alice"), ("zed", "yan")]
    ids = ["alice", "bob", "carol", "dave", "yan", "zed"]
    result = connected_components(edges_df(spark, pairs, "string"), vertices_df(spark, ids, "string"))
    assert [(f.name, f.dataType.simpleString()) for f in result.schema.fields] == [
        ("id", "string"),
        ("component", "string"),
    ]
    got = {r["id"]: r["component"] for r in result.collect()}
    assert got == {"alice": "alice", "bob": "alice", "carol": "alice", "dave": "dave", "yan": "yan", "zed": "yan"}


def test_no_edges_at_all(spark):
    assert components(spark, [], [3, 1, 2]) == {1: 1, 2: 2, 3: 3}


def test_random_graph_matches_union_find(spark):
    rng = random.Random(7)
    ids = list(range(400))
    pairs = [(rng.randrange(400), rng.randrange(400)) for _ in range(300)]
    assert components(spark, pairs, ids) == reference_components(pairs, ids)


# --- match ids ------------------------------------------------------------------------------


def keys_df(spark, ids, id_type="long"):
    return spark.createDataFrame([(i,) for i in ids], f"{KEY} {id_type}")


def scored_df(spark, rows, id_type="long"):
    return spark.createDataFrame(rows, f"id_l {id_type}, id_r {id_type}, match_probability double")


def entities(df):
    """The partition of keys into entities, as a set of frozensets."""
    groups: dict = {}
    for row in df.collect():
        groups.setdefault(row[MATCH_ID], set()).add(row[KEY])
    return {frozenset(g) for g in groups.values()}


def test_match_ids_number_entities_by_their_smallest_key(spark):
    scored = scored_df(spark, [(1, 2, 0.9), (2, 3, 0.8), (3, 4, 0.2), (5, 7, 0.5), (6, 7, 0.49)])
    got = assign_match_ids(keys_df(spark, range(1, 9)), scored, 0.5)
    expected = spark.createDataFrame(
        [(1, 0), (2, 0), (3, 0), (4, 1), (5, 2), (6, 3), (7, 2), (8, 4)], f"{KEY} long, {MATCH_ID} long"
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_match_ids_with_string_keys(spark):
    scored = scored_df(spark, [("k2", "k9", 0.99), ("k1", "k5", 0.1)], "string")
    got = assign_match_ids(keys_df(spark, ["k9", "k5", "k2", "k1"], "string"), scored, 0.7)
    assert sorted((r[KEY], r[MATCH_ID]) for r in got.collect()) == [("k1", 0), ("k2", 1), ("k5", 2), ("k9", 1)]


def test_match_ids_do_not_depend_on_row_order_or_partitioning(spark):
    rng = random.Random(11)
    rows = [(a, b, rng.random()) for a in range(120) for b in range(a + 1, 120) if rng.random() < 0.02]
    keys = list(range(120))
    first = assign_match_ids(keys_df(spark, keys), scored_df(spark, rows), 0.6, with_confidence=True)
    first = sorted(tuple(r) for r in first.collect())
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "5")
    try:
        shuffled_keys = keys_df(spark, list(reversed(keys))).repartition(3)
        shuffled_rows = scored_df(spark, list(reversed(rows))).repartition(4)
        again = assign_match_ids(shuffled_keys, shuffled_rows, 0.6, with_confidence=True)
        again = sorted(tuple(r) for r in again.collect())
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    assert again == first
    assert sorted({r[1] for r in first}) == list(range(len({r[1] for r in first})))  # dense 0..n-1


def test_must_link_joins_whatever_the_model_says(spark):
    scored = scored_df(spark, [(1, 2, 0.9), (3, 4, 0.05)])
    must = edges_df(spark, [(4, 3), (5, 1), (6, 99)])  # reversed, never scored, and a record not in the frame
    got = assign_match_ids(keys_df(spark, range(1, 7)), scored, 0.5, must_link=must)
    assert entities(got) == {frozenset({1, 2, 5}), frozenset({3, 4}), frozenset({6})}


def test_cannot_links_split_components_keeping_every_other_link(spark):
    chain = [(1, 2, 0.95), (2, 3, 0.7), (3, 4, 0.9), (4, 5, 0.8)]  # 1 and 5 may not match: 2-3 goes
    untouched = [(7, 8, 0.6), (8, 9, 0.6)]  # no cannot-link inside
    # Two tight groups {11,12,13}, {14,15,16} bridged twice; 11 and 16 may not match.
    tight = [(11, 12, 0.97), (11, 13, 0.96), (12, 13, 0.95), (14, 15, 0.97), (14, 16, 0.96), (15, 16, 0.95)]
    bridges = [(13, 14, 0.7), (12, 15, 0.65)]
    direct = [(20, 21, 0.99)]  # a matching pair labelled as not matching
    scored = scored_df(spark, chain + untouched + tight + bridges + direct)
    cannot = edges_df(spark, [(5, 1), (11, 16), (21, 20), (1, 99)])
    got = assign_match_ids(keys_df(spark, [*range(1, 10), *range(11, 17), 20, 21]), scored, 0.5, cannot_link=cannot)
    assert entities(got) == {
        frozenset({1, 2}),
        frozenset({3, 4, 5}),
        frozenset({6}),
        frozenset({7, 8, 9}),
        frozenset({11, 12, 13}),
        frozenset({14, 15, 16}),
        frozenset({20}),
        frozenset({21}),
    }


def test_must_link_outranks_the_model_when_splitting(spark):
    # 1-2 is the strongest model edge, but 2-3 is a must-link and 1, 3 may not match.
    scored = scored_df(spark, [(1, 2, 0.99), (2, 3, 0.6), (3, 4, 0.4)])
    got = assign_match_ids(
        keys_df(spark, [1, 2, 3, 4]),
        scored,
        0.5,
        must_link=edges_df(spark, [(2, 3), (3, 4)]),
        cannot_link=edges_df(spark, [(1, 3)]),
    )
    assert entities(got) == {frozenset({1}), frozenset({2, 3, 4})}


def test_contradicting_labels_are_an_error(spark):
    must = edges_df(spark, [(1, 2), (2, 3), (5, 6)])
    cannot = edges_df(spark, [(3, 1), (6, 5)])  # 1-3 through two must-links, 5-6 directly
    keys = keys_df(spark, range(1, 7))
    with pytest.raises(TransformError, match=r"contradict.*\(1, 3\), \(5, 6\)"):
        assign_match_ids(keys, scored_df(spark, [(1, 3, 0.2)]), 0.5, must_link=must, cannot_link=cannot)


# --- confidence -----------------------------------------------------------------------------


def test_confidence_follows_its_definition_and_orders_records(spark):
    scored = scored_df(
        spark,
        [
            (1, 2, 0.98),  # a firm pair
            (3, 4, 0.9),
            (4, 5, 0.6),  # 5 hangs on by one weaker link...
            (5, 6, 0.4),  # ...and has a rival outside its entity
            (7, 8, 0.3),  # 7 and 8 stay apart, but were close-ish
        ],
    )
    got = assign_match_ids(keys_df(spark, range(1, 10)), scored, 0.5, with_confidence=True)
    score = {r[KEY]: r[CONFIDENCE] for r in got.collect()}
    expected = {
        1: 0.98,
        2: 0.98,
        3: 0.9,
        4: 0.75,  # mean(0.9, 0.6)
        5: 0.6 * (1 - 0.4),
        6: 1 - 0.4,
        7: 1 - 0.3,
        8: 1 - 0.3,
        9: 1.0,  # no candidates at all
    }
    assert score == pytest.approx(expected)
    assert all(0.0 <= s <= 1.0 for s in score.values())
    assert score[1] > score[4] > score[5] and score[9] > score[7] > score[6]


def test_confidence_counts_labels_as_certain(spark):
    scored = scored_df(spark, [(1, 2, 0.3), (2, 3, 0.9)])
    clusters = spark.createDataFrame([(1, 0), (2, 0), (3, 1)], f"{KEY} long, {MATCH_ID} long")
    got = match_confidence(clusters, scored, must_link=edges_df(spark, [(1, 2)]), cannot_link=edges_df(spark, [(2, 3)]))
    assert {r[KEY]: r[CONFIDENCE] for r in got.collect()} == pytest.approx({1: 1.0, 2: 1.0, 3: 1.0})


# --- incremental ----------------------------------------------------------------------------


def existing_df(spark, rows, id_type="long"):
    return spark.createDataFrame(rows, f"{KEY} {id_type}, {MATCH_ID} long")


def test_extend_joins_merges_and_numbers_new_entities(spark):
    existing = existing_df(spark, [(1, 10), (2, 10), (3, 20), (4, 30), (5, 30), (11, 40)])
    new = keys_df(spark, [6, 7, 8, 9, 12])
    edges = edges_df(
        spark,
        [
            (1, 6),  # 6 joins entity 10
            (3, 7),
            (7, 4),  # 7 links entities 20 and 30: they merge under 20
            (8, 9),  # a new-only entity
            (1, 11),  # two existing records: ignored
        ],
    )
    got = extend_clusters(existing, new, edges)
    expected = existing_df(
        spark,
        [(1, 10), (2, 10), (6, 10), (3, 20), (4, 20), (5, 20), (7, 20), (11, 40), (8, 41), (9, 41), (12, 42)],
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_extend_with_string_keys_and_no_existing_records(spark):
    empty = existing_df(spark, [], "string")
    got = extend_clusters(empty, keys_df(spark, ["b", "a", "c"], "string"), edges_df(spark, [("b", "c")], "string"))
    assert sorted((r[KEY], r[MATCH_ID]) for r in got.collect()) == [("a", 0), ("b", 1), ("c", 1)]


def test_extend_chain_of_new_records_merges_three_entities(spark):
    existing = existing_df(spark, [("a", 5), ("b", 3), ("c", 9)], "string")
    new = keys_df(spark, ["x", "y"], "string")
    edges = edges_df(spark, [("a", "x"), ("x", "y"), ("y", "c"), ("b", "y")], "string")
    got = extend_clusters(existing, new, edges)
    assert sorted((r[KEY], r[MATCH_ID]) for r in got.collect()) == [("a", 3), ("b", 3), ("c", 3), ("x", 3), ("y", 3)]
