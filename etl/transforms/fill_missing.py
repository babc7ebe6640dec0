"""FillMissingValues: predict a column's missing values from the other columns (Glue's ML transform).

As Glue documents it, a value is missing when it is null or an empty string; the transform
trains a model on the records whose value is present, and writes a new column
``<column>_filled`` (or ``output_column``) holding the present values unchanged and the
predicted ones where the value was missing. The original column is kept.

Choices made here where Glue's docs are silent:

* The model is a Spark ML random forest with a fixed seed: a regressor for a numeric target
  (predictions rounded for integral types, cast to the target's type), a classifier on the
  StringIndexer-encoded labels for a string or boolean target (mapped back with IndexToString).
  For float/double targets NaN counts as missing too.
* Features are the other top-level columns: numbers, booleans, dates and timestamps as numbers
  (nulls and NaN replaced by their mean over the training records); strings as categories
  (``StringIndexer``, unseen values and nulls in a bucket of their own). A string column is used
  only if it has between 1 and :data:`MAX_CATEGORIES` distinct values among the training records
  and no more than half as many as there are training records (ids and free text are skipped).
  Structs (choices included), arrays, maps, binaries and numeric columns without a single
  training value are ignored.
* ``missing_values_column`` names a top-level column (back-ticks optional); nested paths are
  not supported. An existing column named like the output is replaced in place.
* A frame with nothing missing gets a plain copy and trains nothing. When something is missing,
  no training records or no usable feature column raise :class:`~etl.errors.TransformError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.feature import IndexToString, StringIndexer, StringIndexerModel, VectorAssembler
from pyspark.ml.regression import RandomForestRegressor
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import TransformError
from etl.transforms.base import Transform
from etl.transforms.paths import find_field, quote, split_path

if TYPE_CHECKING:
    from etl.frame.dynamicframe import DynamicFrame

SEED = 42
NUM_TREES = 20
MAX_DEPTH = 5
MAX_CATEGORIES = 256
_NUMERIC_FEATURE_TYPES = (T.NumericType, T.BooleanType, T.DateType, T.TimestampType)
_LABEL_TYPES = (T.StringType, T.BooleanType)


@dataclass(frozen=True)
class _Profile:
    """What one aggregate query over the frame says about the target and the candidate features."""

    missing: int
    training: int
    values: dict[str, int]  # per candidate: non-null training numbers, or distinct training strings
    means: dict[str, float]  # per numeric candidate: its mean over the training records


@dataclass(frozen=True)
class _Features:
    """Usable feature columns: numeric ones (with their training means) and categorical ones."""

    numeric: list[T.StructField]
    categorical: list[T.StructField]
    means: dict[str, float]


def fill_missing_values(df: DataFrame, missing_values_column: str, output_column: str = "") -> DataFrame:
    """``df`` plus a column with ``missing_values_column``'s missing values predicted."""
    target = _resolve_target(df.schema, missing_values_column)
    output = output_column or f"{target.name}_filled"
    value = F.col(quote(target.name))
    missing = _missing(value, target.dataType)
    candidates = [f for f in df.schema.fields if f.name not in (target.name, output)]
    profile = _profile(df, missing, candidates)
    if profile.missing == 0:
        return _with_output(df, output, value)
    if profile.training == 0:
        raise TransformError(f"FillMissingValues: column {target.name!r} has no non-missing values to train on")
    features = _choose_features(candidates, profile)
    if not features.numeric and not features.categorical:
        raise TransformError(
            f"FillMissingValues: no usable feature column to predict {target.name!r} from "
            "(need numeric, boolean, date/timestamp or low-cardinality string columns)"
        )
    names = _Names(_free_prefix(df.columns), len(features.numeric), len(features.categorical))
    work = df.select("*", *_working_columns(features, names), _label(value, missing, target.dataType, names))
    model, prediction = _fit(work.filter(~missing), target.dataType, names)
    filled = F.when(missing, prediction).otherwise(value)
    return _with_output(model.transform(work), output, filled, keep=df.columns)


def _resolve_target(schema: T.StructType, name: str) -> T.StructField:
    field = find_field(schema, name) or find_field(schema, name, case_sensitive=False)
    if field is None and "`" in name:
        parts = split_path(name)
        field = find_field(schema, parts[0]) if len(parts) == 1 else None
    if field is None:
        raise TransformError(
            f"FillMissingValues: column {name!r} not found at the top level of the frame "
            f"(columns: {', '.join(schema.fieldNames())})"
        )
    if not isinstance(field.dataType, (T.NumericType, *_LABEL_TYPES)):
        raise TransformError(
            f"FillMissingValues: column {field.name!r} is {field.dataType.simpleString()}; "
            "only numeric, string and boolean columns can be filled"
        )
    return field


def _missing(value: Column, dtype: T.DataType) -> Column:
    """Null, the empty string for strings, NaN for floating point."""
    if isinstance(dtype, T.StringType):
        return value.isNull() | (value == "")
    if isinstance(dtype, (T.FloatType, T.DoubleType)):
        return value.isNull() | F.isnan(value)
    return value.isNull()


def _as_number(value: Column, dtype: T.DataType) -> Column:
    if isinstance(dtype, T.DateType):
        return F.unix_date(value).cast("double")
    if isinstance(dtype, T.TimestampType):
        return F.unix_micros(value).cast("double")
    return value.cast("double")


def _is_numeric_feature(dtype: T.DataType) -> bool:
    return isinstance(dtype, _NUMERIC_FEATURE_TYPES)


def _profile(df: DataFrame, missing: Column, candidates: list[T.StructField]) -> _Profile:
    """One aggregate row: missing/training record counts; per numeric candidate its non-null
    training values and their mean, per string candidate its (approximate) distinct training values."""
    aggs = [F.count(F.when(missing, 1)).alias("missing"), F.count(F.when(~missing, 1)).alias("training")]
    for i, f in enumerate(candidates):
        value = F.col(quote(f.name))
        if _is_numeric_feature(f.dataType):
            raw = _as_number(value, f.dataType)
            number = F.when(~missing & ~F.isnan(raw), raw)
            aggs += [F.count(number).alias(f"c{i}"), F.avg(number).alias(f"m{i}")]
        elif isinstance(f.dataType, T.StringType):
            aggs.append(F.approx_count_distinct(F.when(~missing, value)).alias(f"c{i}"))
    row = df.agg(*aggs).collect()[0].asDict()
    return _Profile(
        missing=row["missing"],
        training=row["training"],
        values={f.name: row[f"c{i}"] for i, f in enumerate(candidates) if f"c{i}" in row},
        means={f.name: row[f"m{i}"] for i, f in enumerate(candidates) if row.get(f"m{i}") is not None},
    )


def _choose_features(candidates: list[T.StructField], profile: _Profile) -> _Features:
    numeric, categorical = [], []
    limit = min(MAX_CATEGORIES, profile.training / 2)
    for f in candidates:
        count = profile.values.get(f.name, 0)
        if _is_numeric_feature(f.dataType) and count > 0:
            numeric.append(f)
        elif isinstance(f.dataType, T.StringType) and 0 < count <= limit:
            categorical.append(f)
    return _Features(numeric, categorical, {f.name: profile.means[f.name] for f in numeric})


def _free_prefix(columns: list[str]) -> str:
    """A column-name prefix no existing column starts with, for the transform's working columns."""
    prefix = "__fill_missing_"
    while any(c.startswith(prefix) for c in columns):
        prefix = "_" + prefix
    return prefix


@dataclass(frozen=True)
class _Names:
    """The transform's working column names, all starting with a prefix no input column has."""

    prefix: str
    numeric_count: int
    categorical_count: int

    def of(self, role: str) -> str:
        return f"{self.prefix}{role}"

    @property
    def numbers(self) -> list[str]:
        return [self.of(f"n{i}") for i in range(self.numeric_count)]

    @property
    def strings(self) -> list[str]:
        return [self.of(f"s{i}") for i in range(self.categorical_count)]

    @property
    def indexes(self) -> list[str]:
        return [self.of(f"i{i}") for i in range(self.categorical_count)]


def _working_columns(features: _Features, names: _Names) -> list[Column]:
    """Numeric features as doubles, nulls and NaN replaced by the training mean; strings as they are."""
    numbers = []
    for f, name in zip(features.numeric, names.numbers, strict=True):
        number = _as_number(F.col(quote(f.name)), f.dataType)
        mean = F.lit(features.means[f.name])
        numbers.append(F.when(number.isNull() | F.isnan(number), mean).otherwise(number).alias(name))
    strings = [F.col(quote(f.name)).alias(name) for f, name in zip(features.categorical, names.strings, strict=True)]
    return numbers + strings


def _label(value: Column, missing: Column, dtype: T.DataType, names: _Names) -> Column:
    """The training label: a double to regress on, or the value as text to index and classify."""
    if isinstance(dtype, T.NumericType):
        return F.when(~missing, value.cast("double")).alias(names.of("label"))
    return F.when(~missing, value.cast("string")).alias(names.of("label_text"))


def _fit(training: DataFrame, dtype: T.DataType, names: _Names) -> tuple[PipelineModel, Column]:
    """The fitted pipeline (index strings, assemble, forest) and its prediction as a column of ``dtype``."""
    classify = not isinstance(dtype, T.NumericType)
    indexer = _fit_indexer(training, names, classify)
    stages: list[Transformer] = [indexer] if indexer is not None else []
    stages.append(VectorAssembler(inputCols=names.numbers + names.indexes, outputCol=names.of("features")))
    labelled = PipelineModel(stages).transform(training)
    max_bins = _max_bins(indexer, names.categorical_count)
    if not classify:
        forest = RandomForestRegressor(predictionCol=names.of("prediction"), **_forest_params(names, max_bins))
        predicted = F.col(names.of("prediction"))
        if isinstance(dtype, T.IntegralType):
            predicted = F.round(predicted)
        return PipelineModel([*stages, forest.fit(labelled)]), predicted.cast(dtype)
    forest = RandomForestClassifier(
        predictionCol=names.of("index"),
        rawPredictionCol=names.of("raw"),
        probabilityCol=names.of("probability"),
        **_forest_params(names, max_bins),
    )
    to_label = IndexToString(
        inputCol=names.of("index"), outputCol=names.of("prediction"), labels=indexer.labelsArray[-1]
    )
    return PipelineModel([*stages, forest.fit(labelled), to_label]), F.col(names.of("prediction")).cast(dtype)


def _fit_indexer(training: DataFrame, names: _Names, classify: bool) -> StringIndexerModel | None:
    """One StringIndexer over the string features (unseen values and nulls get their own index) and,
    to classify, the label text (last)."""
    inputs, outputs = names.strings, names.indexes
    if classify:
        inputs, outputs = [*inputs, names.of("label_text")], [*outputs, names.of("label")]
    if not inputs:
        return None
    return StringIndexer(inputCols=inputs, outputCols=outputs, handleInvalid="keep").fit(training)


def _max_bins(indexer: StringIndexerModel | None, features: int) -> int:
    """Spark's trees need ``maxBins`` >= the values of every categorical feature (its categories
    plus the bucket of unseen ones); 32 is Spark's default."""
    sizes = [len(labels) + 1 for labels in indexer.labelsArray[:features]] if indexer is not None else []
    return max([32, *sizes])


def _forest_params(names: _Names, max_bins: int) -> dict[str, object]:
    return {
        "featuresCol": names.of("features"),
        "labelCol": names.of("label"),
        "numTrees": NUM_TREES,
        "maxDepth": MAX_DEPTH,
        "maxBins": max_bins,
        "featureSubsetStrategy": "all",
        "seed": SEED,
    }


def _with_output(df: DataFrame, output: str, filled: Column, keep: list[str] | None = None) -> DataFrame:
    """``keep`` (default: all) columns of ``df`` with ``filled`` as ``output``, replacing an
    existing column of that name in place or appended at the end."""
    columns = keep if keep is not None else df.columns
    selected = [filled.alias(output) if c == output else F.col(quote(c)) for c in columns]
    if output not in columns:
        selected.append(filled.alias(output))
    return df.select(*selected)


class FillMissingValues(Transform):
    """Fills a column's missing values with machine-learned estimates (Glue's FillMissingValues)."""

    def __call__(
        self,
        frame: DynamicFrame,
        missing_values_column: str,
        output_column: str = "",
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        df = fill_missing_values(frame.toDF(), missing_values_column, output_column)
        return frame.derive(
            df,
            transformation_ctx=transformation_ctx,
            stage_threshold=stageThreshold,
            total_threshold=totalThreshold,
        )
