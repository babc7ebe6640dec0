"""Run a validated YAML job spec on a GlueContext: read, transform, check quality, write.

Every source is read through the GlueContext readers (so bookmarks see its transformation_ctx),
every step through the transform registry (``Filter`` compiles its SQL condition to a native
Spark filter), quality rules through :mod:`etl.jobs.quality`, and every sink through the
GlueContext writers. Nothing is written before the quality rules have passed.

Metrics (a JSON-ready dict, filled in as the run goes so a failed run still reports its part):

- ``sources``: ``{name: {rows, transformation_ctx}}``; rows is one count per source (a Parquet or
  Delta count reads metadata; CSV and JSON are scanned again).
- ``steps``: ``{name: {transform, seconds}}``; Spark is lazy, so a step's time is its planning
  plus whatever it computes eagerly (e.g. DropNullFields' null counts); the reading and writing
  itself shows in the sinks' time.
- ``data_quality``: one result per rule (see :mod:`etl.jobs.quality`) and ``quality``:
  ``{input, rows_checked, rows_passed, seconds}``.
- ``sinks``: ``{name: {rows, path, format, files, partitions, seconds}}``; rows are observed on
  the write itself (no extra pass), or taken from Delta's commit metrics for an upsert.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from etl.context import GlueContext
from etl.errors import ConfigError, EtlError, JobError, spark_error_summary
from etl.frame.dynamicframe import DynamicFrame, DynamicFrameCollection
from etl.jobs import quality as dq
from etl.jobs.spec import JobSpec, SinkSpec, SourceSpec, StepSpec, transform_shape
from etl.transforms.base import get_transform

log = logging.getLogger("etl.spec")

Frames = dict[str, DynamicFrame | DynamicFrameCollection]
R = TypeVar("R")


def run_spec(
    spec: JobSpec,
    glue_ctx: GlueContext,
    args: Mapping[str, Any] | None = None,
    *,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Execute ``spec`` and return its metrics (see the module docstring).

    Args:
        spec: a spec from :func:`etl.jobs.spec.load_spec` (placeholders already replaced).
        glue_ctx: the GlueContext to read and write with.
        args: the run's arguments; ``JOB_RUN_ID`` names the quarantine folders.
        metrics: a dict to fill in place (pass one to keep partial metrics when this raises).

    Raises:
        DataQualityError: a ``fail`` rule did not hold; nothing was written.
        EtlError: a source, step or sink failed; a note on the exception names the spec file and key.
    """
    args = dict(args or {})
    metrics = metrics if metrics is not None else {}
    metrics.update({"sources": {}, "steps": {}, "data_quality": [], "sinks": {}})
    frames: Frames = {}
    cached: list[DataFrame] = []
    try:
        for name, source in spec.sources.items():
            frames[name] = _timed_source(spec, name, source, glue_ctx, metrics["sources"])
        for index, step in enumerate(spec.steps):
            started = time.perf_counter()
            frames[step.name] = _located(spec, ("steps", index), lambda s=step, i=index: _run_step(spec, i, s, frames))
            metrics["steps"][step.name] = {"transform": step.transform, "seconds": _since(started)}
        if spec.quality is not None:
            _check_quality(spec, frames, args, metrics, cached)
        for name, sink in spec.sinks.items():
            frame = _frame(frames, sink.input or "")
            started = time.perf_counter()
            result = _located(spec, ("sinks", name), lambda n=name, s=sink, f=frame: _write_sink(n, s, f, glue_ctx))
            metrics["sinks"][name] = {**result, "seconds": _since(started)}
    finally:
        for df in cached:
            df.unpersist()
    return metrics


# ----- sources -------------------------------------------------------------------------------
def _timed_source(
    spec: JobSpec, name: str, source: SourceSpec, glue_ctx: GlueContext, out: dict[str, Any]
) -> DynamicFrame:
    started = time.perf_counter()
    ctx = source.transformation_ctx or name
    frame = _located(spec, ("sources", name), lambda: _read_source(source, ctx, glue_ctx))
    rows = _located(spec, ("sources", name), frame.count)
    out[name] = {"rows": rows, "transformation_ctx": ctx, "seconds": _since(started)}
    return frame


def _read_source(source: SourceSpec, ctx: str, glue_ctx: GlueContext) -> DynamicFrame:
    if source.catalog is not None:
        return glue_ctx.create_dynamic_frame.from_catalog(
            database=source.catalog.database,
            table_name=source.catalog.table,
            transformation_ctx=ctx,
            push_down_predicate=source.push_down_predicate or "",
            additional_options=source.additional_options,
        )
    connection: dict[str, Any] = {"paths": source.paths, "recurse": source.recurse}
    if source.exclusions:
        connection["exclusions"] = source.exclusions
    return glue_ctx.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options=connection,
        format=source.format,
        format_options=source.format_options,
        transformation_ctx=ctx,
        push_down_predicate=source.push_down_predicate or "",
    )


# ----- steps ---------------------------------------------------------------------------------
def _run_step(spec: JobSpec, index: int, step: StepSpec, frames: Frames) -> DynamicFrame | DynamicFrameCollection:
    shape = transform_shape(step.transform)
    if step.transform == "Filter":
        return _sql_filter(spec, index, step, _frame(frames, step.inputs[0]))
    kwargs = step.call_args()
    if shape.takes_collection:
        kwargs[shape.frame_params[0]] = _collection(frames, step.inputs, frames[step.inputs[0]])
    else:
        for param, ref in zip(shape.frame_params, step.inputs, strict=True):
            kwargs[param] = _frame(frames, ref)
    for key in shape.frame_args:
        if isinstance(kwargs.get(key), str):
            kwargs[key] = _frame(frames, kwargs[key])
    if shape.accepted is None or "transformation_ctx" in shape.accepted:
        kwargs["transformation_ctx"] = step.ctx
    result = get_transform(step.transform).apply(**kwargs)
    if not isinstance(result, (DynamicFrame, DynamicFrameCollection)):
        raise JobError(f"step {step.name!r} ({step.transform}) returned {type(result).__name__}, not a frame")
    return result


def _sql_filter(spec: JobSpec, index: int, step: StepSpec, frame: DynamicFrame) -> DynamicFrame:
    """Glue's Filter with a SQL condition: a native Spark filter (rows where it is null are dropped)."""
    try:
        df = frame.toDF().where(F.expr(step.condition or ""))
    except PySparkException as exc:
        raise ConfigError(
            f"{spec.source_file}: steps.{index}.condition: step {step.name!r}: "
            f"{step.condition!r} is not a valid condition on this frame: "
            f"{spark_error_summary(exc)}"
        ) from exc
    return frame.derive(df, transformation_ctx=step.ctx)


def _frame(frames: Frames, ref: str) -> DynamicFrame:
    base, dot, key = ref.partition(".")
    found = frames[base]
    if isinstance(found, DynamicFrameCollection):
        if not dot:
            raise JobError(f"{base!r} is a collection ({', '.join(found.keys())}); name one as '{base}.<key>'")
        if key not in found:
            raise JobError(f"{ref!r}: the collection {base!r} has no frame {key!r}; it has {', '.join(found.keys())}")
        return found[key]
    return found


def _collection(frames: Frames, refs: list[str], first: Any) -> DynamicFrameCollection:
    if len(refs) == 1 and isinstance(first, DynamicFrameCollection):
        return first
    members = {ref.replace(".", "_"): _frame(frames, ref) for ref in refs}
    return DynamicFrameCollection(members, next(iter(members.values())).glue_ctx)


# ----- quality -------------------------------------------------------------------------------
def _check_quality(
    spec: JobSpec, frames: Frames, args: Mapping[str, Any], metrics: dict[str, Any], cached: list[DataFrame]
) -> None:
    assert spec.quality is not None
    started = time.perf_counter()
    name = spec.quality.input or ""
    frame = _frame(frames, name)
    # Every expectation and the quarantine split read the frame: compute it once.
    df = frame.toDF().persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(df)
    checked = df.count()
    run_id = str(args.get("JOB_RUN_ID") or f"local_{uuid.uuid4().hex[:12]}")
    outcome = _located(
        spec,
        ("quality",),
        lambda: dq.check(
            df,
            spec.quality.rules,
            quarantine_path=spec.quality.quarantine_path,
            run_id=run_id,  # type: ignore[union-attr]
            results=metrics["data_quality"],
        ),
    )
    passing = outcome.passing
    rows_passed = checked
    if passing is not df:
        passing = passing.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(passing)
        rows_passed = passing.count()
    checked_frame = frame.derive(passing, transformation_ctx=frame.transformation_ctx)
    base, dot, key = name.partition(".")
    if dot:
        collection = frames[base]
        assert isinstance(collection, DynamicFrameCollection)
        members = {k: (checked_frame if k == key else collection[k]) for k in collection.keys()}
        frames[base] = DynamicFrameCollection(members, checked_frame.glue_ctx)
    else:
        frames[base] = checked_frame
    metrics["quality"] = {
        "input": name,
        "rows_checked": checked,
        "rows_passed": rows_passed,
        "seconds": _since(started),
    }


# ----- sinks ---------------------------------------------------------------------------------
def _write_sink(name: str, sink: SinkSpec, frame: DynamicFrame, glue_ctx: GlueContext) -> dict[str, Any]:
    ctx = sink.transformation_ctx or name
    df = frame.toDF()
    # An "ignore" write to an existing path runs no action, so an observation would never fire.
    observation = None if sink.mode == "ignore" or sink.primary_keys else Observation()
    if observation is not None:
        df = df.observe(observation, F.count(F.lit(1)).alias("rows"))
    out = frame.derive(df, transformation_ctx=ctx)
    before = len(glue_ctx.write_results)
    summary: dict[str, Any] = {"rows": None, "path": sink.path, "format": sink.format}
    if sink.catalog is not None:
        summary["catalog"] = f"{sink.catalog.database}.{sink.catalog.table}"
    options = _connection(sink)
    if sink.catalog is not None and sink.path is None:
        additional = {k: v for k, v in options.items() if k != "path"}
        additional.update({"enableUpdateCatalog": sink.enable_update_catalog, "updateBehavior": sink.update_behavior})
        if not sink.partition_keys:
            additional.pop("partitionKeys", None)  # the table's own keys
        glue_ctx.write_dynamic_frame.from_catalog(
            frame=out,
            database=sink.catalog.database,
            table_name=sink.catalog.table,
            transformation_ctx=ctx,
            additional_options=additional,
        )
    elif sink.catalog is not None:
        target = glue_ctx.getSink(
            connection_type="s3",
            transformation_ctx=ctx,
            enableUpdateCatalog=True,
            updateBehavior=sink.update_behavior,
            **options,
        )
        target.setFormat(sink.format or "parquet", **sink.format_options)
        target.setCatalogInfo(catalogDatabase=sink.catalog.database, catalogTableName=sink.catalog.table)
        target.writeFrame(out)
    else:
        glue_ctx.write_dynamic_frame.from_options(
            frame=out,
            connection_type="s3",
            connection_options=options,
            format=sink.format,
            format_options=sink.format_options,
            transformation_ctx=ctx,
        )
    written = glue_ctx.write_results[before:]
    if written:
        summary.update(
            path=written[-1].path,
            format=written[-1].format,
            files=written[-1].files_written,
            partitions=written[-1].partitions_written,
        )
    if observation is not None:
        summary["rows"] = int(observation.get["rows"])
    elif sink.primary_keys and sink.path:
        summary.update(_delta_commit_rows(glue_ctx, sink.path))
    return summary


def _connection(sink: SinkSpec) -> dict[str, Any]:
    options: dict[str, Any] = {"path": sink.path, "mode": sink.mode, "partitionKeys": sink.partition_keys}
    if sink.partition_overwrite_mode != "static":
        options["partitionOverwriteMode"] = sink.partition_overwrite_mode
    if sink.compression:
        options["compression"] = sink.compression
    if sink.primary_keys:
        options["primaryKeys"] = sink.primary_keys
    return {k: v for k, v in options.items() if v is not None}


def _delta_commit_rows(glue_ctx: GlueContext, path: str) -> dict[str, Any]:
    """Rows of the upsert just committed, from Delta's operation metrics."""
    from delta.tables import DeltaTable

    last = DeltaTable.forPath(glue_ctx.spark_session, path).history(1).first()
    if last is None:
        return {}
    m = last["operationMetrics"] or {}
    if last["operation"] == "MERGE":
        return {
            "rows": int(m.get("numSourceRows", 0)),
            "rows_inserted": int(m.get("numTargetRowsInserted", 0)),
            "rows_updated": int(m.get("numTargetRowsUpdated", 0)),
            "delta_version": last["version"],
        }
    return {
        "rows": int(m.get("numOutputRows", 0)),
        "rows_inserted": int(m.get("numOutputRows", 0)),
        "rows_updated": 0,
        "delta_version": last["version"],
    }


# ----- helpers -------------------------------------------------------------------------------
def _located(spec: JobSpec, where: tuple[str | int, ...], run: Callable[[], R]) -> R:
    """Run ``run()``; an error gets a note naming the spec file and key (its type is kept, so
    retry policies still match it by name)."""
    try:
        return run()
    except (EtlError, PySparkException) as exc:
        exc.add_note(f"in {spec.source_file}: {'.'.join(str(p) for p in where)}")
        raise


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
