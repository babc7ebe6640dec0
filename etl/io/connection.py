"""Glue ``connection_options`` for file connections, parsed and checked in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from etl.errors import ConfigError

FILE_CONNECTIONS = ("s3", "file", "local", "hdfs", "gs", "abfs", "abfss")

# Accepted for compatibility: Spark already packs small files into input partitions
# (spark.sql.files.maxPartitionBytes), which is what Glue's grouping does.
_GROUPING = ("groupFiles", "groupSize")
_READ_PASSTHROUGH = ("versionAsOf", "timestampAsOf")
# Glue options about S3 listing and job sizing that have no effect outside AWS.
_AWS_ONLY = ("useS3ListImplementation", "boundedSize", "boundedFiles", "maxBand", "maxFilesInBand",
             "excludeStorageClasses", "enableSamplePath", "samplePath", "useCatalogSchema",
             "isFailFast", "s3ListImplementation")


@dataclass
class FileConnection:
    """Parsed options of an ``s3``/``file`` connection."""

    paths: list[str]
    recurse: bool = False
    exclusions: list[str] = field(default_factory=list)
    partition_keys: list[str] = field(default_factory=list)
    compression: str | None = None
    mode: str = "append"
    partition_overwrite_mode: str = "static"
    primary_keys: list[str] = field(default_factory=list)
    spark_options: dict[str, str] = field(default_factory=dict)


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1"):
        return True
    if str(value).lower() in ("false", "0"):
        return False
    raise ConfigError(f"connection option {key!r} must be true or false, got {value!r}")


def _as_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"connection option {key!r} is not a JSON list: {exc}") from exc
        else:
            return [text] if text else []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"connection option {key!r} must be a list of strings, got {value!r}")
    return list(value)


def parse_file_connection(
    connection_type: str, options: Mapping[str, Any] | None, *, for_write: bool = False
) -> FileConnection:
    """Check ``connection_type`` and parse ``options``; errors name the offending key."""
    if connection_type.lower() not in FILE_CONNECTIONS:
        raise ConfigError(
            f"connection_type {connection_type!r} is not supported; "
            f"file connections are {', '.join(FILE_CONNECTIONS)}"
        )
    opts = dict(options or {})
    paths = opts.pop("paths", None)
    path = opts.pop("path", None)
    if paths is None and path is None:
        raise ConfigError("connection_options needs 'paths' (a list) or 'path'")
    found = _as_list(paths, "paths") if paths is not None else [str(path)]
    if for_write and len(found) != 1:
        raise ConfigError(f"a write needs exactly one 'path', got {found}")
    conn = FileConnection(paths=found)
    for key, value in opts.items():
        if key == "recurse":
            conn.recurse = _as_bool(value, key)
        elif key == "exclusions":
            conn.exclusions = _as_list(value, key)
        elif key == "partitionKeys":
            conn.partition_keys = _as_list(value, key)
        elif key in ("compression", "compressionType"):
            conn.compression = str(value)
        elif key == "mode":
            conn.mode = str(value).lower()
        elif key == "partitionOverwriteMode":
            conn.partition_overwrite_mode = str(value).lower()
        elif key in ("primaryKeys", "primary_keys"):
            conn.primary_keys = _as_list(value, key)
        elif key in _GROUPING or key in _AWS_ONLY:
            continue
        elif key in _READ_PASSTHROUGH:
            conn.spark_options[key] = str(value)
        else:
            raise ConfigError(f"unknown connection option {key!r} for connection_type {connection_type!r}")
    return conn
