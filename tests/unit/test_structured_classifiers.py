"""Built-in structured classifiers (Avro, ORC, Parquet, JSON, BSON, XML, Ion) on a real corpus.

Every file is written by the format's own library (pyarrow, fastavro, bson, amazon-ion, json);
each classifier must claim its own files with exact columns and reject every other file.
"""

from __future__ import annotations

import datetime
import gzip
import json
from decimal import Decimal
from pathlib import Path

import bson
import fastavro
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest
from amazon.ion import simpleion

from etl.crawler.classifiers import bson_, columnar, ion_, json_, xml_
from etl.crawler.classifiers.base import BUILTIN_ORDER
from etl.crawler.model import Classification
from etl.crawler.sample import FileSample
from etl.errors import ClassificationError, ConfigError

STRUCTURED = {
    "avro": columnar.AVRO, "orc": columnar.ORC, "parquet": columnar.PARQUET,
    "json": json_.JSON, "bson": bson_.BSON, "xml": xml_.XML, "ion": ion_.ION,
}

# ----- corpus -----------------------------------------------------------------------------------
ARROW_TABLE = pa.table({
    "i8": pa.array([1, 2], pa.int8()),
    "i16": pa.array([1, 2], pa.int16()),
    "i32": pa.array([1, 2], pa.int32()),
    "i64": pa.array([1, 2], pa.int64()),
    "f32": pa.array([1.5, 2.5], pa.float32()),
    "f64": pa.array([1.5, 2.5], pa.float64()),
    "s": pa.array(["a", "b"]),
    "flag": pa.array([True, False]),
    "raw": pa.array([b"x", b"y"], pa.binary()),
    "day": pa.array([datetime.date(2024, 1, 1)] * 2, pa.date32()),
    "ts": pa.array([1, 2], pa.timestamp("ms", tz="UTC")),
    "price": pa.array([Decimal("1.25"), Decimal("2.50")], pa.decimal128(10, 2)),
    "tags": pa.array([["a"], ["b", "c"]], pa.list_(pa.string())),
    "point": pa.array([{"x": 1, "y": [1.0]}, {"x": 2, "y": []}],
                      pa.struct([("x", pa.int32()), ("y", pa.list_(pa.float64()))])),
    "attrs": pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
})
ARROW_COLUMNS = [
    ("i8", "tinyint"), ("i16", "smallint"), ("i32", "int"), ("i64", "bigint"),
    ("f32", "float"), ("f64", "double"), ("s", "string"), ("flag", "boolean"),
    ("raw", "binary"), ("day", "date"), ("ts", "timestamp"), ("price", "decimal(10,2)"),
    ("tags", "array<string>"), ("point", "struct<x:int,y:array<double>>"),
    ("attrs", "map<string,bigint>"),
]

AVRO_SCHEMA = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "qty", "type": ["int", "string"]},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 12, "scale": 3}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "OLD"]}},
        {"name": "ratio", "type": "float"},
        {"name": "ok", "type": "boolean"},
        {"name": "blob", "type": {"type": "fixed", "name": "Md5", "size": 2}},
        {"name": "lines", "type": {"type": "array", "items": {
            "type": "record", "name": "Line", "fields": [
                {"name": "sku", "type": "string"}, {"name": "n", "type": "int"}]}}},
        {"name": "first", "type": ["null", "Line"]},
        {"name": "props", "type": {"type": "map", "values": "double"}},
    ],
}
AVRO_COLUMNS = [
    ("id", "bigint"), ("note", "string"), ("qty", "string"), ("day", "date"),
    ("at", "timestamp"), ("amount", "decimal(12,3)"), ("status", "string"), ("ratio", "float"),
    ("ok", "boolean"), ("blob", "binary"), ("lines", "array<struct<sku:string,n:int>>"),
    ("first", "struct<sku:string,n:int>"), ("props", "map<string,double>"),
]
AVRO_ROWS = 25


def _avro_record(i: int) -> dict:
    return {
        "id": i, "note": None if i % 2 else "hi", "qty": i if i % 3 else "many",
        "day": datetime.date(2024, 1, 1), "at": datetime.datetime(2024, 1, 1, 12, 0),
        "amount": Decimal("12.345"), "status": "NEW", "ratio": 0.5, "ok": True, "blob": b"ab",
        "lines": [{"sku": "a", "n": 1}], "first": {"sku": "a", "n": 1} if i % 2 else None,
        "props": {"w": 1.0},
    }


BSON_DOCS = [
    {"_id": bson.ObjectId(), "n": i, "big": bson.Int64(i), "x": 1.5, "name": f"n{i}",
     "at": datetime.datetime(2024, 1, 1), "price": bson.Decimal128("19.99"), "ok": True,
     "blob": bson.Binary(b"\x00\x01"), "addr": {"city": "Paris", "zip": "75001"},
     "tags": ["a", "b"], "gone": None}
    for i in range(30)
]
BSON_COLUMNS = [
    ("_id", "string"), ("n", "int"), ("big", "bigint"), ("x", "double"), ("name", "string"),
    ("at", "timestamp"), ("price", "decimal(38,18)"), ("ok", "boolean"), ("blob", "binary"),
    ("addr", "struct<city:string,zip:string>"), ("tags", "array<string>"), ("gone", "string"),
]

ION_VALUES = [
    {"id": i, "name": f"n{i}", "price": Decimal("12.50"), "ratio": 0.25, "ok": True,
     "at": datetime.datetime(2024, 1, 1, 10, 0, tzinfo=datetime.UTC),
     "tags": ["a", "b"], "dims": {"w": 1, "h": 2}, "blob": b"\x01\x02"}
    for i in range(40)
]
ION_COLUMNS = [
    ("id", "int"), ("name", "string"), ("price", "decimal(38,18)"), ("ratio", "double"),
    ("ok", "boolean"), ("at", "timestamp"), ("tags", "array<string>"),
    ("dims", "struct<w:int,h:int>"), ("blob", "binary"),
]

JSON_RECORDS = [
    {"id": i, "name": f"user{i}", "score": i / 2, "active": i % 2 == 0,
     "address": {"city": "Lyon", "zip": "69001"}, "tags": ["x", "y"],
     **({"nickname": "nick"} if i == 3 else {})}
    for i in range(50)
]
JSON_COLUMNS = [
    ("id", "int"), ("name", "string"), ("score", "double"), ("active", "boolean"),
    ("address", "struct<city:string,zip:string>"), ("tags", "array<string>"),
    ("nickname", "string"),
]

XML_DOC = """<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns:x="urn:extra">
  <!-- a comment -->
  <book id="1" lang="en">
    <title>Dune</title>
    <price currency="EUR">9.99</price>
    <published>1965-08-01</published>
    <author><first>Frank</first><last>Herbert</last></author>
    <tag>scifi</tag><tag>classic</tag>
    <x:rank>1</x:rank>
  </book>
  <book id="2">
    <title>Emma</title>
    <price currency="GBP">5</price>
    <published>1815-12-23</published>
    <author><first>Jane</first><last>Austen</last></author>
    <tag>novel</tag>
  </book>
  <book id="3" lang="fr">
    <title>Candide</title>
    <price currency="EUR">3.5</price>
    <published>1759-01-15</published>
    <author><first>Voltaire</first></author>
  </book>
</catalog>
"""
XML_COLUMNS = [
    ("_id", "int"), ("_lang", "string"), ("title", "string"),
    ("price", "struct<_currency:string,_VALUE:double>"), ("published", "date"),
    ("author", "struct<first:string,last:string>"), ("tag", "array<string>"),
    ("x:rank", "int"),
]

CSV_TEXT = "id,name,score\n1,ann,1.5\n2,bob,2.5\n"
LOG_TEXT = '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326\n'


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpus")
    files: dict[str, Path] = {}

    for codec in ("snappy", "gzip", "zstd", "none"):
        files[f"parquet_{codec}"] = d / f"data_{codec}.parquet"
        pq.write_table(ARROW_TABLE, files[f"parquet_{codec}"], compression=codec)
    for codec in ("zlib", "snappy", "uncompressed"):
        files[f"orc_{codec}"] = d / f"data_{codec}.orc"
        orc.write_table(ARROW_TABLE, files[f"orc_{codec}"], compression=codec)

    files["avro"] = d / "orders.avro"
    with open(files["avro"], "wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(AVRO_SCHEMA),
                        [_avro_record(i) for i in range(AVRO_ROWS)], codec="deflate",
                        sync_interval=200)

    files["bson"] = d / "users.bson"
    files["bson"].write_bytes(b"".join(bson.encode(doc) for doc in BSON_DOCS))

    files["ion_text"] = d / "items.ion"
    files["ion_text"].write_text(
        "\n".join(simpleion.dumps(v, binary=False, omit_version_marker=True)
                  for v in ION_VALUES))
    files["ion_binary"] = d / "items.10n"
    files["ion_binary"].write_bytes(
        simpleion.dumps(ION_VALUES, binary=True, sequence_as_stream=True))

    jsonl = "\n".join(json.dumps(r) for r in JSON_RECORDS) + "\n"
    files["jsonl"] = d / "users.jsonl"
    files["jsonl"].write_text(jsonl)
    files["jsonl_gz"] = d / "users.jsonl.gz"
    files["jsonl_gz"].write_bytes(gzip.compress(jsonl.encode()))
    files["json_array"] = d / "users.json"
    files["json_array"].write_text(json.dumps(JSON_RECORDS, indent=2))
    files["json_object"] = d / "one.json"
    files["json_object"].write_text(json.dumps(JSON_RECORDS[3], indent=4))

    files["xml"] = d / "books.xml"
    files["xml"].write_text(XML_DOC)
    files["csv"] = d / "people.csv"
    files["csv"].write_text(CSV_TEXT)
    files["log"] = d / "access.log"
    files["log"].write_text(LOG_TEXT * 5)
    files["empty"] = d / "empty.txt"
    files["empty"].write_text("")
    return files


def classify(classifier, path: Path, limit: int | None = None) -> Classification | None:
    sample = FileSample.of(path) if limit is None else FileSample.of(path, limit=limit)
    return classifier.classify(sample)


def cols(result: Classification) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in result.columns]


# Which corpus files each classifier owns; every other file must give None.
OWNED = {
    "parquet": {"parquet_snappy", "parquet_gzip", "parquet_zstd", "parquet_none"},
    "orc": {"orc_zlib", "orc_snappy", "orc_uncompressed"},
    "avro": {"avro"},
    "json": {"jsonl", "jsonl_gz", "json_array", "json_object"},
    "bson": {"bson"},
    "xml": {"xml"},
    "ion": {"ion_text", "ion_binary"},
}


def test_builtin_order_resolves_to_these_classifiers() -> None:
    from importlib import import_module

    for name, classifier in STRUCTURED.items():
        module, attribute = BUILTIN_ORDER[name].split(":")
        assert getattr(import_module(module), attribute) is classifier
        assert classifier.name == name


@pytest.mark.parametrize("name", sorted(STRUCTURED))
def test_other_formats_are_not_claimed(name: str, corpus: dict[str, Path]) -> None:
    classifier = STRUCTURED[name]
    for key, path in corpus.items():
        result = classify(classifier, path)
        if key in OWNED[name]:
            assert result is not None and result.certainty == 1.0, key
            assert result.classification == name and result.classifier == name
            assert result.reason and "\n" not in result.reason
            assert result.parameters["classification"] == name
            assert result.parameters["typeOfData"] == "file"
        else:
            assert result is None, f"{name} claimed {key}: {result}"


# ----- Parquet / ORC ----------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["snappy", "gzip", "zstd", "none"])
def test_parquet_footer(codec: str, corpus: dict[str, Path]) -> None:
    result = classify(columnar.PARQUET, corpus[f"parquet_{codec}"])
    assert result is not None
    assert cols(result) == ARROW_COLUMNS
    assert result.record_count == 2
    assert result.parameters["compressionType"] == codec
    assert result.serde["SerializationLibrary"] == (
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    assert result.input_format == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert result.output_format == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


@pytest.mark.parametrize("codec,expected", [("zlib", "zlib"), ("snappy", "snappy"),
                                            ("uncompressed", "none")])
def test_orc_footer(codec: str, expected: str, corpus: dict[str, Path]) -> None:
    result = classify(columnar.ORC, corpus[f"orc_{codec}"])
    assert result is not None
    assert cols(result) == ARROW_COLUMNS
    assert result.record_count == 2
    assert result.parameters["compressionType"] == expected
    assert result.serde["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
    assert result.input_format == "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"
    assert result.output_format == "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat"


def test_arrow_type_mapping_edges() -> None:
    table = pa.table({
        "u8": pa.array([1], pa.uint8()), "u32": pa.array([1], pa.uint32()),
        "u64": pa.array([1], pa.uint64()), "big": pa.array([Decimal(1)], pa.decimal256(40, 2)),
        "ls": pa.array(["a"], pa.large_string()),
        "dict": pa.array(["a"]).dictionary_encode(),
        "t64": pa.array([1], pa.time64("us")), "nothing": pa.array([None], pa.null()),
        "odd name": pa.array([{"a b": 1}]),
    })
    assert [(c.name, c.type) for c in columnar.arrow_columns(table.schema)] == [
        ("u8", "smallint"), ("u32", "bigint"), ("u64", "decimal(20,0)"), ("big", "string"),
        ("ls", "string"), ("dict", "string"), ("t64", "bigint"), ("nothing", "string"),
        ("odd name", "struct<`a b`:bigint>"),
    ]


@pytest.mark.parametrize("key", ["parquet_snappy", "orc_zlib"])
def test_columnar_cut_in_half_raises_naming_the_file(key: str, corpus: dict[str, Path],
                                                     tmp_path: Path) -> None:
    data = corpus[key].read_bytes()
    cut = tmp_path / corpus[key].name
    cut.write_bytes(data[: len(data) // 2])
    classifier = columnar.PARQUET if key.startswith("parquet") else columnar.ORC
    with pytest.raises(ClassificationError, match=cut.name):
        classify(classifier, cut)


def test_parquet_with_a_corrupt_footer_raises(corpus: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(corpus["parquet_none"].read_bytes())
    footer_len = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_len
    data[start:start + footer_len] = b"\xff" * footer_len
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    with pytest.raises(ClassificationError, match="bad.parquet"):
        classify(columnar.PARQUET, bad)


def test_text_that_merely_starts_like_a_magic_is_not_claimed(tmp_path: Path) -> None:
    for name, text in [("a.txt", "PAR1 is a code\nmore text\n"), ("b.csv", "ORCA,whale\n1,2\n")]:
        path = tmp_path / name
        path.write_text(text)
        assert classify(columnar.PARQUET, path) is None
        assert classify(columnar.ORC, path) is None


# ----- Avro -------------------------------------------------------------------------------------
def test_avro_header_schema_and_block_count(corpus: dict[str, Path]) -> None:
    result = classify(columnar.AVRO, corpus["avro"])
    assert result is not None
    assert cols(result) == AVRO_COLUMNS
    assert result.record_count == AVRO_ROWS
    assert result.parameters["compressionType"] == "deflate"
    literal = json.loads(result.parameters["avro.schema.literal"])
    assert [f["name"] for f in literal["fields"]] == [c for c, _ in AVRO_COLUMNS]
    assert result.serde["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
    assert result.serde["Parameters"]["avro.schema.literal"] == (
        result.parameters["avro.schema.literal"])
    assert result.input_format == "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat"
    assert result.output_format == "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat"
    assert "block(s)" in result.reason


def test_avro_recursive_record_ends_in_string(tmp_path: Path) -> None:
    schema = {"type": "record", "name": "Node", "fields": [
        {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}
    path = tmp_path / "list.avro"
    with open(path, "wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schema), [{"v": 1, "next": {"v": 2}}],
                        codec="null")
    result = classify(columnar.AVRO, path)
    assert result is not None
    assert cols(result) == [("v", "int"), ("next", "string")]
    assert result.parameters["compressionType"] == "none"
    assert result.record_count == 1


def test_avro_truncated_or_corrupt_raises(corpus: dict[str, Path], tmp_path: Path) -> None:
    data = corpus["avro"].read_bytes()
    cut = tmp_path / "cut.avro"
    cut.write_bytes(data[: len(data) - 40])
    with pytest.raises(ClassificationError, match="cut.avro"):
        classify(columnar.AVRO, cut)
    header_only = tmp_path / "garbage.avro"
    header_only.write_bytes(b"Obj\x01\x99\x88\x77")
    with pytest.raises(ClassificationError, match="garbage.avro"):
        classify(columnar.AVRO, header_only)


# ----- JSON -------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["jsonl", "jsonl_gz", "json_array"])
def test_json_records(key: str, corpus: dict[str, Path]) -> None:
    result = classify(json_.JSON, corpus[key])
    assert result is not None
    assert cols(result) == JSON_COLUMNS
    assert result.record_count == len(JSON_RECORDS)
    assert result.serde == {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                            "Parameters": {"paths": "active,address,id,name,nickname,score,tags"}}
    assert result.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    assert result.output_format == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert ("jsonPath" in result.parameters) == (key == "json_array")
    if key == "json_array":
        assert result.parameters["jsonPath"] == "$[*]"
    assert result.parameters.get("compressionType") == ("gzip" if key == "jsonl_gz" else None)


def test_json_single_object_document(corpus: dict[str, Path]) -> None:
    result = classify(json_.JSON, corpus["json_object"])
    assert result is not None
    assert cols(result) == [c for c in JSON_COLUMNS]
    assert result.record_count == 1
    assert "jsonPath" not in result.parameters


def test_json_truncated_sample_keeps_the_valid_prefix(corpus: dict[str, Path]) -> None:
    limit = 700  # cuts the pretty-printed array inside its third or fourth record
    result = classify(json_.JSON, corpus["json_array"], limit=limit)
    assert result is not None and result.certainty == 1.0
    assert result.record_count is None
    assert [c for c, _ in cols(result)][:5] == ["id", "name", "score", "active", "address"]
    assert "truncated" in result.reason
    # A single huge object cut by the sample: the complete fields still give columns.
    result = classify(json_.JSON, corpus["json_object"], limit=60)
    assert result is not None and result.columns and result.record_count is None
    # A truncated sample that is not a JSON prefix is not JSON.
    bad = corpus["json_array"].parent / "bad_prefix.json"
    bad.write_text('[{"a": 1}, {"b": oops}, ' + " " * 2000 + "]")
    assert classify(json_.JSON, bad, limit=100) is None


def test_json_lines_cut_by_the_sample_drop_the_partial_line(corpus: dict[str, Path]) -> None:
    result = classify(json_.JSON, corpus["jsonl"], limit=1000)
    assert result is not None and result.certainty == 1.0
    assert result.record_count is None
    assert cols(result)[:4] == JSON_COLUMNS[:4]


def test_json_lines_with_bad_lines(tmp_path: Path) -> None:
    good = [json.dumps({"a": i}) for i in range(19)]
    some_bad = tmp_path / "some_bad.jsonl"
    some_bad.write_text("\n".join(good[:10] + ["{not json"] + good[10:]) + "\n")
    result = classify(json_.JSON, some_bad)
    assert result is not None
    assert result.certainty == 0.5
    assert "1 bad line" in result.reason
    assert cols(result) == [("a", "int")]
    assert result.record_count is None
    many_bad = tmp_path / "many_bad.jsonl"
    many_bad.write_text("\n".join(good[:5] + ["{nope"] * 5) + "\n")
    assert classify(json_.JSON, many_bad) is None


def test_json_type_conflicts_are_recorded_as_choices(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"v": 1, "n": 1}\n{"v": "x", "n": 3000000000}\n{"v": null, "n": 2.5}\n')
    result = classify(json_.JSON, path)
    assert result is not None
    assert result.columns[0].type == "string" and result.columns[0].choice == "int|string"
    assert result.columns[1].type == "double" and result.columns[1].choice is None


def test_json_arrays_of_scalars_are_not_tables(tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    path.write_text("[1, 2, 3]")
    assert classify(json_.JSON, path) is None


def test_custom_json_classifier_paths(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    items = [{"a": 1}, {"a": 2, "b": "x"}]
    nested.write_text(json.dumps({"meta": {"v": 1}, "data": {"items": items}}))
    result = classify(json_.custom_json_classifier("items", "$.data.items[*]"), nested)
    assert result is not None and result.classifier == "items"
    assert result.classification == "json"
    assert cols(result) == [("a", "int"), ("b", "string")]
    assert result.parameters["jsonPath"] == "$.data.items[*]"
    assert result.record_count == 2

    meta = classify(json_.custom_json_classifier("meta", "$.meta"), nested)
    assert meta is not None and cols(meta) == [("v", "int")]
    quoted = classify(json_.custom_json_classifier("q", "$['data']['items'][1]"), nested)
    assert quoted is not None and cols(quoted) == [("a", "int"), ("b", "string")]
    assert classify(json_.custom_json_classifier("missing", "$.nope[*]"), nested) is None

    lines = tmp_path / "wrapped.jsonl"
    lines.write_text('{"rows": [{"k": 1}]}\n{"rows": [{"k": 2}, {"k": 3}]}\n')
    result = classify(json_.custom_json_classifier("rows", "$.rows[*]"), lines)
    assert result is not None and cols(result) == [("k", "int")] and result.record_count == 3

    for bad in ("data.items", "$..items", "$.a[?(@.b)]"):
        with pytest.raises(ConfigError):
            json_.custom_json_classifier("bad", bad)


# ----- BSON -------------------------------------------------------------------------------------
def test_bson_documents(corpus: dict[str, Path]) -> None:
    result = classify(bson_.BSON, corpus["bson"])
    assert result is not None
    assert cols(result) == BSON_COLUMNS
    assert result.record_count == len(BSON_DOCS)
    assert result.serde["SerializationLibrary"] == "com.mongodb.hadoop.hive.BSONSerDe"


def test_bson_decimal128_that_does_not_fit_is_a_string(tmp_path: Path) -> None:
    path = tmp_path / "dec.bson"
    path.write_bytes(bson.encode({"d": bson.Decimal128("1E+30")})
                     + bson.encode({"d": bson.Decimal128("0.5")}))
    result = classify(bson_.BSON, path)
    assert result is not None
    assert result.columns[0].type == "string"
    assert result.columns[0].choice == "string|decimal(38,18)"


def test_bson_truncated_file_raises_and_truncated_sample_does_not(corpus: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    data = corpus["bson"].read_bytes()
    cut = tmp_path / "cut.bson"
    cut.write_bytes(data[: len(data) - 10])
    with pytest.raises(ClassificationError, match="cut.bson"):
        classify(bson_.BSON, cut)
    result = classify(bson_.BSON, corpus["bson"], limit=len(data) // 2)
    assert result is not None and result.record_count is None
    assert cols(result) == BSON_COLUMNS


# ----- XML --------------------------------------------------------------------------------------
def test_xml_rows_attributes_nesting_and_repeats(corpus: dict[str, Path]) -> None:
    result = classify(xml_.XML, corpus["xml"])
    assert result is not None
    assert result.parameters["rowTag"] == "book"
    assert cols(result) == XML_COLUMNS
    assert result.record_count == 3
    assert result.serde["SerializationLibrary"] == "com.ibm.spss.hive.serde2.xml.XmlSerDe"
    xpaths = result.serde["Parameters"]
    assert xpaths["column.xpath._id"] == "/book/@id"
    assert xpaths["column.xpath.title"] == "/book/title/text()"
    assert xpaths["column.xpath.author"] == "/book/author"
    assert result.parameters["xml.input.start"] == "<book"
    assert result.parameters["xml.input.end"] == "</book>"
    assert result.input_format == "com.ibm.spss.hive.serde2.xml.XmlInputFormat"


def test_xml_row_tag_inference(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.xml"
    wrapped.write_text("<root><items><item><a>1</a></item><item><a>2</a></item></items></root>")
    result = classify(xml_.XML, wrapped)
    assert result is not None and result.parameters["rowTag"] == "item"
    assert cols(result) == [("a", "int")]
    single = tmp_path / "single.xml"
    single.write_text("<note priority='high'><to>Tove</to><from>Jani</from></note>")
    result = classify(xml_.XML, single)
    assert result is not None and result.parameters["rowTag"] == "note"
    assert cols(result) == [("_priority", "string"), ("to", "string"), ("from", "string")]
    assert result.record_count == 1


def test_xml_truncated_sample_uses_complete_rows_only(tmp_path: Path) -> None:
    rows = "".join(f'<row n="{i}"><v>{i}</v></row>\n' for i in range(200))
    path = tmp_path / "big.xml"
    path.write_text(f"<data>\n{rows}</data>\n")
    result = classify(xml_.XML, path, limit=1000)
    assert result is not None and result.certainty == 1.0
    assert result.parameters["rowTag"] == "row"
    assert cols(result) == [("_n", "int"), ("v", "int")]
    assert result.record_count is None
    assert "complete rows only" in result.reason


def test_xml_stops_reading_after_1000_complete_rows(tmp_path: Path) -> None:
    rows = "".join(f'<row n="{i}"><v>value {i}</v><w>{i}.5</w></row>\n' for i in range(3000))
    path = tmp_path / "many.xml"
    path.write_text(f"<data>{rows}</data>")
    assert path.stat().st_size > 2 * 65536  # more than one parser chunk
    result = classify(xml_.XML, path)
    assert result is not None and result.record_count is None
    assert cols(result) == [("_n", "int"), ("v", "string"), ("w", "double")]
    assert "first 1,000 rows" in result.reason


def test_xml_malformed_is_not_xml(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<a><b>1</b><b>2</a>")
    assert classify(xml_.XML, path) is None


def test_custom_xml_classifier(corpus: dict[str, Path]) -> None:
    result = classify(xml_.custom_xml_classifier("authors", "author"), corpus["xml"])
    assert result is not None and result.classifier == "authors"
    assert result.parameters["rowTag"] == "author"
    assert cols(result) == [("first", "string"), ("last", "string")]
    assert classify(xml_.custom_xml_classifier("none", "magazine"), corpus["xml"]) is None
    with pytest.raises(ConfigError):
        xml_.custom_xml_classifier("bad", "a b")


# ----- Ion --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,encoding", [("ion_text", "TEXT"), ("ion_binary", "BINARY")])
def test_ion_records(key: str, encoding: str, corpus: dict[str, Path]) -> None:
    result = classify(ion_.ION, corpus[key])
    assert result is not None
    assert cols(result) == ION_COLUMNS
    assert result.record_count == len(ION_VALUES)
    assert result.serde == {"SerializationLibrary": "com.amazon.ionhiveserde.IonHiveSerDe",
                            "Parameters": {"ion.encoding": encoding}}
    assert result.input_format == "com.amazon.ionhiveserde.formats.IonInputFormat"


def test_ion_binary_truncated_file_raises(corpus: dict[str, Path], tmp_path: Path) -> None:
    data = corpus["ion_binary"].read_bytes()
    cut = tmp_path / "cut.10n"
    cut.write_bytes(data[: len(data) - 7])
    with pytest.raises(ClassificationError, match="cut.10n"):
        classify(ion_.ION, cut)
    result = classify(ion_.ION, corpus["ion_binary"], limit=len(data) // 2)
    assert result is not None and result.record_count is None
    assert cols(result) == ION_COLUMNS


def test_ion_text_truncated_sample_and_ion_only_syntax(corpus: dict[str, Path],
                                                       tmp_path: Path) -> None:
    size = corpus["ion_text"].stat().st_size
    result = classify(ion_.ION, corpus["ion_text"], limit=size // 2)
    assert result is not None and result.record_count is None
    assert cols(result) == ION_COLUMNS
    annotated = tmp_path / "annotated.ion"
    annotated.write_text("$ion_1_0\nperson::{name: \"a\", age: 3} // comment\n{name: b, age: 4}\n")
    result = classify(ion_.ION, annotated)
    assert result is not None and cols(result) == [("name", "string"), ("age", "int")]
    words = tmp_path / "words.txt"
    words.write_text("hello world\n")
    assert classify(ion_.ION, words) is None
