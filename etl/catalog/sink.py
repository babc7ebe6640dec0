"""Keep the catalog in step with a job's writes (Glue's ``enableUpdateCatalog``)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import types as T

from etl.catalog.store import Catalog
from etl.errors import ConfigError, EntityNotFoundError
from etl.io import listing

# Hive descriptors Glue records for tables a job creates, by format.
_DESCRIPTORS: dict[str, dict[str, Any]] = {
    "parquet": {"InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}},
    "orc": {"InputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.orc.OrcSerde"}},
    "avro": {"InputFormat": "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
             "OutputFormat": "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
             "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.avro.AvroSerDe"}},
    "json": {"InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
             "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
             "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}},
    "csv": {"InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": ","}}},
    "delta": {"InputFormat": None, "OutputFormat": None, "SerdeInfo": {}},
}
UPDATE_BEHAVIORS = ("UPDATE_IN_DATABASE", "LOG")


def columns_of(schema: T.StructType, exclude: list[str]) -> list[dict[str, str]]:
    skip = {e.lower() for e in exclude}
    return [{"Name": f.name, "Type": f.dataType.simpleString()} for f in schema.fields if f.name.lower() not in skip]


def update_catalog(
    catalog: Catalog,
    database: str,
    table_name: str,
    *,
    location: str,
    fmt: str,
    schema: T.StructType,
    partition_keys: list[str],
    update_behavior: str = "UPDATE_IN_DATABASE",
) -> dict[str, Any]:
    """Create or evolve ``database.table_name`` after a write and register its partitions.

    New columns are appended (existing ones keep their place); with ``LOG`` a changed schema is
    reported and left alone. Returns what changed.
    """
    if update_behavior not in UPDATE_BEHAVIORS:
        raise ConfigError(f"updateBehavior must be one of {UPDATE_BEHAVIORS}, got {update_behavior!r}")
    if fmt not in _DESCRIPTORS:
        raise ConfigError(f"cannot catalog format {fmt!r}; supported: {sorted(_DESCRIPTORS)}")
    by_name = {f.name.lower(): f for f in schema.fields}
    keys = [{"Name": k, "Type": by_name[k.lower()].dataType.simpleString()} for k in partition_keys]
    columns = columns_of(schema, partition_keys)
    catalog.ensure_database(database)
    changes: dict[str, Any] = {"created": False, "updated": False, "logged": None, "partitions_added": 0}
    try:
        current = catalog.get_table(database, table_name)["Table"]
    except EntityNotFoundError:
        current = None
    descriptor = {"Columns": columns, "Location": location, "Compressed": False, "NumberOfBuckets": -1,
                  **_DESCRIPTORS[fmt]}
    if current is None:
        catalog.create_table(database, {
            "Name": table_name, "StorageDescriptor": descriptor, "PartitionKeys": keys,
            "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": fmt, "UPDATED_BY_JOB": "true"},
        })
        changes["created"] = True
    else:
        known = {c["Name"].lower() for c in current["StorageDescriptor"].get("Columns", [])}
        added = [c for c in columns if c["Name"].lower() not in known]
        if added and update_behavior == "LOG":
            changes["logged"] = f"new columns {[c['Name'] for c in added]} not added (updateBehavior LOG)"
        elif added:
            sd = dict(current["StorageDescriptor"])
            sd["Columns"] = [*sd.get("Columns", []), *added]
            table_input = {k: current[k] for k in ("StorageDescriptor", "PartitionKeys", "TableType", "Parameters")
                           if k in current}
            table_input.update({"Name": table_name, "StorageDescriptor": sd})
            catalog.update_table(database, table_input, VersionId=current["VersionId"])
            changes["updated"] = True
    if partition_keys:
        changes["partitions_added"] = _register_partitions(catalog, database, table_name, location, descriptor)
    return changes


def _register_partitions(catalog: Catalog, database: str, table: str, location: str,
                         descriptor: dict[str, Any]) -> int:
    loc = listing.locate(location)
    found = listing.partition_dirs(loc)
    inputs = [
        {"Values": [v for _, v in p.values],
         "StorageDescriptor": {**descriptor, "Location": loc.spark_path(p.path)}}
        for p in found
    ]
    if not inputs:
        return 0
    errors = catalog.batch_create_partition(database, table, inputs)["Errors"]
    fresh = [e for e in errors if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
    if fresh:
        raise ConfigError(f"could not register partitions of {database}.{table}: {fresh[0]['ErrorDetail']}")
    return len(inputs) - len(errors)
