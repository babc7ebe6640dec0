"""Compressed text files are classified through their codec, which the table records."""

from __future__ import annotations

import bz2
import gzip
import json
import struct
from pathlib import Path

import pyarrow as pa
import pytest

from etl.crawler.classifiers.base import builtin_classifiers
from etl.crawler.crawler import classify
from etl.crawler.sample import FileSample

from .helpers import crawl, table

LINES = "".join(json.dumps({"id": i, "name": f"n{i}", "score": i * 1.5}) + "\n" for i in range(50)).encode()


def _hadoop_snappy(data: bytes) -> bytes:
    """Hadoop's block framing, as Hadoop/Spark write .snappy text: [raw len][chunk len][chunk]."""
    chunk = pa.Codec("snappy").compress(data, asbytes=True)
    return struct.pack(">I", len(data)) + struct.pack(">I", len(chunk)) + chunk


def _arrow_stream(path: Path, data: bytes, codec: str) -> None:
    with pa.output_stream(str(path), compression=codec) as out:
        out.write(data)


WRITERS = {
    "gzip": (".json.gz", lambda p: p.write_bytes(gzip.compress(LINES))),
    "bzip2": (".json.bz2", lambda p: p.write_bytes(bz2.compress(LINES))),
    "zstd": (".json.zst", lambda p: _arrow_stream(p, LINES, "zstd")),
    "lz4": (".json.lz4", lambda p: _arrow_stream(p, LINES, "lz4")),
    "snappy": (".json.snappy", lambda p: p.write_bytes(_hadoop_snappy(LINES))),
}


@pytest.mark.parametrize("codec", sorted(WRITERS))
def test_compressed_json_lines_are_classified_and_codec_recorded(tmp_path: Path, codec: str) -> None:
    suffix, write = WRITERS[codec]
    path = tmp_path / "events" / f"part-0{suffix}"
    path.parent.mkdir(parents=True)
    write(path)
    sample = FileSample.of(path)
    assert sample.compression == codec
    assert sample.head == LINES
    verdict = classify(sample, builtin_classifiers())
    assert verdict is not None and verdict.classification == "json" and verdict.certainty == 1.0

    from etl.catalog import Catalog

    catalog = Catalog(f"sqlite:///{tmp_path}/c.db")
    result = crawl(catalog, tmp_path / "events")
    assert result.errors == []
    params = table(catalog, "events")["Parameters"]
    assert params["classification"] == "json"
    assert params["compressionType"] == codec
    assert table(catalog, "events")["StorageDescriptor"]["Compressed"] is True


def test_a_corrupt_compressed_file_is_reported_not_fatal(tmp_path: Path) -> None:
    from etl.catalog import Catalog

    good = tmp_path / "events" / "a.json.gz"
    good.parent.mkdir(parents=True)
    good.write_bytes(gzip.compress(LINES))
    (tmp_path / "events" / "b.json.gz").write_bytes(gzip.compress(LINES)[:40])  # truncated stream
    catalog = Catalog(f"sqlite:///{tmp_path}/c.db")
    result = crawl(catalog, tmp_path / "events")
    assert [Path(e.path).name for e in result.errors] == ["b.json.gz"]
    assert "gzip" in result.errors[0].reason
    assert table(catalog, "events")["Parameters"]["compressionType"] == "gzip"
