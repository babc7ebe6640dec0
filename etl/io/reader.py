"""Read files into Spark the way Glue's ``from_options`` does.

Path planning (partition pruning, exclusions, recursion) happens before Spark is involved.
CSV and JSON lines are parsed from text with ``from_csv``/``from_json`` so a malformed line
becomes an error record carrying the file and the raw line, instead of a silent null row or a
crashed job. Multi-line JSON goes the same way, one record per document (or per element of a
top-level array), so its type conflicts become choices and a malformed file becomes an error
record naming it. Columnar formats go straight to Spark's readers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import DataSourceError
from etl.frame.records import error_frame
from etl.io import listing
from etl.io.choices import Conflict, csv_choices, infer_json_lines, split_choices
from etl.io.formats import LINE_FORMATS, ReadOptions, canonical_format, read_options
from etl.io.pruning import partition_schema, prune
from etl.jobs import bookmarks

CORRUPT = "_corrupt_record"


@dataclass
class ReadPlan:
    """Which paths Spark is given, and what planning decided on the way."""

    inputs: list[str]
    base_path: str | None = None
    recursive_lookup: bool = False
    partitions_total: int | None = None
    partitions_selected: int | None = None
    empty: bool = False  # the predicate matched no partition
    # Partition columns whose values come from the catalog, not folder names: name -> (value, type).
    constants: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    # DDL of the data columns to read with (the catalog's, for columnar formats), else inferred.
    schema: str | None = None
    # Pruned reads: partition key -> type inferred over every partition folder, not only those read.
    partition_types: dict[str, str] = field(default_factory=dict)


@dataclass
class ReadResult:
    frame: DataFrame
    errors: DataFrame | None
    plans: list[ReadPlan] = field(default_factory=list)


def plan_path(
    spark: SparkSession,
    path: str,
    *,
    recurse: bool = False,
    exclusions: Sequence[str] | None = None,
    push_down_predicate: str | None = None,
) -> ReadPlan:
    """Decide what Spark reads for one user path."""
    loc = listing.locate(path)
    if push_down_predicate:
        partitions = listing.partition_dirs(loc)
        if not partitions:
            raise DataSourceError(f"push_down_predicate given but {path} has no key=value partition folders")
        kept = prune(spark, partitions, push_down_predicate)
        plan = ReadPlan(
            inputs=[loc.spark_path(p.path) for p in kept] or [loc.spark_path(partitions[0].path)],
            base_path=path,
            partitions_total=len(partitions),
            partitions_selected=len(kept),
            empty=not kept,
            partition_types={f.name: f.dataType.simpleString() for f in partition_schema(partitions).fields},
        )
        if exclusions:
            files = _files_under(loc, plan.inputs, exclusions)
            if not files and not plan.empty:
                raise DataSourceError(
                    f"no files left under {path} after exclusions {list(exclusions)} "
                    f"in the partitions matching {push_down_predicate!r}"
                )
            plan.inputs = files or plan.inputs  # no match: inputs only give the schema
        return plan
    if exclusions:
        files = listing.data_files(loc, recurse=True, exclusions=list(exclusions))
        if not files:
            raise DataSourceError(f"no files left under {path} after exclusions {list(exclusions)}")
        return ReadPlan(inputs=[loc.spark_path(f.path) for f in files], base_path=path)
    info = loc.fs.get_file_info(loc.root)
    if info.type == listing.pafs.FileType.NotFound:
        raise DataSourceError(f"path not found: {path}")
    recursive = recurse and info.type == listing.pafs.FileType.Directory and not listing.partition_dirs(loc)
    return ReadPlan(inputs=[path], recursive_lookup=recursive)


def _files_under(loc: listing.Location, dirs: list[str], exclusions: Sequence[str]) -> list[str]:
    out = []
    for directory in dirs:
        sub = listing.locate(directory)
        for f in listing.data_files(sub, recurse=True, exclusions=None):
            relative = f.path[len(loc.root) :].lstrip("/")
            if not any(listing._glob_regex(p).fullmatch(relative) for p in exclusions):
                out.append(loc.spark_path(f.path))
    return out


def read(
    spark: SparkSession,
    paths: Sequence[str],
    format: str,
    format_options: Mapping[str, Any] | None = None,
    *,
    recurse: bool = False,
    exclusions: Sequence[str] | None = None,
    push_down_predicate: str | None = None,
    transformation_ctx: str = "",
    spark_options: Mapping[str, str] | None = None,
) -> ReadResult:
    """Read ``paths`` as ``format``; see the module docstring.

    Raises:
        DataSourceError: a path is missing, the format or an option is invalid, or (with
            ``isFailFast``) a record is malformed.
    """
    if not paths:
        raise DataSourceError("connection_options needs 'paths' (a list) or 'path'")
    plans = [
        plan_path(spark, path, recurse=recurse, exclusions=exclusions, push_down_predicate=push_down_predicate)
        for path in paths
    ]
    return read_plans(
        spark, plans, format, format_options, transformation_ctx=transformation_ctx, spark_options=spark_options
    )


def read_plans(
    spark: SparkSession,
    plans: Sequence[ReadPlan],
    format: str,
    format_options: Mapping[str, Any] | None = None,
    *,
    transformation_ctx: str = "",
    spark_options: Mapping[str, str] | None = None,
) -> ReadResult:
    """Read planned inputs (from :func:`plan_path` or the catalog) into one result."""
    fmt = canonical_format(format)
    opts = read_options(fmt, format_options)
    opts.spark.update(spark_options or {})
    plans = bookmarks.filter_plans(plans, fmt, transformation_ctx)  # the active job's bookmark: unread files only
    frames: list[DataFrame] = []
    errors: list[DataFrame] = []
    for plan in plans:
        try:
            frame, errs = _read_plan(spark, plan, fmt, opts, transformation_ctx)
        except AnalysisException as exc:
            raise DataSourceError(
                f"cannot read {plan.base_path or plan.inputs[0]} as {fmt}: {str(exc).splitlines()[0]}"
            ) from exc
        if plan.constants:
            frame = frame.withColumns({k: F.lit(v).cast(t) for k, (v, t) in plan.constants.items()})
        void = [
            k for k in plan.partition_types if k in frame.columns and isinstance(frame.schema[k].dataType, T.NullType)
        ]
        if void:  # only __HIVE_DEFAULT_PARTITION__ folders were read: Spark types the key void
            frame = frame.withColumns({k: frame[k].cast(plan.partition_types[k]) for k in void})
        if plan.empty:
            frame = frame.where(F.lit(False))
            errs = errs.where(F.lit(False)) if errs is not None else None
        frames.append(frame)
        if errs is not None:
            errors.append(errs)
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame, allowMissingColumns=True)
    error_df = None
    for errs in errors:
        error_df = errs if error_df is None else error_df.unionByName(errs)
    if opts.fail_fast and error_df is not None:
        _raise_first_error(error_df)
    return ReadResult(result, error_df, list(plans))


def _reader(spark: SparkSession, plan: ReadPlan, options: Mapping[str, str]):
    reader = spark.read.options(**options)
    if plan.base_path:
        reader = reader.option("basePath", plan.base_path)
    if plan.recursive_lookup:
        reader = reader.option("recursiveFileLookup", "true")
    return reader


def _read_plan(
    spark: SparkSession, plan: ReadPlan, fmt: str, opts: ReadOptions, ctx: str
) -> tuple[DataFrame, DataFrame | None]:
    # JSON always goes through the record path (multi-line too); CSV only line by line.
    if fmt == "json" or (fmt in LINE_FORMATS and not opts.multiline):
        return _read_lines(spark, plan, fmt, opts, ctx)
    spark_opts = dict(opts.spark)
    if fmt == "csv":
        spark_opts.setdefault("header", str(opts.with_header or opts.skip_first).lower())
        spark_opts.setdefault("inferSchema", "true")
    reader = _reader(spark, plan, spark_opts)
    if plan.schema:
        reader = reader.schema(plan.schema)
    frame = reader.format(fmt).load(plan.inputs if len(plan.inputs) > 1 else plan.inputs[0])
    if fmt == "csv":
        frame = _glue_csv_names(frame, opts)
        partition_cols = set(_reader(spark, plan, {}).format("text").load(plan.inputs).columns) - {"value"}
        frame = frame.withColumns(
            {
                f.name: F.col(f"`{f.name}`").cast(T.LongType())
                for f in frame.schema.fields
                if f.name not in partition_cols and _glue_csv_type(f.dataType) != f.dataType
            }
        )
    return frame, None


def _glue_csv_type(dtype: T.DataType) -> T.DataType:
    """Glue types CSV whole numbers as ``long`` (Spark's inference says ``int`` when they fit)."""
    return T.LongType() if isinstance(dtype, T.IntegerType | T.ShortType | T.ByteType) else dtype


def _record_text(spark: SparkSession, plan: ReadPlan, opts: ReadOptions) -> DataFrame:
    """One row per record's text (``value``), with its file (``__source``) and partition columns.

    Lines for line formats; for multi-line JSON, each file's document, or each element of a
    top-level array as Spark's multiLine reader does. A file that is not JSON stays whole, so
    parsing turns it into one error record naming the file.
    """
    inputs = plan.inputs if len(plan.inputs) > 1 else plan.inputs[0]
    documents = opts.multiline
    text = _reader(spark, plan, {"wholetext": "true"} if documents else {}).format("text").load(inputs)
    partition_cols = [c for c in text.columns if c != "value"]
    text = text.select("value", F.col("_metadata.file_path").alias("__source"), *partition_cols)
    text = text.where(F.trim(F.col("value")) != "")
    if not documents:
        return text
    document = F.try_parse_json(F.col("value"))
    is_array = F.schema_of_variant(document).startswith("ARRAY")
    elements = F.when(is_array, F.try_variant_get(document, "$", "array<variant>")).otherwise(F.array(document))
    exploded = text.select("*", F.explode(elements).alias("__element"))
    return exploded.select(
        F.coalesce(F.to_json("__element"), F.col("value")).alias("value"), "__source", *partition_cols
    )


def _glue_csv_names(frame: DataFrame, opts: ReadOptions) -> DataFrame:
    """Glue names header-less CSV columns ``col0, col1, ...``; Spark says ``_c0``."""
    if opts.with_header:
        return frame
    renames = {c: f"col{c[2:]}" for c in frame.columns if re.fullmatch(r"_c\d+", c)}
    return frame.withColumnsRenamed(renames) if renames else frame


def _read_lines(
    spark: SparkSession, plan: ReadPlan, fmt: str, opts: ReadOptions, ctx: str
) -> tuple[DataFrame, DataFrame | None]:
    inputs = plan.inputs if len(plan.inputs) > 1 else plan.inputs[0]
    text = _record_text(spark, plan, opts)
    partition_cols = [c for c in text.columns if c not in ("value", "__source")]
    parse_opts = {k: v for k, v in opts.spark.items() if k not in ("multiLine", "mode")}
    parse_opts.update({"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    conflicts: list[Conflict] = []
    if fmt == "csv":
        has_header = opts.with_header or opts.skip_first
        infer_opts = {**opts.spark, "header": str(has_header).lower(), "inferSchema": "true"}
        inferred = _reader(spark, plan, infer_opts).csv(inputs)
        data_fields = [
            T.StructField(f.name, _glue_csv_type(f.dataType))
            for f in inferred.schema.fields
            if f.name not in partition_cols
        ]
        if opts.skip_first and not opts.with_header:
            # a skipped line is not a header: Glue numbers the columns col0, col1, ...
            data_fields = [T.StructField(f"col{i}", f.dataType) for i, f in enumerate(data_fields)]
        if has_header:
            first = text.select("value").limit(1).collect()
            if first:
                text = text.where(F.col("value") != first[0][0])
        schema = T.StructType([*data_fields, T.StructField(CORRUPT, T.StringType())])
        ddl = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)
        parsed = F.from_csv(F.col("value"), ddl, parse_opts)
    else:
        with_choices = infer_json_lines(text)
        if with_choices is not None:
            inferred_schema, conflicts = with_choices
        else:
            inferred_schema = _reader(spark, plan, opts.spark).json(inputs).schema
        data_fields = [f for f in inferred_schema.fields if f.name not in partition_cols and f.name != CORRUPT]
        schema = T.StructType([*data_fields, T.StructField(CORRUPT, T.StringType())])
        parsed = F.from_json(F.col("value"), schema, parse_opts)
    rows = text.select(parsed.alias("__row"), "value", "__source", *partition_cols)
    bad = F.col(f"__row.{CORRUPT}").isNotNull()
    good = rows.where(~bad).select(*[F.col(f"__row.`{f.name}`").alias(f.name) for f in data_fields], *partition_cols)
    if fmt == "csv":
        good = _glue_csv_names(good, opts)
        text_columns = [
            f.name for f in good.schema.fields if f.name not in partition_cols and f.dataType == T.StringType()
        ]
        good = csv_choices(good, text_columns)
    elif conflicts:
        good = split_choices(good, conflicts)
    if fmt == "json" and opts.json_path:
        good = apply_json_path(good, opts.json_path)
    errors = error_frame(
        rows.where(bad),
        transformation_ctx=ctx,
        info=f"read {fmt}",
        message=F.lit(f"malformed {fmt.upper()} record"),
        source=F.col("__source"),
        input_record=F.col("value"),
    )
    return good, errors


_JSON_STEP = re.compile(r"\.([A-Za-z_][\w]*)|\[\*\]|\['([^']+)'\]")


def apply_json_path(frame: DataFrame, path: str) -> DataFrame:
    """Apply a Glue ``jsonPath`` such as ``$[*]`` or ``$.records[*]`` to parsed JSON rows.

    Spark already turns a top-level array into rows, so ``$[*]`` is the identity; each further
    field step selects, and each ``[*]`` explodes an array into rows.
    """
    if not path.startswith("$"):
        raise DataSourceError(f"jsonPath must start with '$': {path!r}")
    rest = path[1:]
    if rest.startswith("[*]"):
        rest = rest[3:]
    column = None
    pos = 0
    current = frame
    while pos < len(rest):
        match = _JSON_STEP.match(rest, pos)
        if not match:
            raise DataSourceError(f"unsupported jsonPath {path!r} at {rest[pos:]!r}")
        pos = match.end()
        name = match.group(1) or match.group(2)
        if name:
            column = F.col(f"`{name}`") if column is None else column.getField(name)
        else:
            if column is None:
                raise DataSourceError(f"jsonPath {path!r}: [*] must follow a field")
            current = current.select(F.explode(column).alias("__elem"))
            column = F.col("__elem")
    if column is None:
        return current
    projected = current.select(column.alias("__elem"))
    elem_type = projected.schema["__elem"].dataType
    if isinstance(elem_type, T.StructType):
        return projected.select("__elem.*")
    return projected.withColumnRenamed("__elem", "value")


def _raise_first_error(errors: DataFrame) -> None:
    first = errors.limit(1).collect()
    if first:
        row = first[0]
        raise DataSourceError(f"{row['source']}: {row['error_message']} (isFailFast): {str(row['input'])[:200]!r}")
