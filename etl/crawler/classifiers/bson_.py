"""Glue's BSON classifier: a file of BSON documents one after another (``mongodump`` output).

Each document is framed by its little-endian int32 length and ends with a NUL byte. The file is
BSON when the first frame is plausible (5 bytes to 16 MiB, ends in NUL, starts with a valid
element type) and decodes; up to 1,000 documents are decoded for the schema, and the frames of
the rest of the sample are only walked, which gives the exact record count when the sample covers
the whole file. A frame that breaks after the first good document makes the file a corrupt BSON
file (:class:`ClassificationError`).

Leaf types: ObjectId, regex, code, MinKey/MaxKey, DBRef -> string; datetime and the internal
BSON Timestamp -> timestamp; Int64 -> bigint (whatever its value); other ints -> int/bigint by
value; binary (any subtype) -> binary. Decimal128 -> decimal(38,18) when the value fits it exactly
(at most 20 integer and 18 fractional digits), otherwise string: Decimal128 carries 34 digits with
a floating exponent, so no fixed Hive decimal holds every value; values that would be rounded or
overflowed are kept as text instead (and the column shows the choice).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.timestamp import Timestamp

from etl.crawler.classifiers._records import columns_of, decimal_type, text_parameters
from etl.crawler.model import Classification
from etl.crawler.sample import SAMPLE_RECORDS, FileSample
from etl.crawler.types import NULL, Type, infer_value, widen
from etl.errors import ClassificationError

# mongo-hadoop's Hive SerDe and formats for BSON dumps (Glue publishes none of its own).
BSON_SERDE = "com.mongodb.hadoop.hive.BSONSerDe"
BSON_INPUT = "com.mongodb.hadoop.mapred.BSONFileInputFormat"
BSON_OUTPUT = "com.mongodb.hadoop.hive.output.HiveBSONFileOutputFormat"

MAX_DOCUMENT = 16 * 1024 * 1024  # MongoDB's maximum BSON document size
_ELEMENT_TYPES = set(range(0x01, 0x14)) | {0x7F, 0xFF}
_CODEC = CodecOptions(tz_aware=False)


def bson_type(value: Any) -> Type:
    """The Hive type of a decoded BSON value (see the module docstring)."""
    if isinstance(value, Int64):
        return "bigint"
    if isinstance(value, Decimal128):
        return decimal_type(value.to_decimal())
    if isinstance(value, (Timestamp, datetime)) or type(value).__name__ == "DatetimeMS":
        return "timestamp"
    if isinstance(value, Mapping):
        fields: list[tuple[str, Type]] = []
        for key, item in value.items():
            fields.append((str(key), bson_type(item)))
        return ("struct", fields)
    if isinstance(value, (list, tuple)):
        element: Type = NULL
        for item in value:
            element, _ = widen(element, bson_type(item))
        return ("array", element)
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    t = infer_value(value)
    return t if isinstance(t, str) else "string"


def _frame_ok(data: bytes, pos: int) -> int | None:
    """The length of a plausible BSON document at ``pos`` (needs only its first 5 bytes)."""
    if len(data) - pos < 5:
        return None
    (length,) = struct.unpack_from("<i", data, pos)
    if not 5 <= length <= MAX_DOCUMENT:
        return None
    if length == 5:
        return length if data[pos + 4] == 0 else None
    if data[pos + 4] not in _ELEMENT_TYPES:
        return None
    if pos + length <= len(data) and data[pos + length - 1] != 0:
        return None
    return length


class BsonClassifier:
    """Concatenated BSON documents."""

    name = "bson"

    def classify(self, sample: FileSample) -> Classification | None:
        head = sample.head
        first = _frame_ok(head, 0)
        if first is None:
            return None
        if first > len(head):
            if sample.compression is not None or first > sample.size:
                return None  # the first document is not even in the file / sample
            with open(sample.path, "rb") as fh:  # one document larger than the sample
                head = fh.read(first)
        docs: list[Mapping[str, Any]] = []
        frames = 0
        pos = 0
        while pos < len(head):
            length = _frame_ok(head, pos)
            cut = length is not None and pos + length > len(head) or len(head) - pos < 5
            if cut and sample.truncated:
                break  # the sample ends inside this document
            if length is None or cut:
                if frames == 0:
                    return None
                raise ClassificationError(
                    f"{sample.path}: BSON document {frames + 1} at byte {pos} is "
                    + ("cut short (truncated file)" if cut
                       else "not a valid BSON frame (corrupt file)"))
            if frames < SAMPLE_RECORDS:
                try:
                    docs.append(bson.decode(head[pos:pos + length], codec_options=_CODEC))
                except Exception as exc:  # bson raises InvalidBSON and friends
                    if frames == 0:
                        return None
                    raise ClassificationError(
                        f"{sample.path}: BSON document {frames + 1} at byte {pos} "
                        f"does not decode: {exc}") from exc
            frames += 1
            pos += length
        if not docs:
            return None
        exact = not sample.truncated and pos == len(head)
        columns = columns_of(bson_type(doc)[1] for doc in docs)
        return Classification(
            classification="bson",
            certainty=1.0,
            columns=columns,
            parameters=text_parameters(sample, "bson"),
            serde={"SerializationLibrary": BSON_SERDE, "Parameters": {}},
            input_format=BSON_INPUT,
            output_format=BSON_OUTPUT,
            record_count=frames if exact else None,
            reason=(f"length-framed BSON documents: {len(docs)} decoded"
                    + (f" of {frames} framed" if frames > len(docs) else "")
                    + f", {len(columns)} top-level field(s)"
                    + ("" if exact else " (sample truncated)")),
            classifier=self.name,
        )


BSON = BsonClassifier()
