"""Map and Filter with Python functions, through ``dyf.map``/``dyf.filter`` and
``Map.apply``/``Filter.apply``: changed shapes, nested records, typed columns, choices, and error
records for functions that fail."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import ErrorThresholdExceededError, TransformError
from etl.frame.dynamicframe import DynamicFrame
from etl.frame.types import CHOICE_KEY, choice_paths
from etl.transforms import map_stage
from etl.transforms.base import get_transform
from etl.transforms.python_functions import Filter, Map, _filter_batch

FORMS = ["method", "class"]
PEOPLE: list[Any] = [
    {"id": 1, "name": "ann", "provider_id": 10, "address": {"city": "Oslo", "zip": 150}, "tags": ["a", "b"]},
    {"id": 2, "name": "bob", "provider_id": "X-20", "address": {"city": "Rome"}, "tags": []},
    {"id": 3, "name": "cy", "provider_id": 30, "address": None, "tags": None},
    "{broken",  # the reader's error record
]


@pytest.fixture(scope="module")
def people(glue, tmp_path_factory):
    """Read from a JSON file: ``provider_id`` is a choice, one line is malformed."""
    folder: Path = tmp_path_factory.mktemp("map_filter") / "people"
    folder.mkdir()
    text = "\n".join(p if isinstance(p, str) else json.dumps(p) for p in PEOPLE) + "\n"
    (folder / "part-0.json").write_text(text, encoding="utf-8")
    return glue.create_dynamic_frame.from_options(
        "file", {"paths": [str(folder)]}, format="json", transformation_ctx="read_people"
    )


@pytest.fixture(scope="module")
def typed(glue, spark):
    """Dates, timestamps and decimals (types JSON cannot carry)."""
    df = spark.createDataFrame(
        [
            (1, dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), decimal.Decimal("1.50")),
            (2, dt.date(2023, 12, 31), None, decimal.Decimal("20.25")),
            (3, None, dt.datetime(2025, 6, 1, 0, 0, 0), None),
        ],
        "id long, d date, ts timestamp, amount decimal(10,2)",
    )
    return DynamicFrame.fromDF(df, glue, "typed")


def run_map(frame, form: str, f, **kwargs: Any):
    if form == "method":
        return frame.map(f, **kwargs)
    return Map.apply(frame=frame, f=f, **kwargs)


def run_filter(frame, form: str, f, **kwargs: Any):
    if form == "method":
        return frame.filter(f, **kwargs)
    return Filter.apply(frame=frame, f=f, **kwargs)


def same(actual, expected) -> None:
    assert_df_equality(actual.orderBy("id"), expected, ignore_nullable=True)


def errors_of(frame) -> list[dict[str, Any]]:
    """This frame's error records, input parsed from JSON, ordered by input id."""
    rows = [r.asDict() for r in frame.errorsAsDynamicFrame().toDF().collect()]
    for row in rows:
        row["input"] = json.loads(row["input"]) if row["input"].startswith('{"') else row["input"]
    return sorted(
        rows,
        key=lambda r: (
            r["transformation_ctx"],
            str(r["input"].get("id", "")) if isinstance(r["input"], dict) else r["input"],
        ),
    )


def printed_schema(frame, capsys) -> list[str]:
    capsys.readouterr()
    frame.printSchema()
    return capsys.readouterr().out.splitlines()


# ----- Map --------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_map_adds_removes_and_changes_fields(people, spark, form):
    # Functions are defined inside the tests: Spark's workers unpickle them by value, while a
    # module-level function would be looked up by its module, which workers cannot import.
    def reshape(record: dict[str, Any]) -> dict[str, Any]:
        record["name"] = record["name"].upper()
        record["name_len"] = len(record["name"])
        del record["tags"], record["provider_id"]
        return record

    out = run_map(people, form, reshape, transformation_ctx="reshape")

    expected = spark.createDataFrame(
        [(("Oslo", 150), 1, "ANN", 3), (("Rome", None), 2, "BOB", 3), (None, 3, "CY", 2)],
        "address struct<city:string,zip:long>, id long, name string, name_len long",
    )
    same(out.toDF(), expected)
    assert out.stageErrorsCount() == 0


def test_map_with_nested_dicts_and_lists(people, spark):
    def add_nested(record: dict[str, Any]) -> dict[str, Any]:
        if record["address"] is not None:
            record["address"]["country"] = "NO" if record["address"]["city"] == "Oslo" else "IT"
        record["geo"] = {"lat": 59.9 if record["id"] == 1 else None, "labels": [{"k": t} for t in record["tags"] or []]}
        return {k: record[k] for k in ("id", "address", "geo")}

    out = people.map(add_nested)

    # Fields keep the order the function wrote them in (Arrow types the results).
    expected = spark.createDataFrame(
        [
            (("Oslo", 150, "NO"), 1, (59.9, [("a",), ("b",)])),
            (("Rome", None, "IT"), 2, (None, [])),
            (None, 3, (None, [])),
        ],
        "address struct<city:string,zip:long,country:string>, id long, "
        "geo struct<lat:double,labels:array<struct<k:string>>>",
    )
    same(out.toDF().select("address", "id", "geo"), expected)


def test_map_keeps_date_timestamp_and_decimal_types(typed, spark):
    def double_id(record: dict[str, Any]) -> dict[str, Any]:
        assert record["d"] is None or isinstance(record["d"], dt.date)
        record["id2"] = record["id"] * 2
        return record

    out = Map.apply(frame=typed, f=double_id)

    expected = typed.toDF().selectExpr("*", "id * 2 AS id2")
    same(out.toDF(), expected)


def test_map_putting_text_in_a_date_field_keeps_the_text(typed, spark):
    """A date field that now holds text that is not a date stays a string, values intact."""

    def unknown_when_old(record: dict[str, Any]) -> dict[str, Any]:
        if record["d"] is not None and record["d"].year < 2024:
            record["d"] = "n/a"
        return {"id": record["id"], "d": record["d"]}

    out = typed.map(unknown_when_old)

    same(out.toDF(), spark.createDataFrame([(1, "2024-01-02"), (2, "n/a"), (3, None)], "id long, d string"))


def test_map_passes_nan_and_infinity_through(glue, spark):
    df = spark.createDataFrame([(1, float("nan")), (2, float("inf")), (3, 1.5)], "id long, x double")

    out = DynamicFrame.fromDF(df, glue, "floats").map(lambda r: {**r, "y": r["x"]})

    rows = out.toDF().orderBy("id").collect()
    assert out.toDF().columns == ["id", "x", "y"] and out.count() == 3
    assert rows[0].y != rows[0].y and rows[1].y == float("inf") and rows[2].y == 1.5


@pytest.mark.parametrize("form", FORMS)
def test_map_function_raising_makes_error_records(people, spark, form):
    def no_bob(record: dict[str, Any]) -> dict[str, Any]:
        if record["name"] == "bob":
            raise ValueError("no bob here")
        return {"id": record["id"]}

    out = run_map(people, form, no_bob, transformation_ctx="map_people", info="dropping bob")

    same(out.toDF(), spark.createDataFrame([(1,), (3,)], "id long"))
    assert out.stageErrorsCount() == 1
    assert out.errorsCount() == 2  # the reader's malformed line is still counted
    error = [e for e in errors_of(out) if e["transformation_ctx"] == "map_people"]
    assert len(error) == 1
    assert error[0]["info"] == "dropping bob" and error[0]["source"] is None
    assert error[0]["error_message"].startswith("Map function failed: ValueError: no bob here (at ")
    # the input as the function saw it: the choice holds its plain value
    assert error[0]["input"] == {
        "address": {"city": "Rome", "zip": None},
        "id": 2,
        "name": "bob",
        "provider_id": "X-20",
        "tags": [],
    }


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (lambda r: None, "Map function failed: the function returned NoneType, not a record (dict)"),
        (lambda r: [r["id"]], "Map function failed: the function returned list, not a record (dict)"),
        (lambda r: {"s": object()}, "Map function failed: TypeError: value of type object is not JSON serializable"),
    ],
)
def test_map_result_that_is_not_a_record_is_an_error(typed, f, message):
    out = typed.map(f, transformation_ctx="bad_map")

    assert out.count() == 0
    errors = errors_of(out)
    assert [e["input"]["id"] for e in errors] == [1, 2, 3]
    assert all(e["error_message"].startswith(message) for e in errors), errors[0]["error_message"]
    assert errors[0]["input"] == {"id": 1, "d": "2024-01-02", "ts": "2024-01-02 03:04:05+00:00", "amount": "1.50"}


@pytest.mark.parametrize("failure", ["raises", "returns a value JSON cannot hold"])
def test_map_error_record_shows_the_record_before_the_function_changed_it(typed, failure):
    def change_then_fail(record: dict[str, Any]) -> dict[str, Any]:
        record["id"] = record["id"] * 100
        record["d"] = "changed"
        if record["id"] == 200:
            if failure == "raises":
                raise ValueError("two")
            record["bad"] = object()
        return record

    out = typed.map(change_then_fail, transformation_ctx="change")

    assert sorted(r.id for r in out.toDF().collect()) == [100, 300]  # the others' changes are kept
    (error,) = errors_of(out)
    assert error["input"] == {"id": 2, "d": "2023-12-31", "ts": None, "amount": "20.25"}


def test_map_results_with_different_keys_are_typed_together(typed, spark):
    """Fields appear in the order the results first name them; a result without one is null."""

    def vary(record: dict[str, Any]) -> dict[str, Any]:
        if record["id"] == 1:
            return {"id": record["id"]}
        if record["id"] == 2:
            return {"note": "second", "id": record["id"]}
        return {"id": record["id"], "extra": 3.5}

    out = typed.map(vary)

    expected = spark.createDataFrame(
        [(1, None, None), (2, "second", None), (3, None, 3.5)], "id long, note string, extra double"
    )
    same(out.toDF(), expected)


def test_map_to_empty_records_keeps_one_record_each(typed):
    out = typed.map(lambda r: {})

    assert out.count() == 3 and out.toDF().columns == [] and out.stageErrorsCount() == 0


ROUTES = ["guess fits all", "guess from the first record", "no guess (shuffled input)"]


@pytest.fixture
def route_input(glue, spark, monkeypatch, request):
    """Six records in three partitions, read through each of Map's routes: the guessed schema
    holds every batch (typed rows), the guess comes from the first record only (later batches
    leave as Arrow blobs or JSON and everything is conformed), or there is no guess."""
    df = spark.range(1, 7, numPartitions=3).select("id", F.concat(F.lit("n"), "id").alias("name"))
    if request.param == "guess from the first record":
        monkeypatch.setattr(map_stage, "GUESS_RECORDS", 1)
    if request.param == "no guess (shuffled input)":
        df = df.repartition(3)
    return DynamicFrame.fromDF(df, glue, "routes")


@pytest.mark.parametrize("route_input", ROUTES, indirect=True)
def test_map_routes_agree_when_later_records_add_and_widen_fields(route_input, spark):
    def grow(record: dict[str, Any]) -> dict[str, Any]:
        if record["id"] > 2:
            record["score"] = record["id"] / 2  # a double, where the first records had none
        if record["id"] > 4:
            record["tags"] = {"even": record["id"] % 2 == 0}
        return record

    out = route_input.map(grow)

    expected = spark.createDataFrame(
        [(i, f"n{i}", i / 2 if i > 2 else None, (i % 2 == 0,) if i > 4 else None) for i in range(1, 7)],
        "id long, name string, score double, tags struct<even:boolean>",
    )
    same(out.toDF(), expected)


@pytest.mark.parametrize("route_input", ROUTES, indirect=True)
def test_map_routes_agree_on_a_field_that_becomes_a_choice(route_input, spark, capsys):
    out = route_input.map(lambda r: {"id": r["id"], "v": r["id"] if r["id"] < 5 else f"#{r['id']}"})

    assert printed_schema(out, capsys) == ["root", "|-- id: long", "|-- v: choice", "|    |-- long", "|    |-- string"]
    values = {r.id: tuple(r.v) for r in out.toDF().collect()}
    assert values == {1: (1, None), 2: (2, None), 3: (3, None), 4: (4, None), 5: (None, "#5"), 6: (None, "#6")}


def test_map_thresholds(people):
    def fail_odd(record: dict[str, Any]) -> dict[str, Any]:
        if record["id"] % 2:
            raise RuntimeError("odd")
        return record

    with pytest.raises(ErrorThresholdExceededError, match="m: 2 stage error") as stage:
        people.map(fail_odd, transformation_ctx="m", stageThreshold=1)
    assert (stage.value.kind, stage.value.count, stage.value.threshold) == ("stage", 2, 1)
    with pytest.raises(ErrorThresholdExceededError, match="m: 3 total error"):
        Map.apply(frame=people, f=fail_odd, transformation_ctx="m", stageThreshold=2, totalThreshold=2)
    assert people.map(fail_odd, stageThreshold=2, totalThreshold=3).count() == 1


def test_map_results_of_different_types_make_a_choice(people, spark, capsys):
    out = people.map(lambda r: {"id": r["id"], "v": r["id"] if r["id"] != 2 else "two"})

    assert printed_schema(out, capsys) == ["root", "|-- id: long", "|-- v: choice", "|    |-- long", "|    |-- string"]
    choice = T.StructType(
        [T.StructField(n, t, True, {CHOICE_KEY: True}) for n, t in [("long", T.LongType()), ("string", T.StringType())]]
    )
    expected = spark.createDataFrame(
        [(1, (1, None)), (2, (None, "two")), (3, (3, None))],
        T.StructType([T.StructField("id", T.LongType()), T.StructField("v", choice)]),
    )
    same(out.toDF(), expected)


def test_map_sees_the_plain_value_of_a_choice(people, spark):
    out = people.map(lambda r: {"id": r["id"], "kind": type(r["provider_id"]).__name__})

    same(out.toDF(), spark.createDataFrame([(1, "int"), (2, "str"), (3, "int")], "id long, kind string"))


# ----- Filter -----------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_filter_keeps_matching_records_unchanged(people, form):
    out = run_filter(people, form, lambda r: r["id"] != 2, transformation_ctx="not_two")

    assert out.schema() == people.schema()  # the choice column is still a choice
    assert choice_paths(out.schema()) == ["provider_id"]
    same(out.toDF(), people.toDF().where("id != 2").orderBy("id"))


def test_filter_on_nested_fields(people):
    out = people.filter(lambda r: r["address"] is not None and r["address"]["city"] == "Oslo")

    assert [r.id for r in out.toDF().collect()] == [1]


@pytest.mark.parametrize("form", FORMS)
def test_filter_sees_the_plain_value_of_a_choice(people, form):
    numbers = run_filter(people, form, lambda r: isinstance(r["provider_id"], int))
    texts = run_filter(people, form, lambda r: str(r["provider_id"]).startswith("X"))

    assert sorted(r.id for r in numbers.toDF().collect()) == [1, 3]
    assert [r.id for r in texts.toDF().collect()] == [2]
    assert numbers.schema() == people.schema()


def test_filter_on_dates(typed):
    out = Filter.apply(frame=typed, f=lambda r: r["d"] is not None and r["d"] >= dt.date(2024, 1, 1))

    same(out.toDF(), typed.toDF().where("id = 1"))


@pytest.mark.parametrize("form", FORMS)
def test_filter_function_raising_makes_error_records(people, spark, form):
    out = run_filter(people, form, lambda r: r["tags"][0] == "a", transformation_ctx="first_tag")

    assert [r.id for r in out.toDF().collect()] == [1]
    assert out.stageErrorsCount() == 2 and out.errorsCount() == 3
    errors = [e for e in errors_of(out) if e["transformation_ctx"] == "first_tag"]
    assert [e["input"]["id"] for e in errors] == [2, 3]
    assert [e["info"] for e in errors] == ["Filter", "Filter"]
    assert errors[0]["error_message"].startswith("Filter function failed: IndexError: list index out of range")
    assert errors[1]["error_message"].startswith("Filter function failed: TypeError: 'NoneType' object")
    assert errors[1]["input"] == {
        "address": None,
        "id": 3,
        "name": "cy",
        "provider_id": 30,
        "tags": None,
    }


def test_filter_thresholds(people):
    with pytest.raises(ErrorThresholdExceededError, match="f: 3 stage error"):
        people.filter(lambda r: 1 / 0, transformation_ctx="f", stageThreshold=2)
    with pytest.raises(ErrorThresholdExceededError, match="f: 4 total error"):
        Filter.apply(frame=people, f=lambda r: 1 / 0, transformation_ctx="f", totalThreshold=3)
    assert people.filter(lambda r: 1 / 0, stageThreshold=3, totalThreshold=4).count() == 0


def test_filter_batch_calls_the_function_once_per_record_around_failures():
    seen: list[int] = []

    def f(record):
        seen.append(record["id"])
        return 10 // (record["id"] % 3)  # fails on ids 0, 3, 6

    keep, errors, inputs = _filter_batch(f, [{"id": i} for i in range(1, 8)])

    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert keep == [True, True, True, True, True, True, True]  # failures are kept as error rows
    assert [e is not None for e in errors] == [False, False, True, False, False, True, False]
    assert errors[2].startswith("ZeroDivisionError: integer division or modulo by zero (at ")
    assert (inputs[2], inputs[5]) == ('{"id": 3}', '{"id": 6}')
    assert _filter_batch(lambda r: r["id"] > 1, [{"id": 1}, {"id": 2}]) == ([False, True], [None, None], [None, None])


def test_filter_with_a_threshold_calls_the_function_once_per_record(glue, spark):
    """The threshold check counts errors when the transform runs; the output then reuses that
    pass instead of calling the function on every record again."""
    calls = spark.sparkContext.accumulator(0)

    def even_or_fail(record):
        calls.add(1)
        if record["id"] == 7:
            raise ValueError("seven")
        return record["id"] % 2 == 0

    frame = DynamicFrame.fromDF(spark.range(100).repartition(2), glue, "numbers")
    out = Filter.apply(frame=frame, f=even_or_fail, transformation_ctx="even", stageThreshold=5)

    assert (out.count(), out.stageErrorsCount()) == (50, 1)
    assert sorted(r.id for r in out.toDF().collect())[:3] == [0, 2, 4]
    assert calls.value == 100


def test_upstream_errors_are_counted_after_map_and_filter_but_not_as_stage_errors(people):
    assert people.errorsCount() == 1 and people.stageErrorsCount() == 1

    mapped = people.map(lambda r: r)
    filtered = mapped.filter(lambda r: r["id"] > 1)

    assert (mapped.errorsCount(), mapped.stageErrorsCount()) == (1, 0)
    assert (filtered.errorsCount(), filtered.stageErrorsCount()) == (1, 0)
    assert filtered.count() == 2


def test_map_and_filter_see_a_map_column_as_a_dict(glue, spark):
    df = spark.createDataFrame([(1, {"a": 1}), (2, {"b": 2, "c": 3})], "id long, m map<string,int>")
    dyf = DynamicFrame.fromDF(df, glue, "maps")

    kept = dyf.filter(lambda r: r["m"].get("a") == 1)
    mapped = dyf.map(lambda r: {"id": r["id"], "keys": ",".join(sorted(r["m"]))})

    assert [r.id for r in kept.toDF().collect()] == [1] and kept.stageErrorsCount() == 0
    same(mapped.toDF(), spark.createDataFrame([(1, "a"), (2, "b,c")], "id long, keys string"))


# ----- registry and argument checks -------------------------------------------------------------


def test_registered_under_their_glue_names():
    assert get_transform("Map") is Map and get_transform("Filter") is Filter


@pytest.mark.parametrize(("transform", "name"), [(Map, "Map"), (Filter, "Filter")])
def test_f_must_be_callable(people, transform, name):
    with pytest.raises(TransformError, match=f"{name}: f must be a function, got str"):
        transform.apply(frame=people, f="lambda r: r")
