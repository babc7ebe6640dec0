"""Malformed CSV and JSON lines become error records instead of silent nulls or crashed jobs."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from etl.errors import DataSourceError, ErrorThresholdExceededError
from etl.frame.dynamicframe import DynamicFrame
from etl.transforms import ApplyMapping

from .conftest import write_text

ERROR_COLUMNS = ["transformation_ctx", "info", "error_message", "source", "input"]

CSV_BAD_LINES = [
    "3,cy",  # a field missing
    "4,dee,40.0,surplus",  # a field too many
    '5,"unterminated,50.0',  # a quote that never closes
]
CSV_TEXT = "\n".join(
    ["id,name,amount", "1,ann,10.0", CSV_BAD_LINES[0], "2,bob,20.0", CSV_BAD_LINES[1],
     CSV_BAD_LINES[2], '6,"fay, jr",60.0']
) + "\n"

JSON_BAD_LINES = ['{"id": 2, "name": ', "this is not json", '{"id": 4 "name": "d"}']
JSON_TEXT = "\n".join(
    ['{"id": 1, "name": "ann"}', JSON_BAD_LINES[0], '{"id": 3, "name": "cy"}', JSON_BAD_LINES[1],
     JSON_BAD_LINES[2], '{"id": 5, "name": "eve"}']
) + "\n"

MAPPING = [("id", "int", "id", "long"), ("name", "string", "name", "string")]


@pytest.fixture
def csv_file(tmp_path):
    return write_text(tmp_path / "in" / "sales.csv", CSV_TEXT)


@pytest.fixture
def json_file(tmp_path):
    return write_text(tmp_path / "json" / "people.json", JSON_TEXT)


def _read_csv(glue, path, **format_options):
    return glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [str(path)]},
        format="csv",
        format_options={"withHeader": True, **format_options},
        transformation_ctx="read_sales",
    )


def _read_json(glue, path, **format_options):
    return glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [str(path)]},
        format="json",
        format_options=format_options,
        transformation_ctx="read_people",
    )


# ----- CSV ----------------------------------------------------------------------------------
def test_csv_good_rows_come_through(spark, glue, csv_file):
    dyf = _read_csv(glue, csv_file.parent)
    expected = spark.createDataFrame(
        [(1, "ann", 10.0), (2, "bob", 20.0), (6, "fay, jr", 60.0)],
        "id long, name string, amount double",
    )
    assert_df_equality(dyf.toDF(), expected, ignore_row_order=True, ignore_nullable=True)


def test_csv_error_counts(glue, csv_file):
    dyf = _read_csv(glue, csv_file.parent)
    assert dyf.errorsCount() == len(CSV_BAD_LINES)
    assert dyf.stageErrorsCount() == len(CSV_BAD_LINES)


def test_csv_error_records_keep_raw_line_and_file(glue, csv_file):
    errors = _read_csv(glue, csv_file.parent).errorsAsDynamicFrame().toDF()
    assert errors.columns == ERROR_COLUMNS
    rows = errors.collect()
    assert sorted(r["input"] for r in rows) == sorted(CSV_BAD_LINES)
    for row in rows:
        assert str(csv_file) in row["source"]
        assert row["transformation_ctx"] == "read_sales"
        assert row["error_message"]


def test_csv_errors_from_several_files(spark, glue, tmp_path):
    a = write_text(tmp_path / "in" / "a.csv", "id,name\n1,ann\n2,bob,extra\n")
    b = write_text(tmp_path / "in" / "b.csv", "id,name\n3,cy\n4\n")
    dyf = _read_csv(glue, tmp_path / "in")
    expected = spark.createDataFrame([(1, "ann"), (3, "cy")], "id long, name string")
    assert_df_equality(dyf.toDF(), expected, ignore_row_order=True, ignore_nullable=True)
    by_input = {r["input"]: r["source"] for r in dyf.errorsAsDynamicFrame().toDF().collect()}
    assert set(by_input) == {"2,bob,extra", "4"}
    assert str(a) in by_input["2,bob,extra"]
    assert str(b) in by_input["4"]


def test_clean_csv_has_no_errors(glue, tmp_path):
    write_text(tmp_path / "in" / "ok.csv", "id,name\n1,ann\n")
    dyf = _read_csv(glue, tmp_path / "in")
    assert dyf.errorsCount() == 0
    assert dyf.stageErrorsCount() == 0
    errors = dyf.errorsAsDynamicFrame().toDF()
    assert errors.columns == ERROR_COLUMNS
    assert errors.count() == 0


def test_data_frame_reader_drops_malformed_lines(glue, csv_file):
    df = glue.create_data_frame.from_options(
        "s3", {"paths": [str(csv_file.parent)]}, format="csv", format_options={"withHeader": True}
    )
    assert sorted(r["id"] for r in df.collect()) == [1, 2, 6]


# ----- JSON lines ---------------------------------------------------------------------------
def test_json_good_rows_and_errors(spark, glue, json_file):
    dyf = _read_json(glue, json_file.parent)
    expected = spark.createDataFrame(
        [(1, "ann"), (3, "cy"), (5, "eve")], "id long, name string"
    )
    assert_df_equality(dyf.toDF(), expected, ignore_row_order=True, ignore_nullable=True)
    assert dyf.errorsCount() == len(JSON_BAD_LINES)
    assert dyf.stageErrorsCount() == len(JSON_BAD_LINES)


def test_json_error_records_keep_raw_line_and_file(glue, json_file):
    errors = _read_json(glue, json_file.parent).errorsAsDynamicFrame().toDF()
    assert errors.columns == ERROR_COLUMNS
    rows = errors.collect()
    assert sorted(r["input"] for r in rows) == sorted(JSON_BAD_LINES)
    assert all(str(json_file) in r["source"] for r in rows)
    assert all(r["transformation_ctx"] == "read_people" for r in rows)


# ----- errors downstream --------------------------------------------------------------------
def test_errors_carry_through_apply_mapping(glue, csv_file):
    source = _read_csv(glue, csv_file.parent)
    mapped = source.apply_mapping(MAPPING, transformation_ctx="map")
    assert mapped.toDF().columns == ["id", "name"]
    assert mapped.count() == 3
    assert mapped.errorsCount() == len(CSV_BAD_LINES)
    assert mapped.stageErrorsCount() == 0
    inputs = sorted(r["input"] for r in mapped.errorsAsDynamicFrame().toDF().collect())
    assert inputs == sorted(CSV_BAD_LINES)


def test_errors_carry_through_two_stages_and_union(glue, csv_file, json_file):
    csv = _read_csv(glue, csv_file.parent).apply_mapping(MAPPING)
    json = _read_json(glue, json_file.parent).apply_mapping(MAPPING)
    both = csv.union(json).repartition(1)
    assert both.count() == 6
    assert both.errorsCount() == len(CSV_BAD_LINES) + len(JSON_BAD_LINES)
    assert both.stageErrorsCount() == 0


# ----- fail fast ----------------------------------------------------------------------------
def test_csv_fail_fast_names_the_file(glue, csv_file):
    with pytest.raises(DataSourceError, match="isFailFast") as info:
        _read_csv(glue, csv_file.parent, isFailFast=True)
    assert str(csv_file) in str(info.value)


def test_json_fail_fast_names_the_file(glue, json_file):
    with pytest.raises(DataSourceError) as info:
        _read_json(glue, json_file.parent, isFailFast="true")
    assert str(json_file) in str(info.value)


def test_fail_fast_on_clean_input_reads_normally(glue, tmp_path):
    write_text(tmp_path / "in" / "ok.csv", "id,name\n1,ann\n2,bob\n")
    dyf = _read_csv(glue, tmp_path / "in", isFailFast=True)
    assert dyf.count() == 2


# ----- thresholds ---------------------------------------------------------------------------
def test_reader_frame_has_no_threshold_by_default(glue, csv_file):
    _read_csv(glue, csv_file.parent).assertErrorThreshold()  # 0 means no limit


def test_total_threshold_exceeded_on_apply_mapping(glue, csv_file):
    source = _read_csv(glue, csv_file.parent)
    with pytest.raises(ErrorThresholdExceededError) as info:
        source.apply_mapping(MAPPING, transformation_ctx="map", totalThreshold=2)
    err = info.value
    assert (err.kind, err.count, err.threshold, err.stage) == ("total", 3, 2, "map")


def test_total_threshold_not_exceeded(glue, csv_file):
    source = _read_csv(glue, csv_file.parent)
    mapped = source.apply_mapping(MAPPING, totalThreshold=3)
    mapped.assertErrorThreshold()
    assert mapped.count() == 3


def test_stage_threshold_counts_only_the_stage(glue, csv_file):
    # apply_mapping itself produced no errors, so its stage threshold is not exceeded even
    # though three upstream records failed.
    source = _read_csv(glue, csv_file.parent)
    mapped = source.apply_mapping(MAPPING, stageThreshold=1)
    mapped.assertErrorThreshold()
    assert mapped.errorsCount() == 3


def test_thresholds_on_apply_mapping_class_form(glue, csv_file):
    source = _read_csv(glue, csv_file.parent)
    with pytest.raises(ErrorThresholdExceededError):
        ApplyMapping.apply(frame=source, mappings=MAPPING, totalThreshold=1)
    ok = ApplyMapping.apply(frame=source, mappings=MAPPING, totalThreshold=10)
    assert ok.errorsCount() == 3


def test_assert_error_threshold_on_stage_errors(glue, csv_file):
    source = _read_csv(glue, csv_file.parent)
    errors = source.errorsAsDynamicFrame().toDF()
    over = DynamicFrame(source.toDF(), glue, "s", stage_errors=errors, stage_threshold=2)
    with pytest.raises(ErrorThresholdExceededError) as info:
        over.assertErrorThreshold()
    assert (info.value.kind, info.value.count, info.value.threshold) == ("stage", 3, 2)

    at_limit = DynamicFrame(source.toDF(), glue, "s", stage_errors=errors, stage_threshold=3)
    at_limit.assertErrorThreshold()

    total = DynamicFrame(source.toDF(), glue, "s", errors=errors, total_threshold=2)
    assert total.stageErrorsCount() == 0
    with pytest.raises(ErrorThresholdExceededError, match="total"):
        total.assertErrorThreshold()
