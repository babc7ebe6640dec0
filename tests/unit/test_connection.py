"""Glue ``connection_options`` for file connections (no JVM)."""

from __future__ import annotations

import pytest

from etl.errors import ConfigError
from etl.io.connection import FILE_CONNECTIONS, parse_file_connection

# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------


def test_paths_list():
    conn = parse_file_connection("s3", {"paths": ["s3://b/a", "s3://b/c"]})
    assert conn.paths == ["s3://b/a", "s3://b/c"]


def test_paths_as_json_string():
    conn = parse_file_connection("s3", {"paths": '["data/a", "data/b"]'})
    assert conn.paths == ["data/a", "data/b"]


def test_paths_as_single_plain_string():
    assert parse_file_connection("s3", {"paths": "data/in"}).paths == ["data/in"]


def test_single_path():
    assert parse_file_connection("file", {"path": "data/out"}).paths == ["data/out"]


def test_paths_wins_over_path():
    conn = parse_file_connection("s3", {"paths": ["a"], "path": "b"})
    assert conn.paths == ["a"]


def test_neither_path_nor_paths_is_a_config_error():
    with pytest.raises(ConfigError, match="'paths'"):
        parse_file_connection("s3", {"recurse": True})
    with pytest.raises(ConfigError):
        parse_file_connection("s3", None)


@pytest.mark.parametrize("bad", ['["a", 1]', "[not json", 42, [1, 2]])
def test_bad_paths_value_is_a_config_error_naming_paths(bad):
    with pytest.raises(ConfigError, match="'paths'"):
        parse_file_connection("s3", {"paths": bad})


def test_write_needs_exactly_one_path():
    with pytest.raises(ConfigError, match="exactly one"):
        parse_file_connection("s3", {"paths": ["a", "b"]}, for_write=True)
    # one path is fine, whichever key carries it
    assert parse_file_connection("s3", {"paths": ["a"]}, for_write=True).paths == ["a"]
    assert parse_file_connection("s3", {"path": "a"}, for_write=True).paths == ["a"]


def test_read_accepts_several_paths():
    assert len(parse_file_connection("s3", {"paths": ["a", "b", "c"]}).paths) == 3


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------


def test_defaults():
    conn = parse_file_connection("s3", {"path": "p"})
    assert conn.recurse is False
    assert conn.exclusions == []
    assert conn.partition_keys == []
    assert conn.compression is None
    assert conn.mode == "append"
    assert conn.partition_overwrite_mode == "static"
    assert conn.primary_keys == []
    assert conn.spark_options == {}


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("true", True), ("True", True),
                                                 (False, False), ("false", False), ("0", False)])
def test_recurse(value, expected):
    assert parse_file_connection("s3", {"path": "p", "recurse": value}).recurse is expected


def test_recurse_bad_value_names_the_key():
    with pytest.raises(ConfigError, match="'recurse'"):
        parse_file_connection("s3", {"path": "p", "recurse": "sometimes"})


def test_exclusions_as_json_string_like_glue_documents():
    conn = parse_file_connection("s3", {"path": "p", "exclusions": '["**.json", "logs/*.tmp"]'})
    assert conn.exclusions == ["**.json", "logs/*.tmp"]


def test_exclusions_as_list():
    conn = parse_file_connection("s3", {"path": "p", "exclusions": ["**.json"]})
    assert conn.exclusions == ["**.json"]


def test_exclusions_invalid_json_names_the_key():
    with pytest.raises(ConfigError, match="'exclusions'"):
        parse_file_connection("s3", {"path": "p", "exclusions": '["**.json"'})


def test_partition_keys():
    conn = parse_file_connection("s3", {"path": "p", "partitionKeys": ["year", "month"]})
    assert conn.partition_keys == ["year", "month"]


def test_partition_keys_must_be_strings():
    with pytest.raises(ConfigError, match="'partitionKeys'"):
        parse_file_connection("s3", {"path": "p", "partitionKeys": ["year", 2]})


@pytest.mark.parametrize("key", ["compression", "compressionType"])
def test_compression_under_both_names(key):
    assert parse_file_connection("s3", {"path": "p", key: "gzip"}).compression == "gzip"


def test_mode_and_partition_overwrite_mode_are_lowercased():
    options = {"path": "p", "mode": "Overwrite", "partitionOverwriteMode": "DYNAMIC"}
    conn = parse_file_connection("s3", options, for_write=True)
    assert conn.mode == "overwrite"
    assert conn.partition_overwrite_mode == "dynamic"


@pytest.mark.parametrize("key", ["primaryKeys", "primary_keys"])
def test_primary_keys(key):
    conn = parse_file_connection("s3", {"path": "p", key: ["id", "day"]})
    assert conn.primary_keys == ["id", "day"]


def test_primary_keys_single_string():
    assert parse_file_connection("s3", {"path": "p", "primaryKeys": "id"}).primary_keys == ["id"]


def test_delta_time_travel_options_are_passed_to_spark_as_strings():
    conn = parse_file_connection("s3", {"path": "p", "versionAsOf": 3})
    assert conn.spark_options == {"versionAsOf": "3"}
    conn = parse_file_connection("s3", {"path": "p", "timestampAsOf": "2024-01-01"})
    assert conn.spark_options == {"timestampAsOf": "2024-01-01"}


@pytest.mark.parametrize(
    "key",
    ["groupFiles", "groupSize", "useS3ListImplementation", "boundedSize", "boundedFiles",
     "maxBand", "maxFilesInBand", "excludeStorageClasses", "isFailFast"],
)
def test_glue_only_options_are_accepted_and_ignored(key):
    conn = parse_file_connection("s3", {"path": "p", key: "x"})
    assert conn.paths == ["p"]
    assert conn.spark_options == {}


def test_unknown_option_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as info:
        parse_file_connection("s3", {"path": "p", "recursive": True})
    assert "'recursive'" in str(info.value)
    assert "'s3'" in str(info.value)


# --------------------------------------------------------------------------------------------
# connection_type
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", [*FILE_CONNECTIONS, "S3", "File"])
def test_file_connection_types_are_accepted(ctype):
    assert parse_file_connection(ctype, {"path": "p"}).paths == ["p"]


@pytest.mark.parametrize("ctype", ["dynamodb", "jdbc", "kafka", "postgresql"])
def test_unsupported_connection_type_is_a_config_error(ctype):
    with pytest.raises(ConfigError) as info:
        parse_file_connection(ctype, {"path": "p"})
    assert repr(ctype) in str(info.value)
    assert "not supported" in str(info.value)
