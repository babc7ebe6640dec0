"""Matched pairs into entities (``match_id``) for FindMatches, in Spark.

Rules, in the order they apply:

- **Edges.** A scored pair is an edge when ``match_probability >= threshold``. Must-link pairs
  (enforced labels) are edges whatever the model says; cannot-link pairs are never edges. Label
  pairs naming a record that is not among the keys are ignored.
- **Components.** Entities are the connected components of the edges, found with the alternating
  Large-Star / Small-Star algorithm (Kiveris et al. 2014) as DataFrame windows and aggregates; no
  graph is ever held by the driver.
- **Cannot-link split.** A component that still joins a cannot-link pair through other edges is
  re-clustered alone, by constrained single linkage: its edges are added strongest first
  (must-links first, then by probability, ties by ``(id_l, id_r)``), and an edge is skipped when
  it would put a cannot-link pair into one entity. The result is the same for the same input and
  keeps every edge it can. Only those components are re-clustered, each in one grouped pandas
  call on an executor. Labels that contradict each other (a cannot-link pair joined by must-links
  alone: a must-link edge would have to be skipped) raise :class:`TransformError`.
- **match_id.** The 0-based rank of the entity's smallest primary key among all entities'
  smallest keys, in the key's natural order: equal within an entity, distinct across entities,
  and the same for the same input whatever the partitioning.
- **match_confidence_score.** For a record: (the mean probability of its scored pairs inside its
  entity, 1 when it has none) times (1 - its highest probability to a record in another entity,
  0 when it has none). Must-link pairs count as probability 1, cannot-link pairs as 0. A singleton
  thus scores ``1 - its best candidate's probability``; a record firmly inside its entity with no
  strong rival scores near 1.
- **Incremental** (:func:`extend_clusters`): each existing entity is one vertex (its match_id) and
  each new record is one vertex. Existing records keep their match_id; when new records link
  existing entities, the merged entity takes the smallest of their match_ids; new records take
  the match_id of the entity they join; entities of new records only get fresh ids above the
  largest existing match_id. Edges between two existing records are ignored: existing entities
  merge only through a new record.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.findmatches.columns import KEY

MATCH_ID = "match_id"
CONFIDENCE = "match_confidence_score"
MUST_LINK_WEIGHT = 2.0  # above any probability: must-link edges are added first and never skipped
MAX_ITERATIONS = 100  # Large-Star / Small-Star needs O(log^2 n) rounds; this is a safety net


# --- connected components -------------------------------------------------------------------


def connected_components(edges: DataFrame, vertices: DataFrame, *, max_iterations: int = MAX_ITERATIONS) -> DataFrame:
    """``(id, component)`` for each row of ``vertices``: component is the smallest id connected to it.

    Args:
        edges: ``(id_l, id_r)`` undirected edges in any orientation; self-loops, duplicates and
            nulls are dropped. Edge ends missing from ``vertices`` still connect others.
        vertices: ``(id)``; a vertex without edges is its own component. Ids may be of any
            orderable type (long, string, struct).

    Each round is a Large-Star step then a Small-Star step, one window (one shuffle) each, and
    ends in a local checkpoint so plans do not grow. Large-Star also flags every vertex that is
    neither a star centre (all neighbours larger) nor a leaf (one neighbour, smaller); a round
    that flags none started from stars around each component's smallest id, the fixed point of
    both steps, and the loop stops.

    Raises:
        TransformError: no convergence within ``max_iterations`` rounds (a bug, not bad data).
    """
    ends = _ordered_pairs(edges.select("id_l", "id_r"))
    star = ends.select(F.col("id_l").alias("src"), F.col("id_r").alias("dst"))
    for _ in range(max_iterations):
        after = _small_star(_large_star(star)).localCheckpoint()
        if after.where(F.col("unsettled")).isEmpty():
            break
        star = after.where(~F.col("unsettled")).select("src", "dst")
    else:
        raise TransformError(f"connected components did not converge in {max_iterations} rounds")
    # Converged: the round gave the stars back as (centre, leaf), once each.
    parents = after.select(F.col("dst").alias("id"), F.col("src").alias("component"))
    joined = vertices.select("id").join(parents, "id", "left")
    return joined.select("id", F.coalesce("component", "id").alias("component"))


def _ordered_pairs(pairs: DataFrame, *extra: str | Column) -> DataFrame:
    """Pairs with ``id_l < id_r``, without nulls or self-pairs."""
    left, right = F.col("id_l"), F.col("id_r")
    ordered = pairs.select(F.least(left, right).alias("id_l"), F.greatest(left, right).alias("id_r"), *extra)
    return ordered.where(F.col("id_l").isNotNull() & F.col("id_r").isNotNull() & (F.col("id_l") != F.col("id_r")))


def _large_star(star: DataFrame) -> DataFrame:
    """Each vertex links its larger neighbours to the smallest of its neighbourhood.

    In: ``(src, dst)``, ``src < dst``, duplicates allowed. Out: ``(src, dst, unsettled=false)``
    with ``src > dst`` (duplicates possible), plus one ``(v, null, unsettled=true)`` row for each
    vertex ``v`` that is neither a star centre nor a star leaf.
    """
    both = star.unionByName(star.select(F.col("dst").alias("src"), F.col("src").alias("dst")))
    ordered = Window.partitionBy("src").orderBy("dst")
    whole = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    lowest, highest = F.min("dst").over(whole), F.max("dst").over(whole)
    repeated = F.lag("dst").over(ordered).eqNullSafe(F.col("dst"))
    unsettled = (lowest < F.col("src")) & (lowest != highest)  # a smaller neighbour and another one
    marked = both.select(
        "src", "dst", F.least(F.col("src"), lowest).alias("m"), unsettled.alias("unsettled"), repeated.alias("rep")
    ).where(~F.col("rep"))
    is_link = F.col("dst") > F.col("src")
    first_flag = F.col("unsettled") & (F.col("dst") == F.col("m"))  # one flag row per unsettled vertex
    return marked.where(is_link | first_flag).select(
        F.when(is_link, F.col("dst")).otherwise(F.col("src")).alias("src"),
        F.when(is_link, F.col("m")).alias("dst"),
        (~is_link).alias("unsettled"),
    )


def _small_star(star: DataFrame) -> DataFrame:
    """Each vertex links itself and its smaller neighbours to the smallest of them.

    In: Large-Star's output. Out: ``(src, dst, unsettled=false)`` with ``src < dst``, duplicates
    possible (the next Large-Star skips them), and the flag rows as ``(null, null, true)``.
    """
    with_min = star.select("src", "dst", "unsettled", F.min("dst").over(Window.partitionBy("src")).alias("m"))
    flag = F.col("unsettled")
    linked = with_min.select(
        F.when(~flag, F.col("m")).alias("src"),
        F.explode(F.when(flag, F.array("dst")).otherwise(F.array("dst", "src"))).alias("dst"),
        flag,
    )
    return linked.where(flag | (F.col("src") != F.col("dst")))


# --- stable numbering -----------------------------------------------------------------------


def _number(df: DataFrame, column: str, name: str, start: int = 0) -> DataFrame:
    """``df`` plus ``name``: ``start`` + the 0-based rank of ``column`` (unique values), ascending.

    A global sort, then each partition's offset from the per-partition row counts (one small
    collect of at most ``spark.sql.shuffle.partitions`` numbers).
    """
    ordered = df.orderBy(column).localCheckpoint()
    part = F.spark_partition_id()
    counts = dict(ordered.groupBy(part.alias("p")).count().collect())
    if not counts:
        return ordered.withColumn(name, F.lit(None).cast("long"))
    offsets, total = [], start
    for p in range(max(counts) + 1):
        offsets.append(total)
        total += counts.get(p, 0)
    offset = F.element_at(F.array(*[F.lit(o).cast("long") for o in offsets]), part + 1)
    # monotonically_increasing_id is (partition id << 33) + the row's position in its partition.
    position = F.monotonically_increasing_id() - F.shiftleft(part.cast("long"), 33)
    return ordered.withColumn(name, offset + position)


# --- labels ---------------------------------------------------------------------------------


def _label_pairs(pairs: DataFrame, keys: DataFrame) -> DataFrame:
    """Label pairs cast to the key type, ordered, distinct, restricted to records in ``keys``."""
    key_type = keys.schema[KEY].dataType
    typed = pairs.select(F.col("id_l").cast(key_type).alias("id_l"), F.col("id_r").cast(key_type).alias("id_r"))
    ordered = _ordered_pairs(typed).distinct()
    known = keys.select(KEY)
    ordered = ordered.join(known.withColumnRenamed(KEY, "id_l"), "id_l").join(
        known.withColumnRenamed(KEY, "id_r"), "id_r"
    )
    return ordered.select("id_l", "id_r").localCheckpoint()


# --- match ids ------------------------------------------------------------------------------


def assign_match_ids(
    keys: DataFrame,
    scored_pairs: DataFrame,
    threshold: float,
    *,
    must_link: DataFrame | None = None,
    cannot_link: DataFrame | None = None,
    with_confidence: bool = False,
) -> DataFrame:
    """``(__fm_key, match_id[, match_confidence_score])`` for each record in ``keys``.

    Args:
        keys: ``(__fm_key)``, one row per record.
        scored_pairs: ``(id_l, id_r, match_probability)`` candidate pairs; read once for the edges
            and once more for confidence scores, so pass a checkpointed frame.
        threshold: pairs at or above it match.
        must_link / cannot_link: ``(id_l, id_r)`` enforced labels (see the module's rules).
        with_confidence: add ``match_confidence_score`` (module docstring).

    Raises:
        TransformError: the must-link and cannot-link labels contradict each other.
    """
    must = _label_pairs(must_link, keys) if must_link is not None else None
    cannot = _label_pairs(cannot_link, keys) if cannot_link is not None else None
    edges = _match_edges(scored_pairs, threshold, must, cannot)
    if cannot is not None:
        edges = edges.localCheckpoint()  # read again to split components
    components = connected_components(edges, keys.select(F.col(KEY).alias("id")))
    if cannot is not None:
        components = _split_cannot_links(components, edges, cannot)
    clusters = _cluster_ids(components)
    if with_confidence:
        clusters = match_confidence(clusters, scored_pairs, must_link=must, cannot_link=cannot)
    return clusters


def _match_edges(scored: DataFrame, threshold: float, must: DataFrame | None, cannot: DataFrame | None) -> DataFrame:
    """``(id_l, id_r, weight)``: matching pairs without cannot-links, plus must-links at weight 2."""
    matching = scored.where(F.col("match_probability") >= F.lit(threshold))
    edges = _ordered_pairs(matching, F.col("match_probability").cast("double").alias("weight"))
    for labels in (must, cannot):
        if labels is not None:
            edges = edges.join(F.broadcast(labels), ["id_l", "id_r"], "left_anti")
    if must is not None:
        edges = edges.unionByName(must.withColumn("weight", F.lit(MUST_LINK_WEIGHT)))
    return edges


def _split_cannot_links(components: DataFrame, edges: DataFrame, cannot: DataFrame) -> DataFrame:
    """``components`` with each component that holds a cannot-link pair re-clustered (module rules).

    Raises:
        TransformError: a cannot-link pair is joined by must-link pairs alone.
    """
    left = components.select(F.col("id").alias("id_l"), F.col("component").alias("c_l"))
    right = components.select(F.col("id").alias("id_r"), F.col("component").alias("c_r"))
    broken = cannot.join(left, "id_l").join(right, "id_r").where(F.col("c_l") == F.col("c_r"))
    broken = broken.select(F.col("c_l").alias("component"), "id_l", "id_r").localCheckpoint()
    if broken.isEmpty():
        return components
    members = components.join(broken.select("component").distinct(), "component")
    inside = edges.join(members.select(F.col("id").alias("id_l"), "component"), "id_l")
    id_type = components.schema["id"].dataType
    schema = T.StructType(
        [T.StructField("id", id_type), T.StructField("part", id_type), T.StructField("clash", T.BooleanType())]
    )
    parts = (
        inside.select("component", "id_l", "id_r", "weight")
        .groupBy("component")
        .cogroup(broken.groupBy("component"))
        .applyInPandas(_constrained_single_linkage, schema)
        .localCheckpoint()
    )
    clashes = parts.where(F.col("clash")).orderBy("id", "part").limit(5).collect()
    if clashes:
        shown = ", ".join(f"({r['id']}, {r['part']})" for r in clashes)
        raise TransformError(
            f"FindMatches: the labels contradict each other: the records {shown} are labelled as different "
            "entities but are linked by pairs labelled as matches; fix the labels (see export-labels)"
        )
    joined = components.join(parts.select("id", "part"), "id", "left")
    return joined.select("id", F.coalesce("part", "component").alias("component"))


def _constrained_single_linkage(edges: pd.DataFrame, cannot: pd.DataFrame) -> pd.DataFrame:
    """One component's ``(id, part, clash=False)``: edges added strongest first, skipping any that
    would join a cannot-link pair; ``part`` is the smallest id of the resulting group.

    A must-link edge that has to be skipped means the labels contradict each other: that
    cannot-link pair comes back as ``(id_l, id_r, clash=True)``.
    """
    order = edges.sort_values(["weight", "id_l", "id_r"], ascending=[False, True, True], kind="stable")
    parent: dict = {}

    def find(x: object) -> object:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent.get(x, x)
        return root

    partners: dict = {}  # vertex -> the vertices it may not match
    for a, b in zip(cannot["id_l"], cannot["id_r"], strict=True):
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    forbidden = {v: set(p) for v, p in partners.items()}  # group root -> what its members may not match
    clashes = []
    for a, b, weight in zip(order["id_l"], order["id_r"], order["weight"], strict=True):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        fa, fb = forbidden.get(ra, set()), forbidden.get(rb, set())
        (fewer, own), other = ((fa, ra), rb) if len(fa) <= len(fb) else ((fb, rb), ra)
        blocked = next((x for x in fewer if find(x) == other), None)
        if blocked is not None:
            if weight >= MUST_LINK_WEIGHT:
                mate = next(y for y in partners[blocked] if find(y) == own)
                clashes.append((min(blocked, mate), max(blocked, mate)))
            continue
        parent[rb] = ra
        if fb:
            forbidden[ra] = fa | forbidden.pop(rb)
    ids = pd.unique(pd.concat([edges["id_l"], edges["id_r"]], ignore_index=True))
    groups = pd.DataFrame({"id": ids, "root": [find(x) for x in ids]})
    groups["part"] = groups.groupby("root")["id"].transform("min")
    groups["clash"] = False
    found = pd.DataFrame(clashes, columns=["id", "part"]).assign(clash=True)
    return (
        pd.concat([groups[["id", "part", "clash"]], found], ignore_index=True)
        if clashes
        else groups[["id", "part", "clash"]]
    )


def _cluster_ids(components: DataFrame) -> DataFrame:
    """``(__fm_key, match_id)`` from ``(id, component)``: match_id numbers components by their smallest id."""
    roots = _number(components.select("component").distinct(), "component", MATCH_ID)
    clusters = components.join(roots, "component")
    return clusters.select(F.col("id").alias(KEY), F.col(MATCH_ID))


# --- confidence -----------------------------------------------------------------------------


def match_confidence(
    clusters: DataFrame,
    scored_pairs: DataFrame,
    *,
    must_link: DataFrame | None = None,
    cannot_link: DataFrame | None = None,
) -> DataFrame:
    """``clusters`` (``__fm_key``, ``match_id``, ...) plus ``match_confidence_score`` in [0, 1].

    Score of a record: ``mean(p inside its entity, else 1) * (1 - max(p to other entities, else 0))``
    over its scored pairs, where must-link pairs have p = 1 and cannot-link pairs p = 0.
    """
    pairs = _ordered_pairs(scored_pairs, F.col("match_probability").cast("double").alias("p"))
    for labels, p in ((must_link, 1.0), (cannot_link, 0.0)):
        if labels is not None:
            pairs = pairs.join(F.broadcast(labels), ["id_l", "id_r"], "left_anti")
            pairs = pairs.unionByName(labels.select("id_l", "id_r", F.lit(p).alias("p")))
    ids = clusters.select(KEY, MATCH_ID)
    pairs = pairs.join(ids.toDF("id_l", "m_l"), "id_l").join(ids.toDF("id_r", "m_r"), "id_r")
    same = F.col("m_l") == F.col("m_r")
    ends = pairs.select(
        F.explode(
            F.array(
                F.struct(F.col("id_l").alias("id"), F.col("p"), same.alias("same")),
                F.struct(F.col("id_r").alias("id"), F.col("p"), same.alias("same")),
            )
        ).alias("e")
    ).select("e.id", "e.p", "e.same")
    per_record = ends.groupBy(F.col("id").alias(KEY)).agg(
        F.avg(F.when(F.col("same"), F.col("p"))).alias("inside"),
        F.max(F.when(~F.col("same"), F.col("p"))).alias("outside"),
    )
    scored = clusters.join(per_record, KEY, "left")
    score = F.coalesce("inside", F.lit(1.0)) * (F.lit(1.0) - F.coalesce("outside", F.lit(0.0)))
    return scored.withColumn(CONFIDENCE, score.cast("double")).drop("inside", "outside")


# --- incremental ----------------------------------------------------------------------------


def extend_clusters(existing: DataFrame, new_keys: DataFrame, matched_edges: DataFrame) -> DataFrame:
    """``(__fm_key, match_id)`` for the existing and the new records (module rules, "Incremental").

    Args:
        existing: ``(__fm_key, match_id)`` of the records already clustered.
        new_keys: ``(__fm_key)`` of the new records (not among ``existing``).
        matched_edges: ``(id_l, id_r)`` matching pairs, each with at least one new record.

    Components run over the new records and the existing entities they touch only: one vertex
    per match_id, never the existing records' pairs.
    """
    key_type = existing.schema[KEY].dataType
    old = existing.select(KEY, F.col(MATCH_ID).cast("long").alias(MATCH_ID))
    pairs = matched_edges.select(F.col("id_l").cast(key_type).alias("id_l"), F.col("id_r").cast(key_type).alias("id_r"))
    pairs = _ordered_pairs(pairs).localCheckpoint()
    ends = pairs.select(F.col("id_l").alias(KEY)).union(pairs.select(F.col("id_r").alias(KEY))).distinct()
    known = ends.join(old, KEY).localCheckpoint()  # the existing records that new pairs touch
    left = known.toDF("id_l", "m_l")
    right = known.toDF("id_r", "m_r")
    tagged = pairs.join(left, "id_l", "left").join(right, "id_r", "left")
    tagged = tagged.where(F.col("m_l").isNull() | F.col("m_r").isNull())
    edges = tagged.select(
        _vertex("m_l", "id_l", key_type).alias("id_l"), _vertex("m_r", "id_r", key_type).alias("id_r")
    )
    fresh = new_keys.select(_vertex(None, KEY, key_type).alias("id"))
    touched = known.select(_vertex(MATCH_ID, KEY, key_type).alias("id")).distinct()
    components = connected_components(edges, fresh.union(touched)).localCheckpoint()

    target = components.groupBy("component").agg(F.min("id.cluster").alias("target"))
    start = old.agg(F.max(MATCH_ID)).first()[0]
    only_new = target.where(F.col("target").isNull()).select("component")
    numbered = _number(only_new, "component", "new_id", start=0 if start is None else start + 1)
    ids = target.join(numbered, "component", "left").select("component", F.coalesce("target", "new_id").alias(MATCH_ID))
    assigned = components.join(ids, "component").localCheckpoint()
    new_records = assigned.where(F.col("id.cluster").isNull()).select(F.col("id.key").alias(KEY), MATCH_ID)
    moved = assigned.where(F.col("id.cluster").isNotNull() & (F.col("id.cluster") != F.col(MATCH_ID)))
    moved = moved.select(F.col("id.cluster").alias("old_id"), F.col(MATCH_ID).alias("moved_to"))
    kept = old.join(F.broadcast(moved), old[MATCH_ID] == moved["old_id"], "left")
    kept = kept.select(KEY, F.coalesce("moved_to", MATCH_ID).alias(MATCH_ID))
    return kept.unionByName(new_records)


def _vertex(cluster: str | None, key: str, key_type: T.DataType) -> Column:
    """An incremental vertex: ``(cluster, null)`` for an existing entity, ``(null, key)`` for a new record."""
    if cluster is None:
        return F.struct(F.lit(None).cast("long").alias("cluster"), F.col(key).alias("key"))
    is_new = F.col(cluster).isNull()
    return F.struct(
        F.col(cluster).alias("cluster"),
        F.when(is_new, F.col(key)).otherwise(F.lit(None).cast(key_type)).alias("key"),
    )


__all__ = [
    "CONFIDENCE",
    "MATCH_ID",
    "assign_match_ids",
    "connected_components",
    "extend_clusters",
    "match_confidence",
]
