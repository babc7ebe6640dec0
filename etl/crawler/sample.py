"""Bounded reads of a file for classification: the first MB, or the first 1,000 records.

Compressed text files (gzip, bz2, zstd, lz4 frame, Hadoop snappy) are decompressed on the fly
and the codec is reported, as Glue records ``compressionType``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import struct
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pyarrow as pa

from etl.errors import ClassificationError

SAMPLE_BYTES = 1 << 20
SAMPLE_RECORDS = 1000

_MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
]
_EXTENSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".zst": "zstd", ".zstd": "zstd",
               ".lz4": "lz4", ".snappy": "snappy"}
# Columnar formats compress inside the file; their extension is not a stream codec.
_SELF_DESCRIBING = (b"PAR1", b"ORC", b"Obj\x01")
# Control bytes that do not occur in text; Ctrl-A (\x01) is Hive's default field delimiter.
_CONTROL_BYTES = bytes(b for b in range(32) if (b < 9 or 13 < b) and b != 1)


def detect_compression(path: str | Path, first_bytes: bytes) -> str | None:
    """The stream codec of a file from its magic bytes, else its extension."""
    if first_bytes.startswith(_SELF_DESCRIBING):
        return None
    for magic, name in _MAGIC:
        if first_bytes.startswith(magic):
            return name
    return _EXTENSIONS.get(Path(path).suffix.lower())


def _hadoop_snappy(raw: io.BufferedReader, limit: int) -> bytes:
    """Hadoop's block-framed snappy: [uncompressed len][compressed len][chunk]..."""
    codec = pa.Codec("snappy")
    out = bytearray()
    while len(out) < limit:
        header = raw.read(4)
        if len(header) < 4:
            break
        (block_len,) = struct.unpack(">I", header)
        produced = 0
        while produced < block_len:
            size_bytes = raw.read(4)
            if len(size_bytes) < 4:
                raise ClassificationError("truncated snappy block")
            (chunk_len,) = struct.unpack(">I", size_bytes)
            chunk = raw.read(chunk_len)
            if len(chunk) < chunk_len:
                raise ClassificationError("truncated snappy chunk")
            data = codec.decompress(chunk, decompressed_size=_snappy_length(chunk)).to_pybytes()
            out += data
            produced += len(data)
    return bytes(out[:limit])


def _snappy_length(chunk: bytes) -> int:
    """The uncompressed length varint at the start of a raw snappy chunk."""
    result = shift = 0
    for byte in chunk[:5]:
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
    raise ClassificationError("bad snappy length header")


@dataclass
class FileSample:
    """One file as classifiers see it."""

    path: str
    size: int
    mtime: float
    limit: int = SAMPLE_BYTES
    _head: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, path: str | Path, limit: int = SAMPLE_BYTES) -> FileSample:
        stat = os.stat(path)
        return cls(str(path), stat.st_size, stat.st_mtime, limit)

    @cached_property
    def first_bytes(self) -> bytes:
        with open(self.path, "rb") as fh:
            return fh.read(16)

    @cached_property
    def compression(self) -> str | None:
        return detect_compression(self.path, self.first_bytes)

    @property
    def head(self) -> bytes:
        """Up to ``limit`` bytes of the (decompressed) content.

        Raises:
            ClassificationError: the file cannot be decompressed.
        """
        if self._head is None:
            self._head = self._read_head()
        return self._head

    @property
    def truncated(self) -> bool:
        """Whether the sample stops before the end of the content."""
        return len(self.head) >= self.limit

    def _read_head(self) -> bytes:
        codec = self.compression
        try:
            if codec is None:
                with open(self.path, "rb") as fh:
                    return fh.read(self.limit)
            if codec == "gzip":
                with gzip.open(self.path, "rb") as fh:
                    return fh.read(self.limit)
            if codec == "bzip2":
                with bz2.open(self.path, "rb") as fh:
                    return fh.read(self.limit)
            if codec in ("zstd", "lz4"):
                with pa.input_stream(self.path, compression=codec) as fh:
                    return fh.read(self.limit)
            if codec == "snappy":
                with open(self.path, "rb") as raw:
                    return _hadoop_snappy(raw, self.limit)
        except (OSError, EOFError, ValueError, pa.ArrowException) as exc:
            raise ClassificationError(f"{self.path}: cannot read {codec or 'file'}: {exc}") from exc
        raise ClassificationError(f"{self.path}: unsupported compression {codec}")

    def text(self) -> str:
        """The sample decoded as UTF-8 (undecodable bytes replaced)."""
        return self._text

    @cached_property
    def _text(self) -> str:
        return self.head.decode("utf-8", errors="replace")

    @cached_property
    def _lines(self) -> list[str]:
        text = self._text
        if self.truncated and "\n" in text:
            text = text[: text.rfind("\n")]
        return [line.rstrip("\r") for line in text.split("\n") if line.strip()]

    def lines(self, limit: int = SAMPLE_RECORDS) -> list[str]:
        """Up to ``limit`` complete, non-empty lines of the sample (decoded once per file:
        every classifier asks for them)."""
        return self._lines[:limit]

    @cached_property
    def is_binary(self) -> bool:
        """Heuristic: NUL bytes or many control bytes in the first KB of content."""
        chunk = self.head[:1024]
        if not chunk:
            return False
        if b"\x00" in chunk:
            return True
        control = len(chunk) - len(chunk.translate(None, _CONTROL_BYTES))
        return control / len(chunk) > 0.1
