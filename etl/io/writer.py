"""Write DataFrames to files safely, Hive-partitioned when asked.

Modes:
    append (Glue's default): Spark's commit protocol publishes files only when the job commits.
    overwrite: written to a hidden staging folder beside the target, then swapped in by rename;
        a failure part-way leaves the previous output readable and unchanged.
    overwrite + ``partitionOverwriteMode=dynamic``: only the partitions present in the data are
        replaced, at commit (Spark's staging), so a failure leaves every partition as it was.
Delta tables get Delta's own transactions for every mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame

from etl.errors import ConfigError, DataSinkError
from etl.io import listing
from etl.io.formats import canonical_format, write_options

MODES = ("append", "overwrite", "error", "errorifexists", "ignore")


@dataclass
class WriteResult:
    path: str
    format: str
    mode: str
    partition_keys: list[str]
    files_written: int
    partitions_written: int


def write(
    frame: DataFrame,
    path: str,
    format: str,
    format_options: Mapping[str, Any] | None = None,
    *,
    partition_keys: Sequence[str] = (),
    mode: str = "append",
    partition_overwrite_mode: str = "static",
    compression: str | None = None,
) -> WriteResult:
    """Write ``frame`` to ``path``; see the module docstring for the guarantees.

    Raises:
        ConfigError: unknown mode, format or partition key.
        DataSinkError: the write failed (the previous output is left as it was).
    """
    fmt = canonical_format(format)
    mode = mode.lower()
    if mode not in MODES:
        raise ConfigError(f"unknown write mode {mode!r}; expected one of {', '.join(MODES)}")
    if partition_overwrite_mode not in ("static", "dynamic"):
        raise ConfigError(
            f"partitionOverwriteMode must be 'static' or 'dynamic', got {partition_overwrite_mode!r}"
        )
    missing = [k for k in partition_keys if k not in frame.columns]
    if missing:
        raise ConfigError(
            f"partitionKeys {missing} are not columns of the frame (columns: {frame.columns})"
        )
    options = write_options(fmt, format_options)
    if compression:
        options["compression"] = compression
    if partition_overwrite_mode == "dynamic":
        options["partitionOverwriteMode"] = "dynamic"

    loc = listing.locate(path)
    exists = loc.fs.get_file_info(loc.root).type != pafs.FileType.NotFound
    swap = mode == "overwrite" and partition_overwrite_mode == "static" and fmt != "delta" and exists
    target = _staging_path(loc) if swap else loc.root
    try:
        writer = frame.write.format(fmt).mode(mode).options(**options)
        if partition_keys:
            writer = writer.partitionBy(*partition_keys)
        writer.save(loc.spark_path(target))
    except PySparkException as exc:
        if swap:
            _delete_quietly(loc.fs, target)
        raise DataSinkError(
            f"writing {fmt} to {path} failed; previous output left unchanged: "
            f"{_first_line(exc)}"
        ) from exc
    if swap:
        _swap_in(loc, target)
    files, partitions = _summarize(loc, fmt)
    return WriteResult(path, fmt, mode, list(partition_keys), files, partitions)


def _staging_path(loc: listing.Location) -> str:
    parent, _, name = loc.root.rpartition("/")
    return f"{parent}/.{name}.staging-{uuid.uuid4().hex[:12]}"


def _swap_in(loc: listing.Location, staging: str) -> None:
    """Replace the target with the staged output: target -> backup, staging -> target."""
    parent, _, name = loc.root.rpartition("/")
    backup = f"{parent}/.{name}.previous-{uuid.uuid4().hex[:12]}"
    loc.fs.move(loc.root, backup)
    try:
        loc.fs.move(staging, loc.root)
    except OSError as exc:
        loc.fs.move(backup, loc.root)
        _delete_quietly(loc.fs, staging)
        raise DataSinkError(f"could not publish {loc.root}; previous output restored: {exc}") from exc
    _delete_quietly(loc.fs, backup)


def _delete_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        fs.delete_dir(path)
    except OSError:
        pass


def _summarize(loc: listing.Location, fmt: str) -> tuple[int, int]:
    """Files and partition folders now under the target (data files only)."""
    if fmt == "delta":
        files = [f for f in listing.data_files(loc, recurse=True) if "_delta_log" not in f.path]
    else:
        files = listing.data_files(loc, recurse=True)
    folders = {f.path.rsplit("/", 1)[0] for f in files if "=" in f.path[len(loc.root):]}
    return len(files), len(folders)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
