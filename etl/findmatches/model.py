"""The match model: Fellegi-Sunter weights fitted by EM, anchored by labelled pairs when there are any.

Each compared column contributes a log Bayes factor ``w = ln(m / u)`` for the pair's comparison
level (:func:`etl.findmatches.features.levels`), where ``m`` is the level's probability among
matches and ``u`` among non-matches; a null level ("no information") contributes 0. The match
log-odds of a pair is ``ln(prior / (1 - prior)) + sum of its columns' w`` and its
``match_probability`` the logistic of that, computed by :func:`score` as native Spark expressions
(one ``CASE`` per column, no UDF).

- :func:`fit_unsupervised`: ``m``, ``u`` and the share of matches among the candidate pairs by EM over
  the counts of distinct level patterns (one Spark ``groupBy``; EM runs in numpy on that table of a
  few thousand rows at most). Its quality is unestimated.
- :func:`fit`: the same EM, semi-supervised: every labelled pair keeps its label as its posterior
  (1 or 0) while the unlabelled candidate pairs are re-estimated around them, so labels tie EM's
  "match" class to real matches and settle the patterns they cover; the many unlabelled pairs keep
  the estimate representative of all candidate pairs.

Why this design (measured on Febrl3 deduplication while writing it, 100 labelled records in 8 sets
around the most uncertain pairs):

- u from random record pairs (Splink's way) assumes candidate non-matches look like random pairs;
  blocking makes them far more similar, and with five of the ten columns EM then called 86% of the
  candidates matches (F1 0.21) where EM with free u reached 0.99.
- a logistic regression on the ~500 labelled pairs (Spark ML binomial GLM, L2, the EM weights as
  offset and features) over-fitted the uncertain pairs that labelling sets are built around: F1 fell
  from 0.9992 to 0.991-0.9975 depending on the penalty.
- the semi-supervised EM matched the unsupervised model within one pair (F1 0.9992 with exact-key
  blocking, 0.9975 and 0.9995 with LSH blocking at accuracy_cost_tradeoff 0.5 and 1), which is
  already at the blocking recall's ceiling there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.findmatches.columns import ResolvedColumn
from etl.findmatches.features import NULL_LEVEL, col, has_features, level_count, level_name, levels

FELLEGI_SUNTER = "fellegi_sunter"
SUPERVISED = "supervised"
PROBABILITY = "match_probability"
UNLABELLED = -1  # pattern label of unlabelled pairs (1: labelled match, 0: labelled non-match)

#: ``threshold(t)`` moves the balanced threshold by ``(1 - 2t) * THRESHOLD_SPREAD`` in log-odds:
#: ln 99, so around a balanced 0.5, t = 0 asks for probability >= 0.99 and t = 1 for >= 0.01.
THRESHOLD_SPREAD = math.log(99.0)
MAX_WEIGHT = 20.0  # |ln(m/u)| cap: a level seen in one class only must not dominate every other column
_TINY = 1e-300  # floor inside logarithms


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@dataclass
class MatchModel:
    """A fitted match model (JSON-serializable with :meth:`to_dict` / :meth:`from_dict`).

    Attributes:
        kind: ``fellegi_sunter`` (no labels) or ``supervised`` (EM anchored by labels).
        columns: the compared columns and their kinds.
        m: per column, the probability of each level ``0 .. n-1`` among matches.
        u: per column, the same among non-matches.
        prior: the share of matches among the pairs EM saw (the candidate pairs).
        balanced_threshold: the probability threshold at ``precision_recall_tradeoff`` 0.5.
        labelled_pairs: labelled pairs the model was fitted with (0: its quality is unestimated).
        labelled_matches: how many of them are matches.
        em_iterations: EM iterations run; ``em_converged``: whether EM met its tolerance.
        notes: what a user should know about the fit.
    """

    kind: str
    columns: list[ResolvedColumn]
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    balanced_threshold: float = 0.5
    labelled_pairs: int = 0
    labelled_matches: int = 0
    em_iterations: int = 0
    em_converged: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def quality_estimated(self) -> bool:
        """Whether labels back this model; an unsupervised model's quality is unestimated."""
        return self.kind == SUPERVISED and self.labelled_pairs > 0

    @property
    def intercept(self) -> float:
        """The log-odds of a pair whose columns carry no information: ``logit(prior)``."""
        return _logit(self.prior)

    def weights(self, column: str) -> list[float]:
        """The log Bayes factor ``ln(m / u)`` of each level of a column, within +-:data:`MAX_WEIGHT`;
        0 for a level EM never saw (m and u both 0)."""
        out = []
        for m, u in zip(self.m[column], self.u[column], strict=True):
            weight = 0.0 if m <= 0.0 and u <= 0.0 else math.log(max(m, _TINY) / max(u, _TINY))
            out.append(min(max(weight, -MAX_WEIGHT), MAX_WEIGHT))
        return out

    def column_importance(self) -> dict[str, float]:
        """Each column's share of the model's discriminating power: the spread of its weights (best
        level minus worst), normalized to sum to 1."""
        spread = {c.name: max(w) - min(w) for c in self.columns if (w := self.weights(c.name))}
        total = sum(spread.values())
        return {name: (value / total if total > 0 else 0.0) for name, value in spread.items()}

    def threshold(self, precision_recall_tradeoff: float = 0.5) -> float:
        """The match-probability threshold for Glue's tradeoff in [0, 1] (0 favours precision, 1 recall).

        ``sigmoid(logit(balanced_threshold) + (1 - 2 * tradeoff) * ln 99)``: strictly decreasing in the
        tradeoff; 0.99 at 0, :attr:`balanced_threshold` (0.5) at 0.5, 0.01 at 1.

        Raises:
            TransformError: the tradeoff is outside [0, 1].
        """
        if not 0.0 <= precision_recall_tradeoff <= 1.0:
            raise TransformError(
                f"FindMatches: precision_recall_tradeoff must be in [0, 1], got {precision_recall_tradeoff}"
            )
        shift = (1.0 - 2.0 * precision_recall_tradeoff) * THRESHOLD_SPREAD
        return _sigmoid(_logit(self.balanced_threshold) + shift)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict."""
        out = asdict(self)
        out["columns"] = [{"name": c.name, "kind": c.kind} for c in self.columns]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchModel:
        """The model :meth:`to_dict` described.

        Raises:
            TransformError: the dict is not a stored match model.
        """
        try:
            values = dict(data)
            values["columns"] = [ResolvedColumn(c["name"], c["kind"]) for c in data["columns"]]
            model = cls(**values)
        except (KeyError, TypeError) as exc:
            raise TransformError(f"FindMatches: not a stored match model ({exc})") from exc
        for column in model.columns:
            expected = level_count(column.kind)
            if len(model.m.get(column.name, ())) != expected or len(model.u.get(column.name, ())) != expected:
                raise TransformError(
                    f"FindMatches: stored match model has no {expected} m/u levels for column {column.name!r}"
                )
        return model


# ---------------------------------------------------------------------------------------------- EM


@dataclass
class EmResult:
    """Fellegi-Sunter parameters found by :func:`em` (one array per column, indexed by level)."""

    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float
    iterations: int
    converged: bool


def _log_likelihoods(patterns: np.ndarray, probs: Sequence[np.ndarray]) -> np.ndarray:
    """Per pattern, the sum over columns of ``ln probs[column][level]``; null levels add 0."""
    total = np.zeros(patterns.shape[0])
    for k, p in enumerate(probs):
        level = patterns[:, k]
        known = level != NULL_LEVEL
        total[known] += np.log(np.maximum(p[level[known]], _TINY))
    return total


def _level_shares(patterns: np.ndarray, weights: np.ndarray, n_levels: Sequence[int]) -> list[np.ndarray]:
    """Per column, each level's share of the weight of the patterns where that column is not null."""
    out = []
    for k, n in enumerate(n_levels):
        level = patterns[:, k]
        known = level != NULL_LEVEL
        sums = np.bincount(level[known], weights=weights[known], minlength=n).astype(float)
        total = sums.sum()
        out.append(sums / total if total > 0 else np.full(n, 1.0 / n))
    return out


def _initial_m(n_levels: Sequence[int]) -> list[np.ndarray]:
    """Matches mostly agree: each level twice as likely as the one below."""
    return [2.0 ** np.arange(n) / (2.0**n - 1.0) for n in n_levels]


def em(
    patterns: np.ndarray,
    counts: np.ndarray,
    n_levels: Sequence[int],
    *,
    labels: np.ndarray | None = None,
    prior: float = 0.1,
    max_iterations: int = 500,
    tolerance: float = 1e-7,
) -> EmResult:
    """Expectation-maximization of a two-class Fellegi-Sunter model on level-pattern counts.

    Args:
        patterns: one row of levels per distinct pattern (``-1`` for null), one column per compared column.
        counts: how many pairs have each pattern.
        n_levels: non-null levels per column.
        labels: per pattern 1 (labelled matches), 0 (labelled non-matches) or -1 (unlabelled):
            labelled patterns keep their label as posterior.
        prior: the starting share of matches; ``u`` starts at the level shares over all pairs (most
            candidate pairs are non-matches) and ``m`` favours the higher levels.
    """
    patterns = np.asarray(patterns, dtype=np.int64).reshape(len(counts), len(n_levels))
    counts = np.asarray(counts, dtype=float)
    labelled = np.zeros(len(counts), dtype=bool) if labels is None else np.asarray(labels) != UNLABELLED
    label_values = np.zeros(len(counts)) if labels is None else np.asarray(labels, dtype=float)
    m_probs = _initial_m(n_levels)
    u_probs = _level_shares(patterns, counts, n_levels)
    prior = min(max(prior, 1e-6), 1.0 - 1e-6)
    converged = False
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        log_m = _log_likelihoods(patterns, m_probs) + math.log(prior)
        log_u = _log_likelihoods(patterns, u_probs) + math.log(1.0 - prior)
        posterior = 1.0 / (1.0 + np.exp(np.clip(log_u - log_m, -700.0, 700.0)))
        posterior = np.where(labelled, label_values, posterior)
        matched = counts * posterior
        new_prior = min(max(float(matched.sum() / counts.sum()), 1e-9), 1.0 - 1e-9)
        new_m = _level_shares(patterns, matched, n_levels)
        new_u = _level_shares(patterns, counts - matched, n_levels)
        change = max(
            [abs(new_prior - prior)]
            + [float(np.max(np.abs(a - b))) for a, b in zip(new_m + new_u, m_probs + u_probs, strict=True)]
        )
        m_probs, u_probs, prior = new_m, new_u, new_prior
        if change < tolerance:
            converged = True
            break
    return EmResult(m_probs, u_probs, prior, iterations, converged)


# ------------------------------------------------------------------------------------------ fitting

_LABEL = "__fm_label"
_LABELLED_IDS = "__fm_labelled_ids"


def _with_levels(features: DataFrame, columns: Sequence[ResolvedColumn]) -> DataFrame:
    if all(level_name(c.name) in features.columns for c in columns):
        return features
    return levels(features, columns)


def pattern_counts(
    features: DataFrame, columns: Sequence[ResolvedColumn], labels: DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, set[tuple[Any, Any]]]:
    """The distinct level patterns of the pairs, how many pairs have each, and their label.

    One Spark ``groupBy`` (the labels, when given, are a broadcast join onto the pairs); its result
    has at most the product of the level counts rows, a few thousand in practice, and is collected.

    Args:
        labels: small ``id_l, id_r`` plus an int ``__fm_label`` (1 match, 0 non-match).

    Returns:
        patterns, counts, labels per pattern (-1 unlabelled), and the labelled pairs found.
    """
    names = [level_name(c.name) for c in columns]
    data = _with_levels(features, columns)
    aggregates = [F.count(F.lit(1)).alias("count")]
    if labels is None:
        label = F.lit(UNLABELLED)
    else:
        data = data.drop(_LABEL).join(F.broadcast(labels), ["id_l", "id_r"], "left")
        label = F.coalesce(col(_LABEL), F.lit(UNLABELLED))
        found = F.when(col(_LABEL).isNotNull(), F.struct("id_l", "id_r"))
        aggregates.append(F.collect_list(found).alias(_LABELLED_IDS))
    rows = data.groupBy(*[col(n) for n in names], label.alias(_LABEL)).agg(*aggregates).collect()
    patterns = np.array([[row[i] for i in range(len(names))] for row in rows], dtype=np.int64)
    counts = np.array([row["count"] for row in rows], dtype=float)
    pattern_labels = np.array([row[_LABEL] for row in rows], dtype=np.int64)
    seen = {(p[0], p[1]) for row in rows for p in (row[_LABELLED_IDS] if labels is not None else ())}
    return patterns.reshape(len(rows), len(names)), counts, pattern_labels, seen


def _model(kind: str, columns: list[ResolvedColumn], result: EmResult, notes: list[str], **extra: Any) -> MatchModel:
    if not result.converged:
        notes.append(f"EM did not converge in {result.iterations} iterations")
    return MatchModel(
        kind=kind,
        columns=columns,
        m={c.name: result.m[k].tolist() for k, c in enumerate(columns)},
        u={c.name: result.u[k].tolist() for k, c in enumerate(columns)},
        prior=float(result.prior),
        em_iterations=result.iterations,
        em_converged=result.converged,
        notes=notes,
        **extra,
    )


def fit_unsupervised(
    features: DataFrame, columns: Sequence[ResolvedColumn], *, max_iterations: int = 500
) -> MatchModel:
    """A Fellegi-Sunter model fitted by EM on the candidate pairs' level patterns, with no labels.

    Args:
        features: :func:`etl.findmatches.features.compare` of the candidate pairs (levels are added
            unless present).
        columns: the compared columns.

    Raises:
        TransformError: there are no candidate pairs to learn from.
    """
    columns = list(columns)
    patterns, counts, _, _ = pattern_counts(features, columns)
    if counts.sum() == 0:
        raise TransformError("FindMatches: no candidate pairs to fit the match model on (too few records?)")
    result = em(patterns, counts, [level_count(c.kind) for c in columns], max_iterations=max_iterations)
    notes = ["quality unestimated: no labels (unsupervised Fellegi-Sunter model fitted by EM)"]
    return _model(FELLEGI_SUNTER, columns, result, notes)


def _collect_labels(
    labeled_pairs: DataFrame, columns: Sequence[ResolvedColumn]
) -> tuple[dict[tuple[Any, Any], int], dict[tuple[Any, Any], list[int]]]:
    """The labelled pairs (a label file's worth: small) as ``{(id_l, id_r): label}`` and, when they
    carry comparison features, ``{(id_l, id_r): levels}``; the first label of a repeated pair wins."""
    for name in ("id_l", "id_r", "is_match"):
        if name not in labeled_pairs.columns:
            raise TransformError(
                f"FindMatches: labelled pairs need a column {name!r} (columns: {', '.join(labeled_pairs.columns)})"
            )
    names = [level_name(c.name) for c in columns]
    with_levels = has_features(labeled_pairs, columns) or all(n in labeled_pairs.columns for n in names)
    source = _with_levels(labeled_pairs, columns) if with_levels else labeled_pairs
    picked = ["id_l", "id_r", F.col("is_match").cast("boolean").cast("int").alias(_LABEL)]
    picked += [col(n) for n in names] if with_levels else []
    labels: dict[tuple[Any, Any], int] = {}
    patterns: dict[tuple[Any, Any], list[int]] = {}
    for row in source.where(F.col("is_match").isNotNull()).select(*picked).collect():
        pair = (row["id_l"], row["id_r"])
        if pair in labels:
            continue
        labels[pair] = row[_LABEL]
        if with_levels:
            patterns[pair] = [row[n] for n in names]
    return labels, patterns


def fit(
    features: DataFrame,
    labeled_pairs: DataFrame,
    columns: Sequence[ResolvedColumn],
    *,
    max_iterations: int = 500,
) -> MatchModel:
    """A Fellegi-Sunter model fitted by EM on the candidate pairs with the labelled pairs' posteriors
    fixed to their labels (semi-supervised EM).

    Args:
        features: :func:`etl.findmatches.features.compare` of the candidate pairs.
        labeled_pairs: ``id_l, id_r, is_match`` (a few hundred or thousand rows: they are collected).
            With the feature columns too (``compare`` of the labelled pairs), every labelled pair
            counts, candidate or not; without them only the labelled pairs among ``features`` do.
            Pairs with a null label are ignored.
        columns: the compared columns.

    Raises:
        TransformError: no labelled pair can be compared, or the labelled pairs lack a column.
    """
    columns = list(columns)
    labels, own_patterns = _collect_labels(labeled_pairs, columns)
    schema = T.StructType(
        [
            T.StructField("id_l", labeled_pairs.schema["id_l"].dataType),
            T.StructField("id_r", labeled_pairs.schema["id_r"].dataType),
            T.StructField(_LABEL, T.IntegerType()),
        ]
    )
    spark = labeled_pairs.sparkSession
    label_frame = spark.createDataFrame([(a, b, label) for (a, b), label in labels.items()], schema)
    patterns, counts, pattern_labels, found = pattern_counts(features, columns, label_frame)
    # labelled pairs blocking did not produce count with their own features
    extra = [pair for pair in own_patterns if pair not in found]
    if extra:
        patterns = np.vstack([patterns, np.array([own_patterns[p] for p in extra], dtype=np.int64)])
        counts = np.r_[counts, np.ones(len(extra))]
        pattern_labels = np.r_[pattern_labels, np.array([labels[p] for p in extra], dtype=np.int64)]
    n_labelled = int(counts[pattern_labels != UNLABELLED].sum())
    n_matches = int(counts[pattern_labels == 1].sum())
    if n_labelled == 0:
        raise TransformError(
            f"FindMatches: none of the {len(labels)} labelled pairs could be compared (none is a candidate pair "
            "and they carry no comparison features); pass compare(labelled pairs) joined to the labels"
        )
    if counts.sum() == 0:
        raise TransformError("FindMatches: no candidate pairs to fit the match model on (too few records?)")
    result = em(
        patterns, counts, [level_count(c.kind) for c in columns], labels=pattern_labels, max_iterations=max_iterations
    )
    notes = [f"EM anchored by {n_labelled} labelled pairs ({n_matches} matches)"]
    return _model(SUPERVISED, columns, result, notes, labelled_pairs=n_labelled, labelled_matches=n_matches)


# ------------------------------------------------------------------------------------------ scoring


def weight_expr(model: MatchModel, column: ResolvedColumn) -> Column:
    """A column's log Bayes factor for the pair's level: ``CASE level WHEN 0 THEN w0 ... ELSE 0 END``."""
    level = col(level_name(column.name))
    weights = model.weights(column.name)
    expr = F.when(level == 0, F.lit(weights[0]))
    for value, weight in enumerate(weights[1:], start=1):
        expr = expr.when(level == value, F.lit(weight))
    return expr.otherwise(F.lit(0.0))


def logit_expr(model: MatchModel) -> Column:
    """The match log-odds: the prior's plus every column's weight."""
    total: Column = F.lit(model.intercept)
    for column in model.columns:
        total = total + weight_expr(model, column)
    return total


def score(features: DataFrame, model: MatchModel) -> DataFrame:
    """``features`` plus their ``<column>__level`` columns (unless present) and ``match_probability``
    in [0, 1]: the logistic of :func:`logit_expr`, all native Spark expressions.

    Raises:
        TransformError: a compared column's features are missing.
    """
    if not has_features(features, model.columns) and not all(
        level_name(c.name) in features.columns for c in model.columns
    ):
        raise TransformError(
            f"FindMatches: the pairs lack comparison features for the model's columns "
            f"({', '.join(c.name for c in model.columns)}); compare them with those columns"
        )
    with_levels = _with_levels(features, model.columns)
    probability = F.lit(1.0) / (F.lit(1.0) + F.exp(-logit_expr(model)))
    return with_levels.select("*", probability.alias(PROBABILITY))
