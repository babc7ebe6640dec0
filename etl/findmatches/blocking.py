"""Candidate pairs for FindMatches from MinHash LSH band keys (see :mod:`etl.findmatches.minhash`).

Records sharing a band key form a bucket; every pair within a bucket is a candidate, deduplicated
across bands, as ``(id_l, id_r)`` with ``id_l < id_r``. A bucket larger than ``plan.max_bucket``
(a skewed value: thousands of records that only have ``state = nsw``) does not emit all its
pairs: its members are ordered by a seeded hash of the key and each is paired with its next
``plan.window`` members (a sorted neighbourhood), so it adds at most ``window`` pairs per member;
duplicates among them stay connected through the chain. The order is the same in every band, so
a value that fills a bucket in many bands still adds only ``window`` pairs per member.

All of it is native Spark: a window count over the band key (one shuffle and sort) drops the
singleton keys, which are most of them; an aggregation collects each remaining bucket's members
(sorted; it reuses the window's partitioning) and higher-order functions emit the pairs; a
``distinct`` removes pairs found in several bands. (Walking the sorted keys in numpy through
``mapInArrow`` was measured at the same cost: the Arrow transfer of every band key outweighs
what it saves.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from etl.errors import TransformError
from etl.findmatches.columns import KEY, ResolvedColumn
from etl.findmatches.minhash import BAND_KEY, SHINGLES, BandDesign, LshPlan, design_bands, plan_for, signature_bands

__all__ = ["BlockingResult", "BlockingStats", "LshPlan", "PAIR_COLUMNS", "candidate_pairs", "plan_for"]

PAIR_COLUMNS = ("id_l", "id_r")


@dataclass(frozen=True)
class BlockingStats:
    """What blocking did (from one aggregate over the band keys).

    Attributes:
        band_keys: band keys emitted (records times the bands each has a key for).
        records_without_shingles: records with no shingle (every compared column null or
            empty): they get no candidate pairs.
        records_without_band_keys: records with no band key (no shingles, or too few non-null
            columns for any band): they get no candidate pairs.
        buckets: band keys shared by at least two records.
        buckets_capped: buckets larger than ``plan.max_bucket``, paired by neighbourhood only.
        capped_memberships: members of those buckets (a record counts once per capped bucket).
        largest_bucket: members of the largest bucket.
        pairs_emitted: pairs the buckets emit after capping, before deduplication across bands
            (and before the new-record filter of incremental mode).
    """

    band_keys: int
    records_without_shingles: int
    records_without_band_keys: int
    buckets: int
    buckets_capped: int
    capped_memberships: int
    largest_bucket: int
    pairs_emitted: int


class BlockingResult:
    """Candidate pairs plus blocking statistics.

    ``pairs`` is lazy (only the sampling for ``design`` has run). ``stats`` runs one aggregate
    over the band keys on first access (recomputing the signatures unless the caller cached
    ``prepared``) and keeps the result.
    """

    def __init__(self, pairs: DataFrame, bands: DataFrame, plan: LshPlan, design: BandDesign) -> None:
        self.pairs = pairs
        self.bands = bands
        self.plan = plan
        self.design = design

    @cached_property
    def stats(self) -> BlockingStats:
        size = F.col("size")
        keyed = F.col(BAND_KEY).isNotNull()
        shared = keyed & (size >= 2)
        capped = keyed & (size > self.plan.max_bucket)
        w = self.plan.window
        emitted = F.when(capped, size * w - w * (w + 1) // 2).when(shared, size * (size - 1) / 2)
        row = (
            self.bands.groupBy(BAND_KEY)
            .agg(F.count("*").alias("size"), F.count_if(F.col(SHINGLES) == 0).alias("empty"))
            .agg(
                F.sum(F.when(keyed, size)).alias("band_keys"),
                F.sum(F.when(~keyed, size)).alias("without_keys"),
                F.sum(F.when(~keyed, F.col("empty"))).alias("without_shingles"),
                F.count(F.when(shared, True)).alias("buckets"),
                F.count(F.when(capped, True)).alias("capped"),
                F.sum(F.when(capped, size)).alias("capped_memberships"),
                F.max(F.when(keyed, size)).alias("largest"),
                F.sum(emitted).cast("long").alias("emitted"),
            )
            .first()
        )
        assert row is not None  # a global aggregate always has one row
        return BlockingStats(
            band_keys=row.band_keys or 0,
            records_without_shingles=row.without_shingles or 0,
            records_without_band_keys=row.without_keys or 0,
            buckets=row.buckets,
            buckets_capped=row.capped,
            capped_memberships=row.capped_memberships or 0,
            largest_bucket=row.largest or 0,
            pairs_emitted=row.emitted or 0,
        )


def candidate_pairs(
    prepared: DataFrame,
    columns: Sequence[ResolvedColumn],
    plan: LshPlan,
    *,
    seed: int = 1,
    new_flag: str | None = None,
) -> BlockingResult:
    """Candidate pairs ``(id_l, id_r)`` of ``prepared`` (see :func:`etl.findmatches.columns.prepare`).

    Args:
        prepared: ``KEY`` plus the normalized compared columns.
        columns: the compared columns and their kinds.
        plan: bands, rows and caps (:func:`etl.findmatches.minhash.plan_for`).
        seed: fixes the hash functions and the order within capped buckets; the same seed gives
            the same pairs.
        new_flag: a boolean column of ``prepared`` marking new records (incremental matching):
            only pairs with at least one new record are produced (null counts as not new).

    Raises:
        TransformError: ``new_flag`` is not a column of ``prepared``.
    """
    carry: list[str] = []
    if new_flag is not None:
        if new_flag not in prepared.columns:
            raise TransformError(
                f"FindMatches blocking: new-record flag column {new_flag!r} is not in the frame "
                f"(columns: {', '.join(prepared.columns)})"
            )
        carry.append(new_flag)
    design = design_bands(prepared, columns, plan, seed=seed)
    bands = signature_bands(prepared, columns, plan, seed=seed, carry=carry, design=design)

    # Most band keys are singletons: a window count (one shuffle and sort by band key) drops them
    # before the members of the remaining buckets are collected (the aggregation then reuses the
    # window's partitioning: no second shuffle).
    bucket = Window.partitionBy(BAND_KEY)
    sized = [F.col(KEY), F.col(BAND_KEY), F.count("*").over(bucket).alias("size")]
    wanted = F.col("size") >= 2
    member = [F.xxhash64(F.col(KEY), F.lit(seed)).alias("h"), F.col(KEY).alias("id")]
    if new_flag is not None:
        is_new = F.coalesce(F.col(f"`{new_flag}`").cast("boolean"), F.lit(False))
        sized += [is_new.alias("new"), F.max(is_new).over(bucket).alias("any_new")]
        wanted &= F.col("any_new")
        member.append(F.col("new"))
    shared = bands.where(F.col(BAND_KEY).isNotNull()).select(*sized).where(wanted)
    buckets = shared.groupBy(BAND_KEY).agg(
        F.first("size").alias("size"), F.array_sort(F.collect_list(F.struct(*member))).alias("members")
    )

    pairs = buckets.select(F.explode(_bucket_pairs(plan, incremental=new_flag is not None)).alias("p"))
    if new_flag is not None:
        pairs = pairs.where(F.col("p.new"))
    pairs = (
        pairs.select(F.least("p.a", "p.b").alias("id_l"), F.greatest("p.a", "p.b").alias("id_r"))
        .where(F.col("id_l") < F.col("id_r"))
        .distinct()
    )
    return BlockingResult(pairs, bands, plan, design)


def _bucket_pairs(plan: LshPlan, *, incremental: bool) -> Column:
    """Pairs ``(a, b[, new])`` of a bucket's sorted ``members``: all pairs up to
    ``plan.max_bucket`` members, else each member with its next ``plan.window``."""
    members, size = F.col("members"), F.col("size")
    width = F.when(size > plan.max_bucket, F.lit(plan.window)).otherwise(size - 1)

    def pair(i: Column, j: Column) -> Column:
        left, right = F.get(members, i), F.get(members, j)
        fields = [left["id"].alias("a"), right["id"].alias("b")]
        if incremental:
            fields.append((left["new"] | right["new"]).alias("new"))
        return F.struct(*fields)

    return F.flatten(
        F.transform(
            F.sequence(F.lit(0), size - 2),
            lambda i: F.transform(F.sequence(i + 1, F.least(size - 1, i + width)), lambda j: pair(i, j)),
        )
    )
