"""Turn a planned table (files + verdicts) into Glue's TableInput and PartitionInputs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from etl.crawler.discover import FileVerdict, TablePlan
from etl.crawler.model import Column
from etl.crawler.types import NULL, format_type, parse_type, widen

# Parameters that describe the format, copied from the first file's verdict.
_FORMAT_PARAMS = ("delimiter", "skip.header.line.count", "areColumnsQuoted", "jsonPath", "rowTag",
                  "grokPattern", "grokCustomPatterns", "avro.schema.literal", "compressionType")


@dataclass
class FileStats:
    records: int
    exact: bool


def merge_columns(verdicts: list[FileVerdict]) -> list[Column]:
    """Union of the files' columns in first-seen order, widening types; conflicts are kept
    visible in ``Column.choice`` (e.g. ``bigint|string``)."""
    order: list[str] = []
    types: dict[str, Any] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    conflicted: set[str] = set()
    # Thousands of files usually share a handful of schemas: merge each distinct one once.
    distinct = dict.fromkeys(tuple(v.classification.columns) for v in verdicts)
    for columns_of_file in distinct:
        for col in columns_of_file:
            key = col.name.lower()
            if key not in types:
                order.append(key)
                names[key] = col.name
                types[key] = NULL
            parsed = parse_type(col.type)
            if col.choice:  # the file's own records already disagreed
                seen[key].update(col.choice.split("|"))
                conflicted.add(key)
            else:
                seen[key].add(format_type(parsed))
            types[key], conflict = widen(types[key], parsed)
            if conflict:
                conflicted.add(key)
    columns = []
    for key in order:
        # Lossless widening (int and bigint -> bigint) is not a choice; a fallback to string is.
        choice = "|".join(sorted(seen[key])) if key in conflicted else None
        columns.append(Column(names[key], format_type(types[key]), choice=choice))
    return columns


def _partition_type(values: list[str]) -> str:
    """Partition key type from its folder values: int/bigint when all are integers (leading
    zeros allowed, ``month=01``), date when all are dates, else string."""
    if values and all(v.lstrip("-").isdigit() for v in values):
        return "int" if all(-(2**31) <= int(v) < 2**31 for v in values) else "bigint"
    from etl.crawler.types import infer_text

    if values and all(infer_text(v) == "date" for v in values):
        return "date"
    return "string"


def storage_descriptor(verdicts: list[FileVerdict], location: str, columns: list[Column]) -> dict[str, Any]:
    first = verdicts[0].classification
    compressed = any(v.classification.parameters.get("compressionType") for v in verdicts)
    return {
        "Columns": [c.to_glue() for c in columns],
        "Location": location,
        "InputFormat": first.input_format,
        "OutputFormat": first.output_format,
        "Compressed": compressed,
        "NumberOfBuckets": -1,
        "SerdeInfo": first.serde or {},
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": {k: v for k, v in first.parameters.items() if k in _FORMAT_PARAMS},
        "StoredAsSubDirectories": False,
    }


def _stats(verdicts: list[FileVerdict], stats: dict[str, FileStats]) -> dict[str, str]:
    size = sum(v.file.size for v in verdicts)
    records = sum(stats[v.file.path].records for v in verdicts if v.file.path in stats)
    out = {"sizeKey": str(size), "objectCount": str(len(verdicts)), "recordCount": str(records)}
    if records:
        out["averageRecordSize"] = str(size // records)
    return out


def table_input(plan: TablePlan, name: str, crawler: str, stats: dict[str, FileStats]) -> dict[str, Any]:
    """Glue's TableInput for ``plan``."""
    verdicts = plan.files
    columns = merge_columns(verdicts)
    first = verdicts[0].classification
    partition_values = [plan.partition_values(v) for v in verdicts]
    keys = [
        {"Name": key, "Type": _partition_type([vals[i] for vals in partition_values])}
        for i, key in enumerate(plan.partition_keys)
    ]
    partition_names = {k["Name"].lower() for k in keys}
    columns = [c for c in columns if c.name.lower() not in partition_names]
    parameters = {
        "classification": first.classification,
        "typeOfData": first.parameters.get("typeOfData", "file"),
        "UPDATED_BY_CRAWLER": crawler,
        "CrawlerSchemaSerializerVersion": "1.0",
        "CrawlerSchemaDeserializerVersion": "1.0",
        **{k: v for k, v in first.parameters.items() if k in _FORMAT_PARAMS},
        **_stats(verdicts, stats),
    }
    return {
        "Name": name,
        "StorageDescriptor": storage_descriptor(verdicts, plan.location, columns),
        "PartitionKeys": keys,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
    }


def partition_inputs(plan: TablePlan, stats: dict[str, FileStats]) -> list[dict[str, Any]]:
    """One PartitionInput per distinct partition folder of ``plan``."""
    if not plan.partition_keys:
        return []
    groups: dict[tuple[str, ...], list[FileVerdict]] = defaultdict(list)
    folders: dict[tuple[str, ...], str] = {}
    for v in plan.files:
        values = tuple(plan.partition_values(v))
        groups[values].append(v)
        folders[values] = v.file.folder
    out = []
    for values, verdicts in sorted(groups.items()):
        columns = merge_columns(verdicts)
        below = folders[values][len(plan.root):].strip("/")
        location = f"{plan.location.rstrip('/')}/{below}"
        out.append({
            "Values": list(values),
            "StorageDescriptor": storage_descriptor(verdicts, location, columns),
            "Parameters": _stats(verdicts, stats),
        })
    return out
