"""From a catalog table to what Spark needs to read it: data source name and options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from etl.errors import CatalogError
from etl.io.formats import read_options

# Log tables are text files parsed with their grok pattern (see grok_tables.py).
_TEXT_LOGS = ("combined_apache", "apache", "linux_kernel", "microsoft_log", "ruby_logger", "squid")


@dataclass
class SparkFormat:
    source: str  # Spark data source name (also the Glue format name)
    format_options: dict[str, Any] = field(default_factory=dict)  # Glue's names, for the reader

    @property
    def json_path(self) -> str | None:
        path = self.format_options.get("jsonPath")
        return path if path and path != "$[*]" else None

    def spark_options(self) -> dict[str, str]:
        """The same options in Spark's names (for CREATE TABLE ... OPTIONS)."""
        opts = read_options(self.source, self.format_options)
        out = {k: str(v) for k, v in opts.spark.items()}
        if self.source == "csv":
            out["header"] = str(opts.with_header).lower()
        return out


def spark_format(table: dict[str, Any]) -> SparkFormat:
    """Spark's data source and options for a Glue table definition.

    Raises:
        CatalogError: the classification has no Spark reader.
    """
    params = table.get("Parameters", {})
    sd_params = table.get("StorageDescriptor", {}).get("Parameters", {})
    merged = {**sd_params, **params}
    classification = (merged.get("classification") or "").lower()
    if classification in ("parquet", "orc", "avro", "delta"):
        return SparkFormat(classification)
    if classification == "csv":
        options: dict[str, Any] = {"separator": merged.get("delimiter", ","),
                                   "withHeader": merged.get("skip.header.line.count", "0") != "0"}
        serde = table.get("StorageDescriptor", {}).get("SerdeInfo", {}).get("Parameters", {})
        if "quoteChar" in serde:
            options["quoteChar"] = serde["quoteChar"]
        return SparkFormat("csv", options)
    if classification == "json":
        path = merged.get("jsonPath")
        if path:
            return SparkFormat("json", {"multiLine": True, "jsonPath": path})
        return SparkFormat("json")
    if classification == "xml":
        return SparkFormat("xml", {"rowTag": merged.get("rowTag", "row")})
    name = table.get("Name", "?")
    if classification in _TEXT_LOGS or merged.get("grokPattern"):
        return SparkFormat("text")
    raise CatalogError(f"table {name}: classification {classification or 'unknown'!r} has no Spark reader")
