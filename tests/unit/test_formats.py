"""Glue ``format`` names and ``format_options`` -> Spark reader/writer options (no JVM)."""

from __future__ import annotations

import pytest

from etl.errors import ConfigError, EtlError
from etl.io.formats import SUPPORTED_FORMATS, canonical_format, read_options, write_options

# --------------------------------------------------------------------------------------------
# canonical_format
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SUPPORTED_FORMATS)
def test_supported_formats_map_to_themselves(name):
    assert canonical_format(name) == name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("glueparquet", "parquet"),
        ("GlueParquet", "parquet"),
        ("jsonl", "json"),
        ("CSV", "csv"),
        ("Parquet", "parquet"),
        ("DELTA", "delta"),
    ],
)
def test_aliases_and_case_are_normalised(given, expected):
    assert canonical_format(given) == expected


def test_unknown_format_is_a_config_error_naming_it():
    with pytest.raises(ConfigError) as info:
        canonical_format("excel")
    message = str(info.value)
    assert "'excel'" in message
    # and it tells the user what would have worked
    assert "parquet" in message and "csv" in message


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_format_is_a_config_error(missing):
    with pytest.raises(ConfigError, match="format is required"):
        canonical_format(missing)


def test_config_error_is_an_etl_error():
    with pytest.raises(EtlError):
        canonical_format("nope")


# --------------------------------------------------------------------------------------------
# read_options: CSV
# --------------------------------------------------------------------------------------------


def test_csv_read_glue_names_become_spark_names():
    opts = read_options("csv", {"separator": "|", "quoteChar": "'", "escaper": "\\"})
    assert opts.spark == {"sep": "|", "quote": "'", "escape": "\\"}
    # the Glue spellings must not leak into Spark's options
    assert not {"separator", "quoteChar", "escaper"} & set(opts.spark)


def test_csv_quote_char_minus_one_turns_quoting_off():
    opts = read_options("csv", {"quoteChar": "-1"})
    assert opts.spark["quote"] == "\u0000"
    # an int -1 (as written in a Python dict) means the same
    assert read_options("csv", {"quoteChar": -1}).spark["quote"] == "\u0000"


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("true", True), ("false", False),
                                                 (False, False), ("1", True), ("0", False)])
def test_csv_with_header_and_skip_first_are_reader_flags(value, expected):
    opts = read_options("csv", {"withHeader": value, "skipFirst": value})
    assert opts.with_header is expected
    assert opts.skip_first is expected
    # they are Glue behaviours handled by the reader, not Spark options
    assert "withHeader" not in opts.spark and "skipFirst" not in opts.spark
    assert "header" not in opts.spark


def test_csv_defaults_are_glue_defaults():
    opts = read_options("csv", None)
    assert opts.spark == {}
    assert opts.with_header is False
    assert opts.skip_first is False
    assert opts.multiline is False
    assert opts.fail_fast is False
    assert opts.json_path is None


def test_write_header_is_ignored_when_reading():
    assert read_options("csv", {"writeHeader": False}).spark == {}


def test_bad_boolean_is_a_config_error_naming_the_option():
    with pytest.raises(ConfigError, match="'withHeader'"):
        read_options("csv", {"withHeader": "maybe"})


@pytest.mark.parametrize("key", ["multiLine", "multiline"])
def test_multiline_sets_flag_and_spark_option(key):
    opts = read_options("json", {key: True})
    assert opts.multiline is True
    assert opts.spark == {"multiLine": "true"}
    opts = read_options("csv", {key: "false"})
    assert opts.multiline is False
    assert opts.spark == {"multiLine": "false"}


def test_is_fail_fast_is_a_reader_flag():
    opts = read_options("csv", {"isFailFast": "true"})
    assert opts.fail_fast is True
    assert "isFailFast" not in opts.spark
    assert read_options("json", {"isFailFast": False}).fail_fast is False


# --------------------------------------------------------------------------------------------
# read_options: JSON and others
# --------------------------------------------------------------------------------------------


def test_json_path_is_kept_for_the_reader():
    opts = read_options("json", {"jsonPath": "$.records[*]"})
    assert opts.json_path == "$.records[*]"
    assert "jsonPath" not in opts.spark


def test_csv_names_are_not_translated_for_other_formats():
    # ``separator`` only means ``sep`` for CSV; for JSON it is passed through untouched
    opts = read_options("json", {"separator": "|"})
    assert opts.spark == {"separator": "|"}
    assert "sep" not in opts.spark


def test_unknown_options_pass_through_with_spark_spelling_of_values():
    opts = read_options("xml", {"rowTag": "record", "excludeAttribute": True, "samplingRatio": 0.5})
    assert opts.spark == {"rowTag": "record", "excludeAttribute": "true", "samplingRatio": "0.5"}
    assert all(isinstance(v, str) for v in opts.spark.values())


def test_glue_only_options_are_ignored():
    opts = read_options(
        "parquet",
        {"optimizePerformance": True, "useGlueParquetWriter": True, "groupFiles": "inPartition",
         "groupSize": "1048576", "withSchema": "{}", "mergeSchema": "true"},
    )
    assert opts.spark == {"mergeSchema": "true"}


# --------------------------------------------------------------------------------------------
# write_options
# --------------------------------------------------------------------------------------------


def test_csv_write_header_defaults_on():
    assert write_options("csv", None) == {"header": "true"}


@pytest.mark.parametrize(("value", "expected"), [(False, "false"), ("false", "false"),
                                                 (True, "true"), ("true", "true")])
def test_csv_write_header_maps_to_header(value, expected):
    out = write_options("csv", {"writeHeader": value})
    assert out == {"header": expected}
    assert "writeHeader" not in out


def test_csv_write_glue_names_become_spark_names():
    out = write_options("csv", {"separator": "\t", "quoteChar": "-1", "escaper": "\\"})
    assert out == {"header": "true", "sep": "\t", "quote": "\u0000", "escape": "\\"}


def test_write_drops_reader_only_options():
    out = write_options(
        "csv", {"withHeader": True, "skipFirst": True, "isFailFast": True, "jsonPath": "$[*]"}
    )
    assert out == {"header": "true"}


def test_non_csv_write_gets_no_header_and_passes_options_through():
    assert write_options("parquet", None) == {}
    out = write_options("parquet", {"compression": "zstd", "blockSize": 1, "pageSize": 2})
    assert out == {"compression": "zstd"}
    assert write_options("json", {"ignoreNullFields": False}) == {"ignoreNullFields": "false"}


def test_write_header_bad_value_is_a_config_error():
    with pytest.raises(ConfigError, match="'writeHeader'"):
        write_options("csv", {"writeHeader": "sometimes"})
