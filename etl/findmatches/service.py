"""The FindMatches teaching loop behind ``etl findmatches``: labeling sets, labels, training,
evaluation and runs of a stored transform over its input data.

The input is the transform's catalogued table (``InputRecordTables`` in Glue) or, for every
command, a path and format given instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.findmatches import enforced, features, labels, model, pipeline, quality
from etl.findmatches.columns import prepare, resolve_columns
from etl.findmatches.store import MLTransform, MLTransformStore

if TYPE_CHECKING:
    from etl.context import GlueContext


@dataclass(frozen=True)
class Source:
    """Where a command reads the records: a path and format, else the transform's table."""

    path: str | None = None
    format: str = "parquet"

    def read(self, glue: GlueContext, stored: MLTransform) -> DataFrame:
        if self.path:
            options = {"withHeader": True} if self.format == "csv" else {}
            return glue.create_dynamic_frame.from_options(
                "file", {"paths": [self.path]}, format=self.format, format_options=options
            ).toDF()
        if not stored.input_table:
            raise TransformError(
                f"FindMatches {stored.name}: no input table is recorded for it; pass --path (and --format)"
            )
        return glue.create_dynamic_frame.from_catalog(stored.input_database or "default", stored.input_table).toDF()


def enforced_links(
    glue: GlueContext,
    store: MLTransformStore,
    stored: MLTransform,
    key_type: T.DataType,
    enforced_matches: DataFrame | None = None,
) -> tuple[DataFrame | None, DataFrame | None]:
    """Must-link and cannot-link pairs from an ``enforcedMatches`` frame (labeling-file columns)
    and, when the transform enforces its labels, from its stored labels; ``(None, None)`` if none."""
    key = stored.parameters.primary_key_column_name
    given = [] if enforced_matches is None else enforced.frame_labels(enforced_matches, key)
    if stored.parameters.enforce_provided_labels and stored.label_count:
        given += store.labels(stored.name)
    if not given:
        return None, None
    pairs = labels.labeled_pairs(glue.spark_session, given, key_type)
    return enforced.split_links(pairs)


def _candidates(df: DataFrame, stored: MLTransform) -> tuple[DataFrame, DataFrame, list]:
    """(prepared records, compared candidate pairs, columns), both frames cached."""
    params = stored.parameters
    columns = resolve_columns(df, params)
    pipeline.check_records(df, params.primary_key_column_name)
    timer = pipeline.Timer()
    prepared = timer.run("prepare", lambda: prepare(df, params.primary_key_column_name, columns))
    compared = pipeline.score_candidates(prepared, columns, params, timer)
    return prepared, compared, columns


def labeled_features(glue: GlueContext, store: MLTransformStore, stored: MLTransform, df: DataFrame) -> DataFrame:
    """The stored labels as pairs with their comparison features: ``id_l``, ``id_r``,
    ``is_match`` and the feature columns, computed from the records as labelled.

    Raises:
        TransformError: the transform has no labels.
    """
    records = store.labels(stored.name)
    if not records:
        raise TransformError(
            f"FindMatches {stored.name}: no labels yet; generate a labeling set, label it and import it"
        )
    key = stored.parameters.primary_key_column_name
    columns = resolve_columns(df, stored.parameters)
    schema = df.schema
    spark = glue.spark_session
    wanted = [key, *[c.name for c in columns]]
    rows = [tuple(None if r.record.get(c) in (None, "") else str(r.record.get(c)) for c in wanted) for r in records]
    text = spark.createDataFrame(rows, ", ".join(f"`{c}` string" for c in wanted)).dropDuplicates([key])
    typed = text.select(*[F.col(f"`{c}`").try_cast(schema[c].dataType).alias(c) for c in wanted])
    pairs = labels.labeled_pairs(spark, records, schema[key].dataType)
    compared = features.compare(pairs.select("id_l", "id_r"), prepare(typed, key, columns), columns)
    return compared.join(pairs, ["id_l", "id_r"])


def labeling_set(
    glue: GlueContext,
    store: MLTransformStore,
    name: str,
    output: str | Path,
    *,
    source: Source,
    num_sets: int = 10,
    set_size: int = 10,
    seed: int = 0,
) -> int:
    """Write a labeling file of informative sets (Glue: StartMLLabelingSetGenerationTaskRun);
    returns the number of records in it."""
    stored = store.get_transform(name)
    df = source.read(glue, stored)
    _prepared, compared, columns = _candidates(df, stored)
    current = model.MatchModel.from_dict(stored.model) if stored.model else model.fit_unsupervised(compared, columns)
    scored = model.score(compared, current)
    sets = labels.choose_labeling_sets(
        scored.select("id_l", "id_r", "match_probability"),
        threshold=current.threshold(stored.parameters.precision_recall_tradeoff),
        num_sets=num_sets,
        set_size=set_size,
        seed=seed,
    )
    frame = labels.labeling_set_frame(sets, df, stored.parameters.primary_key_column_name)
    return labels.write_labeling_set(frame, output, stored.parameters.primary_key_column_name)


def import_labels(store: MLTransformStore, name: str, path: str | Path, *, replace: bool = False) -> int:
    """Import a labeling file (Glue: StartImportLabelsTaskRun); returns the labels stored."""
    stored = store.get_transform(name)
    # A labeling file holds every column of the data set, not only the compared ones.
    records = labels.read_label_file(path, stored.parameters.primary_key_column_name)
    return store.add_labels(name, records, replace=replace)


@dataclass(frozen=True)
class Training:
    """What :func:`train` fitted."""

    model: model.MatchModel
    labeled_pairs: int
    candidate_pairs: int


def train(glue: GlueContext, store: MLTransformStore, name: str, *, source: Source) -> Training:
    """Fit the transform's model from its labels (or without labels, unsupervised) and store it."""
    stored = store.get_transform(name)
    df = source.read(glue, stored)
    _prepared, compared, columns = _candidates(df, stored)
    if store.label_count(name):
        labelled = labeled_features(glue, store, stored, df)
        fitted = model.fit(compared, labelled, columns)
        n_labelled = labelled.count()
    else:
        fitted = model.fit_unsupervised(compared, columns)
        n_labelled = 0
    store.save_model(name, fitted.to_dict())
    return Training(fitted, n_labelled, compared.count())


def evaluate(
    glue: GlueContext, store: MLTransformStore, name: str, *, source: Source, folds: int = 5, seed: int = 0
) -> quality.QualityReport:
    """Estimate the transform's quality from its labels by cross-validation and store the metrics
    (Glue: StartMLEvaluationTaskRun)."""
    stored = store.get_transform(name)
    df = source.read(glue, stored)
    _prepared, compared, columns = _candidates(df, stored)
    labelled = labeled_features(glue, store, stored, df)
    report = quality.cross_validate(
        compared, labelled, columns, stored.parameters.precision_recall_tradeoff, folds=folds, seed=seed
    )
    store.save_metrics(name, report.to_glue())
    return report


def run(
    glue: GlueContext,
    store: MLTransformStore,
    name: str,
    *,
    source: Source,
    with_confidence: bool = False,
) -> pipeline.MatchRun:
    """Run the stored transform over its input (the FindMatches transform, from the CLI)."""
    stored = store.get_transform(name)
    df = source.read(glue, stored)
    trained = model.MatchModel.from_dict(stored.model) if stored.model else None
    key_type = df.schema[stored.parameters.primary_key_column_name].dataType
    must, cannot = enforced_links(glue, store, stored, key_type)
    return pipeline.find_matches(
        df, stored.parameters, trained, must_link=must, cannot_link=cannot, with_confidence=with_confidence
    )
