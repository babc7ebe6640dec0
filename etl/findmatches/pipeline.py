"""FindMatches end to end: check, prepare, block, compare, score, cluster.

Each stage's result is materialized once (cached or checkpointed) and counted, so later stages
never recompute it and every run reports the time and row count of each stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.errors import TransformError
from etl.findmatches import blocking, clustering, features, model
from etl.findmatches.columns import KEY, ResolvedColumn, prepare, resolve_columns
from etl.findmatches.params import FindMatchesParameters

MATCH_ID = "match_id"
CONFIDENCE = "match_confidence_score"
NEW = "__fm_new"


@dataclass
class Stage:
    """One stage of a run: what it produced and how long it took."""

    name: str
    seconds: float
    rows: int


@dataclass
class MatchRun:
    """The output of :func:`find_matches` and how it was reached."""

    frame: DataFrame
    model: model.MatchModel
    threshold: float
    stages: list[Stage] = field(default_factory=list)
    quality_estimated: bool = False
    notes: list[str] = field(default_factory=list)

    def stage_table(self) -> list[tuple[str, float, int]]:
        return [(s.name, s.seconds, s.rows) for s in self.stages]


class Timer:
    """Runs stages, materializing and counting each one."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []
        self.notes: list[str] = []  # what a stage decided that the user should know
        self._cached: list[DataFrame] = []

    def run(self, name: str, build: Callable[[], DataFrame], *, checkpoint: bool = False) -> DataFrame:
        start = time.perf_counter()
        df = build()
        if checkpoint:
            df = df.localCheckpoint(eager=True)
        else:
            df = df.persist(StorageLevel.MEMORY_AND_DISK)
            self._cached.append(df)
        rows = df.count()
        self.stages.append(Stage(name, time.perf_counter() - start, rows))
        return df

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.stages.append(Stage(name, time.perf_counter() - start, 0))

    def release(self) -> None:
        for df in self._cached:
            df.unpersist()


def check_records(df: DataFrame, key: str) -> int:
    """The number of records, after checking the primary key is present and unique.

    Raises:
        TransformError: the frame is empty, or keys are null or repeated (naming some of them).
    """
    column = F.col(f"`{key}`")
    per_key = df.groupBy(column.alias("key")).count()
    stats = per_key.agg(  # one query: a check on small data should not cost several Spark jobs
        F.sum("count").alias("n"),
        F.sum(F.when(F.col("key").isNull(), F.col("count"))).alias("nulls"),
        F.count_if(F.col("key").isNotNull() & (F.col("count") > 1)).alias("repeated"),
    ).first()
    assert stats is not None
    if not stats["n"]:
        raise TransformError("FindMatches: the frame is empty; there is nothing to match")
    if stats["nulls"]:
        raise TransformError(
            f"FindMatches: {stats['nulls']} record(s) have a null primary key {key!r}; every record needs one"
        )
    if stats["repeated"]:
        repeated = per_key.where(F.col("key").isNotNull() & (F.col("count") > 1))
        examples = repeated.orderBy(F.col("count").desc(), "key").limit(3).collect()
        shown = ", ".join(f"{row['key']!r} ({row['count']} records)" for row in examples)
        raise TransformError(f"FindMatches: primary key {key!r} is not unique; repeated values include {shown}")
    return int(stats["n"])


def score_candidates(
    prepared: DataFrame,
    columns: list[ResolvedColumn],
    params: FindMatchesParameters,
    timer: Timer,
    *,
    new_flag: str | None = None,
) -> DataFrame:
    """Candidate pairs of ``prepared`` with their comparison features, cached."""
    plan = blocking.plan_for(params.accuracy_cost_tradeoff)
    found: list[blocking.BlockingResult] = []  # the design (sampling) is timed with the blocking stage

    def block() -> DataFrame:
        found.append(blocking.candidate_pairs(prepared, columns, plan, new_flag=new_flag))
        return found[0].pairs

    pairs = timer.run("blocking", block)
    result = found[0]
    narrowed = result.design.narrowed(plan)
    if narrowed:
        described = ", ".join(result.design.describe(columns, band) for band in narrowed)
        timer.notes.append(
            f"blocking narrowed {len(narrowed)} of {plan.bands} bands whose pairs were mostly chance agreement "
            f"(estimated from {result.design.sampled:,} of {result.design.records:,} records): {described}"
        )
    return timer.run("comparison features", lambda: features.compare(pairs, prepared, columns))


def find_matches(
    df: DataFrame,
    params: FindMatchesParameters,
    trained: model.MatchModel | None = None,
    *,
    must_link: DataFrame | None = None,
    cannot_link: DataFrame | None = None,
    with_confidence: bool = False,
) -> MatchRun:
    """``df`` plus ``match_id`` (and ``match_confidence_score`` when asked).

    Without a trained model an unsupervised Fellegi-Sunter model is fitted on this data's
    candidate pairs; its quality is then unestimated (``MatchRun.quality_estimated`` is False).
    """
    key = params.primary_key_column_name
    columns = resolve_columns(df, params)
    for reserved in (MATCH_ID, CONFIDENCE):
        if reserved in df.columns:
            raise TransformError(f"FindMatches: the frame already has a column {reserved!r}; rename or drop it first")
    timer = Timer()
    with timer.timed("check primary key"):
        check_records(df, key)
    prepared = timer.run("prepare", lambda: prepare(df, key, columns))
    compared = score_candidates(prepared, columns, params, timer)
    chosen = trained
    if chosen is None:
        with timer.timed("fit unsupervised model"):
            chosen = model.fit_unsupervised(compared, columns)
    threshold = chosen.threshold(params.precision_recall_tradeoff)
    scored = timer.run("score", lambda: model.score(compared, chosen))
    assignments = timer.run(
        "cluster",
        lambda: clustering.assign_match_ids(
            prepared.select(KEY),
            scored.select("id_l", "id_r", "match_probability"),
            threshold,
            must_link=must_link,
            cannot_link=cannot_link,
            with_confidence=with_confidence,
        ),
        checkpoint=True,
    )
    timer.release()
    output = df.join(assignments.withColumnRenamed(KEY, f"__{key}"), F.col(f"`{key}`") == F.col(f"`__{key}`"))
    output = output.drop(f"__{key}")
    return MatchRun(output, chosen, threshold, timer.stages, trained is not None, timer.notes)


def find_incremental_matches(
    existing: DataFrame,
    incremental: DataFrame,
    params: FindMatchesParameters,
    trained: model.MatchModel | None = None,
    *,
    must_link: DataFrame | None = None,
) -> MatchRun:
    """The existing records (which carry ``match_id``) and the new ones, all with ``match_id``.

    Only pairs with at least one new record are compared: existing records keep the match_id
    they had, unless a new record links two existing entities (see
    :func:`etl.findmatches.clustering.extend_clusters`).
    """
    key = params.primary_key_column_name
    if MATCH_ID not in existing.columns:
        raise TransformError(
            "FindIncrementalMatches: the existing frame has no match_id column; run FindMatches on it first"
        )
    if MATCH_ID in incremental.columns:
        raise TransformError("FindIncrementalMatches: the incremental frame already has a match_id column")
    old_records = existing.drop(MATCH_ID, CONFIDENCE)
    missing = [c for c in old_records.columns if c not in incremental.columns]
    if missing:
        raise TransformError(f"FindIncrementalMatches: the incremental frame lacks the columns {', '.join(missing)}")
    everything = old_records.withColumn(NEW, F.lit(False)).unionByName(
        incremental.select(*old_records.columns).withColumn(NEW, F.lit(True))
    )
    columns = resolve_columns(old_records, params)
    timer = Timer()
    with timer.timed("check primary key"):
        check_records(everything, key)
    prepared = timer.run("prepare", lambda: prepare(everything, key, columns, keep=[NEW]))
    compared = score_candidates(prepared, columns, params, timer, new_flag=NEW)
    chosen = trained
    if chosen is None:
        with timer.timed("fit unsupervised model"):
            chosen = model.fit_unsupervised(compared, columns)
    threshold = chosen.threshold(params.precision_recall_tradeoff)
    scored = timer.run("score", lambda: model.score(compared, chosen))
    edges = scored.where(F.col("match_probability") >= threshold).select("id_l", "id_r")
    if must_link is not None:
        edges = edges.unionByName(must_link.select("id_l", "id_r")).distinct()
    assignments = timer.run(
        "cluster",
        lambda: clustering.extend_clusters(
            existing.select(F.col(f"`{key}`").alias(KEY), MATCH_ID),
            prepared.where(F.col(NEW)).select(KEY),
            edges,
        ),
        checkpoint=True,
    )
    timer.release()
    joined = (
        everything.drop(NEW)
        .join(assignments.withColumnRenamed(KEY, f"__{key}"), F.col(f"`{key}`") == F.col(f"`__{key}`"))
        .drop(f"__{key}")
    )
    return MatchRun(joined, chosen, threshold, timer.stages, trained is not None, timer.notes)
