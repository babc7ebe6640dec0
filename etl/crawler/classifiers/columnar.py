"""Glue's built-in classifiers for self-describing files: Avro, ORC and Parquet.

Each reads metadata only: the Parquet footer (``pyarrow.parquet.ParquetFile``), the ORC footer
and postscript (``pyarrow.orc.ORCFile``), the Avro header (``fastavro.reader``) plus the Avro block
headers (seeked over, never decoded) to count records. A file that starts with its format's magic
bytes but whose metadata cannot be read raises :class:`ClassificationError` naming the file.

Type mapping to Hive type strings:

* Arrow (Parquet, ORC): int8/16/32/64 -> tinyint/smallint/int/bigint; uint8/16/32 -> the next
  wider signed type; uint64 -> decimal(20,0) (as Spark reads it); float16/float32 -> float;
  float64 -> double; bool -> boolean; string/large_string -> string; binary, fixed-size binary ->
  binary; date32/date64 -> date; timestamp (any unit, with or without zone) -> timestamp;
  time32 -> int and time64 -> bigint (Hive has no time type: the stored number); duration ->
  bigint; decimal(p,s) -> decimal(p,s) (string when p > 38); list/large_list/fixed_size_list ->
  array<...>; struct -> struct<...>; map -> map<k,v>; dictionary -> its value type; null ->
  string.
* Avro: null -> string; boolean/int/long/float/double/bytes/string -> boolean/int/bigint/float/
  double/binary/string; enum -> string; fixed -> binary; record -> struct; array -> array;
  map -> map<string,v>; a union of null and one type -> that type; any other union -> string;
  logical types date -> date, timestamp-*/local-timestamp-* -> timestamp, decimal(p,s) ->
  decimal(p,s), time-millis -> int, time-micros -> bigint, uuid -> string.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pyarrow as pa

from etl.crawler.model import Classification, Column
from etl.crawler.sample import FileSample
from etl.crawler.types import Type, format_type
from etl.errors import ClassificationError

PARQUET_MAGIC = b"PAR1"
ORC_MAGIC = b"ORC"
AVRO_MAGIC = b"Obj\x01"

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
ORC_SERDE = "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
ORC_INPUT = "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"
ORC_OUTPUT = "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat"
AVRO_SERDE = "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
AVRO_INPUT = "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat"
AVRO_OUTPUT = "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat"

MAX_HIVE_DECIMAL_PRECISION = 38
# Avro record counting seeks from block header to block header; past this many blocks the count
# is left unknown rather than spending more seeks.
MAX_AVRO_BLOCKS = 100_000

_CODECS = {"uncompressed": "none", "null": "none", "zstandard": "zstd", "lz4_raw": "lz4",
           "lz4_frame": "lz4"}


def _codec_name(codec: str) -> str:
    lower = codec.lower()
    return _CODECS.get(lower, lower)


def _looks_binary(data: bytes) -> bool:
    """NUL or other control bytes: not a text file that happens to start like a magic number."""
    return any(b < 9 or 13 < b < 32 for b in data)


def _tail(path: str, size: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(max(0, os.path.getsize(path) - size))
        return fh.read(size)


def _head(path: str, size: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


# ----- Arrow types ------------------------------------------------------------------------------
def _decimal(precision: int, scale: int) -> str:
    if precision > MAX_HIVE_DECIMAL_PRECISION:
        return "string"
    return f"decimal({precision},{scale})"


def arrow_type(t: pa.DataType) -> Type:
    """The Hive type of an Arrow type (see the module docstring)."""
    types = pa.types
    if isinstance(t, pa.ExtensionType):
        return arrow_type(t.storage_type)
    if types.is_dictionary(t):
        return arrow_type(t.value_type)
    simple = [
        (types.is_boolean, "boolean"), (types.is_int8, "tinyint"), (types.is_int16, "smallint"),
        (types.is_int32, "int"), (types.is_int64, "bigint"), (types.is_uint8, "smallint"),
        (types.is_uint16, "int"), (types.is_uint32, "bigint"), (types.is_uint64, "decimal(20,0)"),
        (types.is_float16, "float"), (types.is_float32, "float"), (types.is_float64, "double"),
        (types.is_date, "date"), (types.is_timestamp, "timestamp"), (types.is_time32, "int"),
        (types.is_time64, "bigint"), (types.is_duration, "bigint"),
    ]
    for check, hive in simple:
        if check(t):
            return hive
    if types.is_string(t) or types.is_large_string(t) or _is(t, "is_string_view"):
        return "string"
    if (types.is_binary(t) or types.is_large_binary(t) or types.is_fixed_size_binary(t)
            or _is(t, "is_binary_view")):
        return "binary"
    if types.is_decimal(t):
        return _decimal(t.precision, t.scale)
    if (types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t)
            or _is(t, "is_list_view") or _is(t, "is_large_list_view")):
        return ("array", arrow_type(t.value_type))
    if types.is_map(t):
        return ("map", arrow_type(t.key_type), arrow_type(t.item_type))
    if types.is_struct(t):
        return ("struct", [(t.field(i).name, arrow_type(t.field(i).type))
                           for i in range(t.num_fields)])
    return "string"  # null, intervals, unions: no faithful Hive type


def _is(t: pa.DataType, check: str) -> bool:
    fn = getattr(pa.types, check, None)  # newer Arrow types; absent in older pyarrow
    return bool(fn and fn(t))


def arrow_columns(schema: pa.Schema) -> list[Column]:
    return [Column(f.name, format_type(arrow_type(f.type))) for f in schema]


# ----- Parquet ----------------------------------------------------------------------------------
class ParquetClassifier:
    """Parquet: ``PAR1`` at both ends; schema, row count and codec from the footer."""

    name = "parquet"

    def classify(self, sample: FileSample) -> Classification | None:
        if not sample.first_bytes.startswith(PARQUET_MAGIC):
            return None
        path = sample.path
        if sample.size < 12 or _tail(path, 4) != PARQUET_MAGIC:
            if not _looks_binary(_head(path, 256)):
                return None  # a text file that merely starts with "PAR1"
            raise ClassificationError(
                f"{path}: starts with the Parquet magic but has no Parquet footer "
                f"(truncated or not a complete Parquet file)")
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
            metadata = parquet.metadata
            schema = parquet.schema_arrow
            codecs: dict[str, int] = {}
            for g in range(metadata.num_row_groups):
                group = metadata.row_group(g)
                for c in range(group.num_columns):
                    codec = _codec_name(group.column(c).compression)
                    codecs[codec] = codecs.get(codec, 0) + 1
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ClassificationError(f"{path}: unreadable Parquet footer: {exc}") from exc
        params = {"classification": "parquet", "typeOfData": "file"}
        if codecs:
            # Column chunks may differ; the table records the codec most chunks use.
            params["compressionType"] = max(codecs, key=codecs.__getitem__)
        return Classification(
            classification="parquet",
            certainty=1.0,
            columns=arrow_columns(schema),
            parameters=params,
            serde={"SerializationLibrary": PARQUET_SERDE,
                   "Parameters": {"serialization.format": "1"}},
            input_format=PARQUET_INPUT,
            output_format=PARQUET_OUTPUT,
            record_count=metadata.num_rows,
            reason=(f"Parquet magic at both ends; footer: {metadata.num_rows} rows in "
                    f"{metadata.num_row_groups} row group(s), {len(schema)} column(s)"),
            classifier=self.name,
        )


# ----- ORC --------------------------------------------------------------------------------------
class OrcClassifier:
    """ORC: ``ORC`` at the start; schema, row count and codec from the footer/postscript."""

    name = "orc"

    def classify(self, sample: FileSample) -> Classification | None:
        if not sample.first_bytes.startswith(ORC_MAGIC):
            return None
        path = sample.path
        # The postscript ends with "ORC" followed by its one-byte length.
        if sample.size < 8 or _tail(path, 4)[:3] != ORC_MAGIC:
            if not _looks_binary(_head(path, 256)):
                return None  # a text file that merely starts with "ORC"
            raise ClassificationError(
                f"{path}: starts with the ORC magic but has no ORC postscript "
                f"(truncated or not a complete ORC file)")
        try:
            import pyarrow.orc as orc
        except ImportError as exc:  # pragma: no cover - pyarrow built without ORC
            raise ClassificationError(f"{path}: pyarrow has no ORC support: {exc}") from exc
        try:
            reader = orc.ORCFile(path)
            schema = reader.schema
            rows = reader.nrows
            codec = _codec_name(str(reader.compression))
            stripes = reader.nstripes
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ClassificationError(f"{path}: unreadable ORC footer: {exc}") from exc
        return Classification(
            classification="orc",
            certainty=1.0,
            columns=arrow_columns(schema),
            parameters={"classification": "orc", "typeOfData": "file", "compressionType": codec},
            serde={"SerializationLibrary": ORC_SERDE,
                   "Parameters": {"serialization.format": "1"}},
            input_format=ORC_INPUT,
            output_format=ORC_OUTPUT,
            record_count=rows,
            reason=(f"ORC magic and postscript; footer: {rows} rows in {stripes} stripe(s), "
                    f"{len(schema)} column(s), {codec}"),
            classifier=self.name,
        )


# ----- Avro -------------------------------------------------------------------------------------
_AVRO_PRIMITIVES = {"null": "string", "boolean": "boolean", "int": "int", "long": "bigint",
                    "float": "float", "double": "double", "bytes": "binary", "string": "string"}
_AVRO_LOGICAL = {"date": "date", "timestamp-millis": "timestamp",
                 "timestamp-micros": "timestamp", "timestamp-nanos": "timestamp",
                 "local-timestamp-millis": "timestamp", "local-timestamp-micros": "timestamp",
                 "local-timestamp-nanos": "timestamp", "time-millis": "int",
                 "time-micros": "bigint", "uuid": "string"}


class _AvroTypes:
    """Avro schema (as parsed JSON) to Hive types, resolving named-type references."""

    def __init__(self) -> None:
        self.named: dict[str, Type] = {}
        self.open_records: set[int] = set()  # records being converted (recursion guard)

    def convert(self, schema: Any, namespace: str = "") -> Type:
        if isinstance(schema, str):
            if schema in _AVRO_PRIMITIVES:
                return _AVRO_PRIMITIVES[schema]
            for key in (schema, f"{namespace}.{schema}", schema.rsplit(".", 1)[-1]):
                if key in self.named:
                    found = self.named[key]
                    # Hive types cannot recurse: a record referring to itself ends in string.
                    return "string" if id(found) in self.open_records else found
            raise ValueError(f"unknown Avro type {schema!r}")
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) == 1:
                return self.convert(branches[0], namespace)
            if not branches:
                return "string"
            for branch in branches:  # still register named types defined inside the union
                self.convert(branch, namespace)
            return "string"
        if not isinstance(schema, dict):
            raise ValueError(f"bad Avro schema node {schema!r}")
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if logical == "decimal" and kind in ("bytes", "fixed"):
            result: Type = _decimal(int(schema.get("precision", 0)), int(schema.get("scale", 0)))
            self._register(schema, namespace, result)
            return result
        if logical in _AVRO_LOGICAL:
            self._register(schema, namespace, _AVRO_LOGICAL[logical])
            return _AVRO_LOGICAL[logical]
        if kind == "record" or kind == "error":
            name, inner_ns = self._names(schema, namespace)
            fields: list[tuple[str, Type]] = []
            struct: Type = ("struct", fields)
            for key in self._keys(name):
                self.named[key] = struct
            self.open_records.add(id(struct))
            for f in schema.get("fields", []):
                fields.append((f["name"], self.convert(f["type"], inner_ns)))
            self.open_records.discard(id(struct))
            return struct
        if kind == "enum":
            self._register(schema, namespace, "string")
            return "string"
        if kind == "fixed":
            self._register(schema, namespace, "binary")
            return "binary"
        if kind == "array":
            return ("array", self.convert(schema["items"], namespace))
        if kind == "map":
            return ("map", "string", self.convert(schema["values"], namespace))
        return self.convert(kind, namespace)  # {"type": "long"} and friends

    @staticmethod
    def _names(schema: dict, namespace: str) -> tuple[str, str]:
        name = str(schema.get("name", ""))
        if "." in name:
            return name, name.rsplit(".", 1)[0]
        ns = str(schema.get("namespace", namespace) or "")
        return (f"{ns}.{name}" if ns else name), ns

    @staticmethod
    def _keys(fullname: str) -> list[str]:
        return [fullname, fullname.rsplit(".", 1)[-1]]

    def _register(self, schema: dict, namespace: str, t: Type) -> None:
        if "name" in schema:
            fullname, _ = self._names(schema, namespace)
            for key in self._keys(fullname):
                self.named[key] = t


def _read_long(fh: Any) -> int:
    """One zig-zag varint ``long`` from a binary stream."""
    shift = result = 0
    while True:
        byte = fh.read(1)
        if not byte:
            raise EOFError("unexpected end of file in a varint")
        b = byte[0]
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _read_bytes(fh: Any) -> bytes:
    length = _read_long(fh)
    if length < 0 or length > 1 << 26:
        raise ValueError(f"bad length {length} in the header")
    data = fh.read(length)
    if len(data) != length:
        raise EOFError("unexpected end of file in the header")
    return data


def _read_avro_header(fh: Any) -> tuple[dict[str, bytes], bytes]:
    """The header's metadata map and sync marker; leaves ``fh`` at the first block."""
    if fh.read(4) != AVRO_MAGIC:
        raise ValueError("no Avro magic")
    meta: dict[str, bytes] = {}
    while True:
        count = _read_long(fh)
        if count == 0:
            break
        if count < 0:
            count = -count
            _read_long(fh)  # block size in bytes
        for _ in range(count):
            key = _read_bytes(fh).decode("utf-8")
            meta[key] = _read_bytes(fh)
    sync = fh.read(16)
    if len(sync) != 16:
        raise EOFError("header ends before its sync marker")
    return meta, sync


def _count_avro_records(fh: Any, sync: bytes, size: int) -> tuple[int | None, int]:
    """Records and blocks, from block headers only (each block is seeked over, not decoded)."""
    records = blocks = 0
    while fh.tell() < size:
        if blocks >= MAX_AVRO_BLOCKS:
            return None, blocks
        start = fh.tell()
        count = _read_long(fh)
        length = _read_long(fh)
        if count < 0 or length < 0:
            raise ValueError(f"bad block header at byte {start}")
        end = fh.tell() + length
        if end + 16 > size:
            raise EOFError(f"block {blocks + 1} at byte {start} runs past the end of the file")
        fh.seek(end)
        if fh.read(16) != sync:
            raise ValueError(f"block {blocks + 1} at byte {start} lacks the sync marker")
        records += count
        blocks += 1
    return records, blocks


class AvroClassifier:
    """Avro object container files: ``Obj\\x01``; schema and codec from the header."""

    name = "avro"

    def classify(self, sample: FileSample) -> Classification | None:
        if not sample.first_bytes.startswith(AVRO_MAGIC):
            return None
        import fastavro

        path = sample.path
        try:
            with open(path, "rb") as fh:
                reader = fastavro.reader(fh)  # parses and validates the header's schema
                schema = reader.writer_schema
                fh.seek(0)
                meta, sync = _read_avro_header(fh)
                records, blocks = _count_avro_records(fh, sync, sample.size)
        except Exception as exc:  # fastavro raises many types for a bad header
            raise ClassificationError(f"{path}: unreadable Avro file: {exc}") from exc
        try:
            hive = _AvroTypes().convert(schema)
        except (ValueError, KeyError, TypeError) as exc:
            raise ClassificationError(f"{path}: unsupported Avro schema: {exc}") from exc
        if not (isinstance(hive, tuple) and hive[0] == "struct"):
            raise ClassificationError(
                f"{path}: top-level Avro schema is {format_type(hive)}, not a record; "
                f"it has no columns")
        literal = meta.get("avro.schema", b"").decode("utf-8") or json.dumps(schema)
        codec = _codec_name(meta.get("avro.codec", b"null").decode("utf-8") or "null")
        return Classification(
            classification="avro",
            certainty=1.0,
            columns=[Column(n, format_type(t)) for n, t in hive[1]],
            parameters={"classification": "avro", "typeOfData": "file",
                        "compressionType": codec, "avro.schema.literal": literal},
            serde={"SerializationLibrary": AVRO_SERDE,
                   "Parameters": {"avro.schema.literal": literal,
                                  "serialization.format": "1"}},
            input_format=AVRO_INPUT,
            output_format=AVRO_OUTPUT,
            record_count=records,
            reason=(f"Avro magic; header schema with {len(hive[1])} field(s), codec {codec}; "
                    + (f"{records} records in {blocks} block(s)" if records is not None
                       else f"more than {blocks} blocks, records not counted")),
            classifier=self.name,
        )


AVRO = AvroClassifier()
ORC = OrcClassifier()
PARQUET = ParquetClassifier()
