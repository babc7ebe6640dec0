"""Glue's format names and ``format_options`` translated to Spark reader and writer options.

Glue spells options its own way (``withHeader``, ``quoteChar``, ``separator``); Spark wants
``header``, ``quote``, ``sep``. Everything Glue documents is mapped here; an unknown option is
passed to Spark unchanged, so Spark-native options keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from etl.errors import ConfigError

SUPPORTED_FORMATS = ("csv", "json", "parquet", "orc", "avro", "xml", "delta", "text")
LINE_FORMATS = ("csv", "json")
_FORMAT_ALIASES = {"glueparquet": "parquet", "jsonl": "json"}

# Options that are Glue-only knobs with no Spark meaning; accepted and ignored.
_IGNORED = {"optimizePerformance", "version", "useGlueParquetWriter", "blockSize", "pageSize",
            "groupFiles", "groupSize", "strictCheckForQuoting", "withSchema"}


def canonical_format(fmt: str | None) -> str:
    """Glue format name to the Spark data source name, with a clear error for unknown ones."""
    if not fmt:
        raise ConfigError("format is required (one of " + ", ".join(SUPPORTED_FORMATS) + ")")
    name = _FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if name not in SUPPORTED_FORMATS:
        raise ConfigError(
            f"unknown format {fmt!r}; supported: {', '.join(SUPPORTED_FORMATS)}"
        )
    return name


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(f"format option {key!r} must be true or false, got {value!r}")


@dataclass
class ReadOptions:
    """What the reader needs: Spark options plus the Glue behaviours Spark lacks."""

    spark: dict[str, str] = field(default_factory=dict)
    with_header: bool = False
    skip_first: bool = False
    multiline: bool = False
    json_path: str | None = None
    fail_fast: bool = False


def read_options(fmt: str, format_options: Mapping[str, Any] | None) -> ReadOptions:
    """Translate Glue ``format_options`` for reading ``fmt``."""
    opts = ReadOptions()
    for key, value in (format_options or {}).items():
        if key in _IGNORED:
            continue
        if key == "isFailFast":
            opts.fail_fast = _bool(value, key)
        elif key == "multiLine" or key == "multiline":
            opts.multiline = _bool(value, key)
            opts.spark["multiLine"] = str(opts.multiline).lower()
        elif fmt == "csv" and key == "separator":
            opts.spark["sep"] = str(value)
        elif fmt == "csv" and key == "quoteChar":
            # Glue: -1 turns quoting off.
            opts.spark["quote"] = "\u0000" if str(value) == "-1" else str(value)
        elif fmt == "csv" and key == "escaper":
            opts.spark["escape"] = str(value)
        elif fmt == "csv" and key == "withHeader":
            opts.with_header = _bool(value, key)
        elif fmt == "csv" and key == "skipFirst":
            opts.skip_first = _bool(value, key)
        elif fmt == "csv" and key == "writeHeader":
            continue
        elif fmt == "json" and key == "jsonPath":
            opts.json_path = str(value)
        else:
            opts.spark[key] = value if isinstance(value, str) else _spark_value(value)
    return opts


def write_options(fmt: str, format_options: Mapping[str, Any] | None) -> dict[str, str]:
    """Translate Glue ``format_options`` for writing ``fmt``."""
    out: dict[str, str] = {}
    if fmt == "csv":
        out["header"] = "true"  # Glue writes a header by default
    for key, value in (format_options or {}).items():
        if key in _IGNORED or key in ("isFailFast", "withHeader", "skipFirst", "jsonPath"):
            continue
        if fmt == "csv" and key == "writeHeader":
            out["header"] = str(_bool(value, key)).lower()
        elif fmt == "csv" and key == "separator":
            out["sep"] = str(value)
        elif fmt == "csv" and key == "quoteChar":
            out["quote"] = "\u0000" if str(value) == "-1" else str(value)
        elif fmt == "csv" and key == "escaper":
            out["escape"] = str(value)
        else:
            out[key] = value if isinstance(value, str) else _spark_value(value)
    return out


def _spark_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
