"""Spigot writes a JSON sample of the records and passes the frame through unchanged, through
``frame.spigot`` and ``Spigot.apply``."""

from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality

from etl.errors import DataSinkError, ErrorThresholdExceededError, TransformError
from etl.frame.dynamicframe import DynamicFrame
from etl.frame.records import ERROR_SCHEMA
from etl.transforms.base import get_transform
from etl.transforms.spigot import Spigot

DDL = "id long, `a.b` string, loc struct<city:string, `zip.code`:string>, tags array<struct<t:string>>"
ROWS = [
    (1, "x", ("Oslo", "0150"), [("a",), None]),
    (2, None, None, None),
    (3, "", ("Rome", None), []),
]


def written(path):
    """The JSON records under ``path``, one dict per line of every part file."""
    return [json.loads(line) for part in sorted(path.glob("part-*")) for line in part.read_text().splitlines()]


@pytest.fixture
def messy(spark, glue):
    return DynamicFrame.fromDF(spark.createDataFrame(ROWS, DDL), glue, "messy")


@pytest.fixture
def numbers(spark, glue):
    return DynamicFrame.fromDF(spark.range(150), glue, "numbers")


def test_method_writes_nested_records_as_json_and_passes_frame_through(messy, tmp_path):
    out = messy.spigot(str(tmp_path / "sample"), {"topk": 10}, transformation_ctx="peek")
    records = sorted(written(tmp_path / "sample"), key=lambda r: r["id"])
    assert records == [
        {"id": 1, "a.b": "x", "loc": {"city": "Oslo", "zip.code": "0150"}, "tags": [{"t": "a"}, None]},
        {"id": 2},  # Spark's JSON writer leaves null fields out, as Glue's records lack them
        {"id": 3, "a.b": "", "loc": {"city": "Rome"}, "tags": []},
    ]
    assert_df_equality(out.toDF(), messy.toDF())
    assert out.name == "messy"
    assert out.transformation_ctx == "peek"


def test_default_topk_is_100(numbers, tmp_path):
    Spigot.apply(frame=numbers, path=str(tmp_path / "s"))
    records = written(tmp_path / "s")
    assert len(records) == 100
    assert len({r["id"] for r in records}) == 100
    assert get_transform("Spigot") is Spigot


def test_topk_and_prob(numbers, tmp_path):
    numbers.spigot(str(tmp_path / "three"), {"topk": 3, "prob": 1})
    assert len(written(tmp_path / "three")) == 3
    numbers.spigot(str(tmp_path / "none"), {"prob": 0.0})
    assert written(tmp_path / "none") == []
    numbers.spigot(str(tmp_path / "zero"), {"topk": 0})
    assert written(tmp_path / "zero") == []
    # about half of 150 records; the bounds are many standard deviations wide
    Spigot.apply(frame=numbers, path=str(tmp_path / "half"), options='{"prob": 0.5, "topk": 1000}')
    assert 35 <= len(written(tmp_path / "half")) <= 115


def test_spigot_appends_like_a_glue_sink(messy, tmp_path):
    messy.spigot(str(tmp_path / "s"), {"topk": 2})
    messy.spigot(str(tmp_path / "s"), {"topk": 2})
    assert len(written(tmp_path / "s")) == 4


def test_errors_carry_over_and_thresholds_apply(spark, messy, tmp_path):
    errors = spark.createDataFrame([("read", "", "bad", "src", "{}")] * 2, ERROR_SCHEMA)
    with_errors = DynamicFrame(messy.toDF(), messy.glue_ctx, "messy", errors=errors)
    assert with_errors.spigot(str(tmp_path / "a")).errorsCount() == 2
    with pytest.raises(ErrorThresholdExceededError):
        Spigot.apply(frame=with_errors, path=str(tmp_path / "b"), totalThreshold=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"topK": 5}, "unknown option(s) ['topK']"),
        ({"topk": -1}, "'topk' must be a whole number >= 0"),
        ({"topk": "5"}, "'topk' must be a whole number"),
        ({"topk": True}, "'topk' must be a whole number"),
        ({"prob": 1.5}, "'prob' must be a number between 0 and 1"),
        ({"prob": "half"}, "'prob' must be a number"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_options_raise(messy, tmp_path, options, message):
    with pytest.raises(TransformError, match="Spigot") as info:
        messy.spigot(str(tmp_path / "s"), options)
    assert message in str(info.value)
    assert not (tmp_path / "s").exists()


def test_bad_paths_raise(messy, tmp_path):
    with pytest.raises(TransformError, match="path is required"):
        Spigot.apply(frame=messy, path="")
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(DataSinkError, match="could not write the sample to") as info:
        messy.spigot(str(blocker / "sample"))
    assert str(blocker / "sample") in str(info.value)
