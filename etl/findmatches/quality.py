"""Quality estimates of a FindMatches model from its labels (Glue: FindMatchesMetrics).

K-fold cross-validation over the labelled pairs: each fold's pairs are scored by a model taught
from the other folds, and the pooled held-out predictions give precision, recall, F1, the area
under the precision-recall curve and the confusion matrix at the transform's threshold. Column
importances come from the model taught from every label. The labelled pairs are a few hundred
rows, so the held-out scores are collected and the metrics computed with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from etl.errors import TransformError
from etl.findmatches import model
from etl.findmatches.columns import ResolvedColumn

FOLD = "__fm_fold"


@dataclass(frozen=True)
class QualityReport:
    """Cross-validated quality of a model at its threshold."""

    precision: float
    recall: float
    f1: float
    area_under_pr_curve: float
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int
    column_importance: dict[str, float]
    labeled_pairs: int
    folds: int
    threshold: float

    def to_glue(self) -> dict[str, Any]:
        """Glue's FindMatchesMetrics shape (plus the fold count and labelled pairs used)."""
        return {
            "AreaUnderPRCurve": self.area_under_pr_curve,
            "Precision": self.precision,
            "Recall": self.recall,
            "F1": self.f1,
            "ConfusionMatrix": {
                "NumTruePositives": self.true_positives,
                "NumFalsePositives": self.false_positives,
                "NumTrueNegatives": self.true_negatives,
                "NumFalseNegatives": self.false_negatives,
            },
            "ColumnImportances": [
                {"ColumnName": name, "Importance": value}
                for name, value in sorted(self.column_importance.items(), key=lambda kv: -kv[1])
            ],
            "LabeledPairs": self.labeled_pairs,
            "Folds": self.folds,
            "Threshold": self.threshold,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision: the sum over score thresholds
    of (recall gained) x (precision there); tied scores form one threshold."""
    positives = int(truth.sum())
    if positives == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_truth = scores[order], truth[order]
    ends = np.r_[np.nonzero(np.diff(ranked_scores))[0], len(ranked_scores) - 1]  # last index of each tie
    true_positives = np.cumsum(ranked_truth)[ends]
    precision = true_positives / (ends + 1)
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def confusion(scores: np.ndarray, truth: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """``(tp, fp, tn, fn)`` of ``score >= threshold`` against the labels."""
    predicted = scores >= threshold
    tp = int((predicted & truth).sum())
    fp = int((predicted & ~truth).sum())
    tn = int((~predicted & ~truth).sum())
    fn = int((~predicted & truth).sum())
    return tp, fp, tn, fn


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def cross_validate(
    candidates: DataFrame,
    labelled: DataFrame,
    columns: Sequence[ResolvedColumn],
    precision_recall_tradeoff: float,
    *,
    folds: int = 5,
    seed: int = 0,
) -> QualityReport:
    """Cross-validated quality of :func:`etl.findmatches.model.fit` on these labels.

    Args:
        candidates: compared candidate pairs (the unlabelled data the model's EM step uses).
        labelled: ``id_l``, ``id_r``, ``is_match`` and the comparison features.
        folds: at most this many folds; fewer when a class has fewer labelled pairs.

    Raises:
        TransformError: fewer than two matching or two non-matching labelled pairs.
    """
    counts = labelled.agg(F.count_if(F.col("is_match")), F.count_if(~F.col("is_match"))).first()
    assert counts is not None
    matches, non_matches = int(counts[0]), int(counts[1])
    k = min(folds, matches, non_matches)
    if k < 2:
        raise TransformError(
            f"FindMatches: estimating quality needs at least 2 matching and 2 non-matching labelled pairs; "
            f"the labels give {matches} matching and {non_matches} non-matching"
        )
    # Stratified folds: matches and non-matches are each dealt round-robin in hash order.
    order = F.xxhash64("id_l", "id_r", F.lit(seed))
    rank = F.row_number().over(Window.partitionBy("is_match").orderBy(order))
    folded = labelled.withColumn(FOLD, F.pmod(rank, F.lit(k))).cache()
    scores: list[float] = []
    truth: list[bool] = []
    for fold in range(k):
        fitted = model.fit(candidates, folded.where(F.col(FOLD) != fold).drop(FOLD), columns)
        held_out = model.score(folded.where(F.col(FOLD) == fold).drop(FOLD), fitted)
        for row in held_out.select("match_probability", "is_match").collect():
            scores.append(float(row[0]))
            truth.append(bool(row[1]))
    folded.unpersist()
    full = model.fit(candidates, labelled, columns)
    threshold = full.threshold(precision_recall_tradeoff)
    score_array, truth_array = np.array(scores), np.array(truth, dtype=bool)
    tp, fp, tn, fn = confusion(score_array, truth_array, threshold)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return QualityReport(
        precision=precision,
        recall=recall,
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        area_under_pr_curve=average_precision(score_array, truth_array),
        true_positives=tp,
        false_positives=fp,
        true_negatives=tn,
        false_negatives=fn,
        column_importance=full.column_importance(),
        labeled_pairs=matches + non_matches,
        folds=k,
        threshold=threshold,
    )
