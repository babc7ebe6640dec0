"""Schemas the crawler records: widening across files, visible choices, CSV typing, codecs and
table statistics."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pyarrow as pa

from .helpers import (
    columns,
    crawl,
    csv_text,
    table,
    write_avro,
    write_csv,
    write_gzip,
    write_json_lines,
    write_orc,
    write_parquet,
)


def _choices(t: dict) -> dict[str, str]:
    return {
        c["Name"]: c["Parameters"]["etl.choice"]
        for c in t["StorageDescriptor"]["Columns"]
        if "etl.choice" in c.get("Parameters", {})
    }


def test_types_widen_across_files_and_conflicts_show_the_choice(catalog, tmp_path: Path):
    root = tmp_path / "metrics"
    base = {"host": "a", "region": "eu", "ok": True}
    write_json_lines(
        root / "day=1" / "m.json",
        [{**base, "small": 1, "ratio": 2, "code": 7}, {**base, "small": 2, "ratio": 3, "code": 8}],
    )
    write_json_lines(
        root / "day=2" / "m.json", [{**base, "small": 2**40, "ratio": 0.5, "code": "E42"}]
    )

    result = crawl(catalog, root)

    assert result.tables_created == ["metrics"]
    t = table(catalog, "metrics")
    assert columns(t) == {
        "host": "string",
        "region": "string",
        "ok": "boolean",
        "small": "bigint",
        "ratio": "double",
        "code": "string",
    }
    # int and bigint (or int and double) widen without loss: no choice. int vs string does not.
    assert _choices(t) == {"code": "int|string"}
    # Each partition keeps its own files' schema.
    day2 = catalog.get_partition("db", "metrics", ["2"])["Partition"]
    assert {c["Name"]: c["Type"] for c in day2["StorageDescriptor"]["Columns"]}["code"] == "string"


def test_a_conflict_inside_one_file_is_visible_in_the_catalog(catalog, tmp_path: Path):
    root = tmp_path / "mixed"
    write_json_lines(root / "a.json", [{"id": 1, "zip": 12345}, {"id": 2, "zip": "SW1A"}])

    crawl(catalog, root)

    t = table(catalog, "mixed")
    assert columns(t) == {"id": "int", "zip": "string"}
    assert _choices(t) == {"zip": "int|string"}


def test_parquet_files_with_int_and_bigint_widen(catalog, tmp_path: Path):
    root = tmp_path / "pq"
    write_parquet(
        root / "p=1" / "a.parquet",
        {"id": [1], "v": [1.0]},
        schema=pa.schema([("id", pa.int32()), ("v", pa.float32())]),
    )
    write_parquet(
        root / "p=2" / "a.parquet",
        {"id": [2**40], "v": [2.0]},
        schema=pa.schema([("id", pa.int64()), ("v", pa.float64())]),
    )

    crawl(catalog, root)

    t = table(catalog, "pq")
    assert columns(t) == {"id": "bigint", "v": "double"}
    assert _choices(t) == {}


def test_csv_with_header_gets_typed_columns(catalog, tmp_path: Path):
    root = tmp_path / "people"
    rows = [
        [i, f"name {i}", i * 1.5, f"2024-01-{i + 1:02d}", "true" if i % 2 else "false"]
        for i in range(6)
    ]
    write_csv(root / "people.csv", rows, header=["id", "name", "score", "joined", "active"])

    crawl(catalog, root)

    t = table(catalog, "people")
    assert columns(t) == {
        "id": "bigint",
        "name": "string",
        "score": "double",
        "joined": "date",
        "active": "boolean",
    }
    params = t["Parameters"]
    assert params["classification"] == "csv"
    assert params["delimiter"] == "," and params["skip.header.line.count"] == "1"
    assert params["recordCount"] == "6"
    assert t["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("LazySimpleSerDe")


def test_csv_without_header_is_col0_col1(catalog, tmp_path: Path):
    root = tmp_path / "raw"
    write_csv(root / "a.csv", [[i, f"n{i}", i / 4] for i in range(5)])

    crawl(catalog, root)

    t = table(catalog, "raw")
    assert columns(t) == {"col0": "bigint", "col1": "string", "col2": "double"}
    assert t["Parameters"]["skip.header.line.count"] == "0"
    assert t["Parameters"]["recordCount"] == "5"


def test_pipe_delimited_csv(catalog, tmp_path: Path):
    root = tmp_path / "piped"
    write_csv(
        root / "a.txt", [[i, f"n{i}"] for i in range(4)], header=["id", "name"], delimiter="|"
    )

    crawl(catalog, root)

    t = table(catalog, "piped")
    assert columns(t) == {"id": "bigint", "name": "string"}
    assert t["Parameters"]["delimiter"] == "|"


def test_gzip_csv_records_compression_type(catalog, tmp_path: Path):
    root = tmp_path / "zipped"
    write_gzip(
        root / "a.csv.gz", csv_text([[i, f"n{i}"] for i in range(10)], header=["id", "name"])
    )

    crawl(catalog, root)

    t = table(catalog, "zipped")
    assert columns(t) == {"id": "bigint", "name": "string"}
    assert t["Parameters"]["compressionType"] == "gzip"
    assert t["StorageDescriptor"]["Compressed"] is True
    assert t["Parameters"]["recordCount"] == "10"


def test_orc_and_avro_schemas_come_from_their_metadata(catalog, tmp_path: Path):
    root = tmp_path / "cols"
    write_orc(
        root / "o" / "a.orc",
        {
            "id": [1, 2, 3],
            "name": ["a", "b", "c"],
            "day": [datetime.date(2024, 1, d) for d in (1, 2, 3)],
        },
    )
    schema = {
        "type": "record",
        "name": "Event",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "tag", "type": ["null", "string"]},
            {"name": "score", "type": "float"},
        ],
    }
    write_avro(
        root / "v" / "a.avro", schema, [{"id": i, "tag": None, "score": 0.5} for i in range(4)]
    )

    crawl(catalog, root)

    orc_t, avro_t = table(catalog, "o"), table(catalog, "v")
    assert orc_t["Parameters"]["classification"] == "orc"
    assert columns(orc_t) == {"id": "bigint", "name": "string", "day": "date"}
    assert orc_t["Parameters"]["recordCount"] == "3"
    assert avro_t["Parameters"]["classification"] == "avro"
    assert columns(avro_t) == {"id": "bigint", "tag": "string", "score": "float"}
    assert avro_t["Parameters"]["recordCount"] == "4"
    assert "avro.schema.literal" in avro_t["Parameters"]


def test_statistics_parameters_are_present_and_sane(catalog, tmp_path: Path):
    root = tmp_path / "stats"
    files = [
        write_json_lines(root / "dt=1" / "a.json", [{"id": i, "name": "x" * i} for i in range(10)]),
        write_json_lines(root / "dt=1" / "b.json", [{"id": i, "name": "y"} for i in range(5)]),
        write_json_lines(root / "dt=2" / "a.json", [{"id": i, "name": "z"} for i in range(7)]),
    ]
    write_parquet(tmp_path / "pq" / "a.parquet", {"id": list(range(1000))})

    crawl(catalog, [root, tmp_path / "pq"], Name="stats_crawler")

    params = table(catalog, "stats")["Parameters"]
    size = sum(os.path.getsize(f) for f in files)
    assert params["classification"] == "json"
    assert params["UPDATED_BY_CRAWLER"] == "stats_crawler"
    assert params["objectCount"] == "3"
    assert params["recordCount"] == "22"
    assert params["sizeKey"] == str(size)
    assert params["averageRecordSize"] == str(size // 22)
    dt1 = catalog.get_partition("db", "stats", ["1"])["Partition"]["Parameters"]
    assert dt1["objectCount"] == "2" and dt1["recordCount"] == "15"
    pq_params = table(catalog, "pq")["Parameters"]
    assert pq_params["recordCount"] == "1000" and pq_params["classification"] == "parquet"
    assert int(pq_params["averageRecordSize"]) == int(pq_params["sizeKey"]) // 1000
