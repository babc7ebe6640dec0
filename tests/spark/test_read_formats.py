"""Reading every supported format through ``create_dynamic_frame.from_options`` (and the
``create_dynamic_frame_from_options`` spelling), with Glue's connection and format options."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality

from etl.errors import ConfigError, DataSourceError
from etl.frame.types import is_choice, tree_string

from .conftest import write_text

PEOPLE_SCHEMA = "id int, name string"
CSV_PEOPLE_SCHEMA = "id long, name string"  # Glue types CSV whole numbers as long
PEOPLE = [(1, "ann"), (2, "bob"), (3, "cy")]


def _read(glue, paths, fmt, format_options=None, **connection_options):
    return glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [str(p) for p in paths], **connection_options},
        format=fmt,
        format_options=format_options or {},
    )


def _people(spark):
    return spark.createDataFrame(PEOPLE, PEOPLE_SCHEMA)


def _csv_people(spark):
    return spark.createDataFrame(PEOPLE, CSV_PEOPLE_SCHEMA)


def _assert_same(actual, expected):
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# ----- CSV ---------------------------------------------------------------------------------
def test_csv_with_header(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    dyf = _read(glue, [tmp_path / "in"], "csv", {"withHeader": True})
    _assert_same(dyf.toDF(), _csv_people(spark))
    assert dyf.errorsCount() == 0


def test_csv_whole_numbers_are_long_in_line_and_multiline_reads(spark, glue, tmp_path):
    write_text(tmp_path / "lines" / "people.csv", "id,name,score\n1,ann,2.5\n2,bob,3\n")
    write_text(tmp_path / "multi" / "people.csv", 'id,name,score\n1,ann,2.5\n2,"bob\nby",3\n')
    for folder, multiline in (("lines", False), ("multi", True)):
        options = {"withHeader": True, "multiLine": multiline}
        df = _read(glue, [tmp_path / folder], "csv", options).toDF()
        assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
            ("id", "bigint"),
            ("name", "string"),
            ("score", "double"),
        ], folder
    assert sorted(df.collect()) == [(1, "ann", 2.5), (2, "bob\nby", 3.0)]


def test_csv_without_header_names_columns_like_glue(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "people.csv", "1,ann\n2,bob\n3,cy\n")
    dyf = _read(glue, [tmp_path / "in"], "csv", {"withHeader": False})
    assert dyf.toDF().columns == ["col0", "col1"]
    expected = spark.createDataFrame(PEOPLE, "col0 long, col1 string")
    _assert_same(dyf.toDF(), expected)


def test_csv_header_line_is_data_when_with_header_is_false(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "people.csv", "id,name\n1,ann\n")
    dyf = _read(glue, [tmp_path / "in"], "csv")
    assert dyf.toDF().columns == ["col0", "col1"]
    # the header line is data, so col0 mixes text and numbers: a choice, as Glue shows it
    resolved = dyf.resolveChoice(specs=[("col0", "cast:string")]).toDF()
    expected = spark.createDataFrame([("id", "name"), ("1", "ann")], "col0 string, col1 string")
    _assert_same(resolved, expected)
    assert is_choice(dyf.toDF().schema["col0"].dataType)


@pytest.mark.parametrize("separator", ["|", "\t"])
def test_csv_separator(spark, glue, tmp_path, separator):
    lines = ["id,name".replace(",", separator)] + [f"{i}{separator}{n}" for i, n in PEOPLE]
    write_text(tmp_path / "in" / "people.csv", "\n".join(lines) + "\n")
    dyf = _read(glue, [tmp_path / "in"], "csv", {"withHeader": True, "separator": separator})
    _assert_same(dyf.toDF(), _csv_people(spark))


def test_csv_quote_char(spark, glue, tmp_path):
    write_text(
        tmp_path / "in" / "notes.csv",
        "id,note\n1,'hello, world'\n2,plain\n",
    )
    dyf = _read(glue, [tmp_path / "in"], "csv", {"withHeader": True, "quoteChar": "'"})
    expected = spark.createDataFrame([(1, "hello, world"), (2, "plain")], "id long, note string")
    _assert_same(dyf.toDF(), expected)
    assert dyf.errorsCount() == 0


def test_csv_default_quote_is_double_quote(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "notes.csv", 'id,note\n1,"a, b"\n')
    df = _read(glue, [tmp_path / "in"], "csv", {"withHeader": True}).toDF()
    _assert_same(df, spark.createDataFrame([(1, "a, b")], "id long, note string"))


def test_csv_quote_char_minus_one_turns_quoting_off(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "notes.csv", 'id,note\n1,"a\n2,b"\n')
    dyf = _read(glue, [tmp_path / "in"], "csv", {"withHeader": True, "quoteChar": -1})
    expected = spark.createDataFrame([(1, '"a'), (2, 'b"')], "id long, note string")
    _assert_same(dyf.toDF(), expected)
    assert dyf.errorsCount() == 0


def test_csv_skip_first_without_header_numbers_columns(spark, glue, tmp_path):
    # Regression: the skipped line used to become the column names.
    write_text(tmp_path / "in" / "people.csv", "exported 2024-01-01,x\n1,ann\n2,bob\n3,cy\n")
    df = _read(glue, [tmp_path / "in"], "csv", {"skipFirst": True}).toDF()
    assert df.columns == ["col0", "col1"]
    _assert_same(df, spark.createDataFrame(PEOPLE, "col0 long, col1 string"))


def test_csv_skip_first_with_header(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    df = _read(glue, [tmp_path / "in"], "csv", {"skipFirst": True, "withHeader": True}).toDF()
    _assert_same(df, _csv_people(spark))


def test_create_dynamic_frame_from_options_spelling(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    dyf = glue.create_dynamic_frame_from_options(
        "s3",
        {"paths": [str(tmp_path / "in")]},
        format="csv",
        format_options={"withHeader": True},
    )
    _assert_same(dyf.toDF(), _csv_people(spark))


def test_create_data_frame_returns_spark_dataframe(spark, glue, tmp_path):
    from pyspark.sql import DataFrame

    write_text(tmp_path / "in" / "people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    df = glue.create_data_frame.from_options(
        "s3", {"paths": [str(tmp_path / "in")]}, format="csv", format_options={"withHeader": True}
    )
    assert isinstance(df, DataFrame)
    _assert_same(df, _csv_people(spark))


def test_several_paths_are_unioned(spark, glue, tmp_path):
    write_text(tmp_path / "a" / "p.csv", "id,name\n1,ann\n")
    write_text(tmp_path / "b" / "p.csv", "id,name\n2,bob\n3,cy\n")
    dyf = _read(glue, [tmp_path / "a", tmp_path / "b"], "csv", {"withHeader": True})
    _assert_same(dyf.toDF(), _csv_people(spark))


# ----- JSON --------------------------------------------------------------------------------
def test_json_lines(spark, glue, tmp_path):
    lines = [json.dumps({"id": i, "name": n}) for i, n in PEOPLE]
    write_text(tmp_path / "in" / "people.json", "\n".join(lines) + "\n")
    df = _read(glue, [tmp_path / "in"], "json").toDF()
    expected = spark.createDataFrame(PEOPLE, "id long, name string")
    _assert_same(df, expected)


def test_json_multiline_top_level_array(spark, glue, tmp_path):
    records = [{"id": i, "name": n} for i, n in PEOPLE]
    write_text(tmp_path / "in" / "people.json", json.dumps(records, indent=2))
    df = _read(glue, [tmp_path / "in"], "json", {"multiLine": True, "jsonPath": "$[*]"}).toDF()
    expected = spark.createDataFrame(PEOPLE, "id long, name string")
    _assert_same(df, expected)


def test_json_multiline_nested_records_path(spark, glue, tmp_path):
    doc = {"meta": {"source": "x"}, "records": [{"id": i, "name": n} for i, n in PEOPLE]}
    write_text(tmp_path / "in" / "doc.json", json.dumps(doc, indent=2))
    options = {"multiLine": True, "jsonPath": "$.records[*]"}
    df = _read(glue, [tmp_path / "in"], "json", options).toDF()
    assert sorted(df.columns) == ["id", "name"]
    expected = spark.createDataFrame(PEOPLE, "id long, name string")
    _assert_same(df.select("id", "name"), expected)


def test_json_multiline_conflicting_types_become_a_choice(spark, glue, tmp_path):
    records = [{"id": 1, "provider_id": 10}, {"id": 2, "provider_id": "P-20"}]
    write_text(tmp_path / "in" / "a.json", json.dumps(records, indent=2))
    write_text(tmp_path / "in" / "b.json", json.dumps({"id": 3, "provider_id": 30}, indent=2))
    dyf = _read(glue, [tmp_path / "in"], "json", {"multiLine": True})
    assert is_choice(dyf.toDF().schema["provider_id"].dataType)
    assert "|-- provider_id: choice" in tree_string(dyf.schema())
    resolved = dyf.resolveChoice(specs=[("provider_id", "make_cols")]).toDF()
    expected = spark.createDataFrame(
        [(1, 10, None), (2, None, "P-20"), (3, 30, None)],
        "id long, provider_id_long long, provider_id_string string",
    )
    _assert_same(resolved, expected)


def test_json_multiline_malformed_file_is_one_error_record_naming_it(spark, glue, tmp_path):
    write_text(tmp_path / "in" / "good.json", json.dumps([{"id": 1}, {"id": 2}], indent=2))
    write_text(tmp_path / "in" / "bad.json", '{\n  "id": 3,\n  "name": \n')
    dyf = _read(glue, [tmp_path / "in"], "json", {"multiLine": True})
    _assert_same(dyf.toDF(), spark.createDataFrame([(1,), (2,)], "id long"))
    errors = dyf.errorsAsDynamicFrame().toDF().collect()
    assert len(errors) == 1
    assert errors[0]["source"].endswith("bad.json")
    assert errors[0]["input"].startswith('{\n  "id": 3')
    assert "malformed JSON" in errors[0]["error_message"]


def test_json_multiline_without_json_path_keeps_document(spark, glue, tmp_path):
    doc = {"records": [{"id": 1}, {"id": 2}]}
    write_text(tmp_path / "in" / "doc.json", json.dumps(doc, indent=2))
    df = _read(glue, [tmp_path / "in"], "json", {"multiLine": True}).toDF()
    assert df.columns == ["records"]
    assert df.count() == 1


# ----- columnar and other formats ------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "orc", "avro"])
def test_spark_written_formats(spark, glue, tmp_path, fmt):
    expected = _people(spark)
    expected.write.format(fmt).save(str(tmp_path / "data"))
    dyf = _read(glue, [tmp_path / "data"], fmt)
    _assert_same(dyf.toDF(), expected)
    assert dyf.count() == 3


def test_glueparquet_alias(spark, glue, tmp_path):
    expected = _people(spark)
    expected.write.parquet(str(tmp_path / "data"))
    _assert_same(_read(glue, [tmp_path / "data"], "glueparquet").toDF(), expected)


def test_xml_row_tag(spark, glue, tmp_path):
    write_text(
        tmp_path / "in" / "people.xml",
        "<people>\n"
        + "".join(f"  <person><id>{i}</id><name>{n}</name></person>\n" for i, n in PEOPLE)
        + "  <other><id>99</id></other>\n"
        + "</people>\n",
    )
    df = _read(glue, [tmp_path / "in"], "xml", {"rowTag": "person"}).toDF()
    expected = spark.createDataFrame(PEOPLE, "id long, name string")
    _assert_same(df.select("id", "name"), expected)
    assert df.count() == 3


def test_delta_latest_and_version_as_of(spark, glue, tmp_path):
    path = str(tmp_path / "delta")
    first = _people(spark)
    first.write.format("delta").save(path)
    second = spark.createDataFrame([(4, "dee")], PEOPLE_SCHEMA)
    second.write.format("delta").mode("append").save(path)

    latest = _read(glue, [path], "delta").toDF()
    _assert_same(latest, first.unionByName(second))

    v0 = glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [path], "versionAsOf": 0},
        format="delta",
    ).toDF()
    _assert_same(v0, first)


# ----- listing: recurse, exclusions, hidden files --------------------------------------------
def test_recurse_reads_nested_non_partition_folders(spark, glue, tmp_path):
    root = tmp_path / "in"
    write_text(root / "top.csv", "id,name\n1,ann\n")
    write_text(root / "a" / "b" / "deep.csv", "id,name\n2,bob\n")
    write_text(root / "c" / "mid.csv", "id,name\n3,cy\n")

    flat = _read(glue, [root], "csv", {"withHeader": True}).toDF()
    _assert_same(flat, spark.createDataFrame([(1, "ann")], CSV_PEOPLE_SCHEMA))

    nested = _read(glue, [root], "csv", {"withHeader": True}, recurse=True).toDF()
    _assert_same(nested, _csv_people(spark))


def test_recurse_parquet(spark, glue, tmp_path):
    root = tmp_path / "in"
    _people(spark).where("id < 3").write.parquet(str(root / "x" / "y"))
    _people(spark).where("id = 3").write.parquet(str(root / "z"))
    df = _read(glue, [root], "parquet", recurse="true").toDF()
    _assert_same(df, _people(spark))


def test_exclusions_skip_matching_files(spark, glue, tmp_path):
    root = tmp_path / "in"
    write_text(root / "good.csv", "id,name\n1,ann\n2,bob\n")
    write_text(root / "sub" / "more.csv", "id,name\n3,cy\n")
    write_text(root / "partial.tmp", "id,name\n98,tmp\n")
    write_text(root / "sub" / "deeper.tmp", "id,name\n99,tmp\n")
    df = _read(glue, [root], "csv", {"withHeader": True}, exclusions='["**.tmp"]').toDF()
    _assert_same(df, _csv_people(spark))


def test_exclusions_single_folder_glob(spark, glue, tmp_path):
    root = tmp_path / "in"
    write_text(root / "keep.csv", "id,name\n1,ann\n")
    write_text(root / "logs" / "drop.csv", "id,name\n50,log\n")
    df = _read(glue, [root], "csv", {"withHeader": True}, exclusions='["logs/*"]').toDF()
    _assert_same(df, spark.createDataFrame([(1, "ann")], CSV_PEOPLE_SCHEMA))


def test_exclusions_excluding_everything_is_a_source_error(glue, tmp_path):
    root = tmp_path / "in"
    write_text(root / "only.tmp", "id\n1\n")
    with pytest.raises(DataSourceError, match="exclusions"):
        _read(glue, [root], "csv", {"withHeader": True}, exclusions='["**.tmp"]')


def test_hidden_files_are_ignored_csv(spark, glue, tmp_path):
    root = tmp_path / "in"
    write_text(root / "people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    write_text(root / "_SUCCESS", "garbage,garbage,garbage\nnot,a,row\n")
    write_text(root / ".people.csv.crc", "\x00\x01binary,junk\n")
    write_text(root / "_temporary" / "0" / "part.csv", "id,name\n77,tmp\n")
    dyf = _read(glue, [root], "csv", {"withHeader": True}, recurse=True)
    _assert_same(dyf.toDF(), _csv_people(spark))
    assert dyf.errorsCount() == 0


def test_hidden_files_are_ignored_with_exclusions(spark, glue, tmp_path):
    root = tmp_path / "in"
    write_text(root / "people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    write_text(root / "_SUCCESS", "junk\n")
    write_text(root / ".people.csv.crc", "junk\n")
    dyf = _read(glue, [root], "csv", {"withHeader": True}, exclusions='["**.tmp"]')
    _assert_same(dyf.toDF(), _csv_people(spark))
    assert dyf.errorsCount() == 0


def test_spark_written_parquet_with_success_and_crc(spark, glue, tmp_path):
    path = tmp_path / "data"
    _people(spark).write.parquet(str(path))
    names = {p.name for p in path.iterdir()}
    assert "_SUCCESS" in names and any(n.endswith(".crc") for n in names)
    _assert_same(_read(glue, [path], "parquet").toDF(), _people(spark))


# ----- errors ---------------------------------------------------------------------------------
def test_unknown_format_is_config_error(glue, tmp_path):
    write_text(tmp_path / "in" / "x.csv", "id\n1\n")
    with pytest.raises(ConfigError, match="fancyformat"):
        _read(glue, [tmp_path / "in"], "fancyformat")


def test_missing_format_is_config_error(glue, tmp_path):
    write_text(tmp_path / "in" / "x.csv", "id\n1\n")
    with pytest.raises(ConfigError, match="format"):
        glue.create_dynamic_frame.from_options("s3", {"paths": [str(tmp_path / "in")]})


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_missing_path_is_source_error(glue, tmp_path, fmt):
    missing = tmp_path / "does" / "not" / "exist"
    with pytest.raises(DataSourceError, match=str(missing)):
        _read(glue, [missing], fmt)


def test_unknown_connection_option_names_the_key(glue, tmp_path):
    write_text(tmp_path / "in" / "x.csv", "id\n1\n")
    with pytest.raises(ConfigError, match="recurseTypo"):
        _read(glue, [tmp_path / "in"], "csv", recurseTypo=True)


def test_unknown_connection_type_is_config_error(glue, tmp_path):
    with pytest.raises(ConfigError, match="dynamodb"):
        glue.create_dynamic_frame.from_options("dynamodb", {"paths": [str(tmp_path)]}, format="json")


def test_paths_are_required(glue):
    with pytest.raises(ConfigError, match="paths"):
        glue.create_dynamic_frame.from_options("s3", {}, format="csv")
