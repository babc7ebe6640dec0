"""Choice types found by the JSON and CSV readers, and Glue's ``printSchema()`` layout for them.

Every frame here is read from real files with ``glue.create_dynamic_frame.from_options``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.frame.types import (
    CHOICE_KEY,
    choice_paths,
    glue_type_name,
    is_choice,
    strip_choice_marker,
    tree_string,
    type_ddl,
)

LONG, DOUBLE, STRING, BOOL = T.LongType(), T.DoubleType(), T.StringType(), T.BooleanType()


def choice(**variants: T.DataType) -> T.StructType:
    """The Spark type of a choice: one marked field per Glue type name."""
    return T.StructType([T.StructField(name, dtype, True, {CHOICE_KEY: True}) for name, dtype in variants.items()])


def write_lines(folder: Path, name: str, lines: list[Any]) -> Path:
    """Write JSON lines (dicts are dumped, strings written as they are) into ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def read_json(glue, tmp_path: Path, lines: list[Any], **format_options: Any):
    folder = write_lines(tmp_path / "json", "part-0.json", lines)
    return glue.create_dynamic_frame.from_options(
        "file", {"paths": [str(folder)]}, format="json", format_options=format_options, transformation_ctx="src"
    )


def read_csv(glue, tmp_path: Path, text: str):
    folder = tmp_path / "csv"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.csv").write_text(text, encoding="utf-8")
    return glue.create_dynamic_frame.from_options(
        "file", {"paths": [str(folder)]}, format="csv", format_options={"withHeader": True}
    )


def printed_schema(dyf, capsys) -> list[str]:
    capsys.readouterr()
    dyf.printSchema()
    return capsys.readouterr().out.splitlines()


def same(actual, expected) -> None:
    """Equal schemas (choice markers included) and rows, in id order."""
    assert_df_equality(actual.orderBy("id"), expected, ignore_nullable=True)


# ----- JSON: a field of two types ------------------------------------------------------------

PROVIDERS = [
    {"id": 1, "provider_id": 10, "name": "Acme"},
    {"id": 2, "provider_id": "X-20", "name": "Bolt"},
    {"id": 3, "provider_id": 30, "name": "Core"},
    {"id": 4, "name": "Dyn"},  # no provider_id at all
    {"id": 5, "provider_id": None, "name": "Echo"},
]


def test_number_in_some_lines_and_string_in_others_is_a_choice(glue, spark, tmp_path, capsys):
    dyf = read_json(glue, tmp_path, PROVIDERS)

    assert printed_schema(dyf, capsys) == [
        "root",
        "|-- id: long",
        "|-- name: string",
        "|-- provider_id: choice",
        "|    |-- long",
        "|    |-- string",
    ]
    schema = T.StructType(
        [
            T.StructField("id", LONG),
            T.StructField("name", STRING),
            T.StructField("provider_id", choice(long=LONG, string=STRING)),
        ]
    )
    expected = spark.createDataFrame(
        [
            (1, "Acme", (10, None)),
            (2, "Bolt", (None, "X-20")),
            (3, "Core", (30, None)),
            (4, "Dyn", None),
            (5, "Echo", None),
        ],
        schema,
    )
    same(dyf.toDF(), expected)
    assert dyf.count() == 5 and dyf.errorsCount() == 0


def test_choices_nested_in_a_struct_and_in_an_array_of_structs(glue, spark, tmp_path, capsys):
    lines = [
        {"id": 1, "meta": {"code": 7, "tag": "a"}, "items": [{"price": 1.5, "sku": "p"}, {"price": "$2", "sku": "q"}]},
        {"id": 2, "meta": {"code": "A7", "tag": "b"}, "items": [{"price": 3, "sku": "r"}]},
        {"id": 3, "meta": None, "items": []},
        {"id": 4, "meta": {"tag": "d"}, "items": None},
    ]
    dyf = read_json(glue, tmp_path, lines)

    assert printed_schema(dyf, capsys) == [
        "root",
        "|-- id: long",
        "|-- items: array",
        "|    |-- element: struct",
        "|    |    |-- price: choice",
        "|    |    |    |-- double",
        "|    |    |    |-- string",
        "|    |    |-- sku: string",
        "|-- meta: struct",
        "|    |-- code: choice",
        "|    |    |-- long",
        "|    |    |-- string",
        "|    |-- tag: string",
    ]
    assert choice_paths(dyf.schema()) == ["items[].price", "meta.code"]
    item = T.StructType([T.StructField("price", choice(double=DOUBLE, string=STRING)), T.StructField("sku", STRING)])
    meta = T.StructType([T.StructField("code", choice(long=LONG, string=STRING)), T.StructField("tag", STRING)])
    schema = T.StructType(
        [T.StructField("id", LONG), T.StructField("items", T.ArrayType(item)), T.StructField("meta", meta)]
    )
    expected = spark.createDataFrame(
        [
            (1, [((1.5, None), "p"), ((None, "$2"), "q")], ((7, None), "a")),
            (2, [((3.0, None), "r")], ((None, "A7"), "b")),
            (3, [], None),
            (4, None, (None, "d")),
        ],
        schema,
    )
    same(dyf.toDF(), expected)


def test_struct_in_some_lines_and_string_in_others(glue, spark, tmp_path, capsys):
    lines = [
        {"id": 1, "address": {"city": "Oslo", "zip": 150}},
        {"id": 2, "address": "unknown"},
        {"id": 3, "address": {"city": "Rome"}},
    ]
    dyf = read_json(glue, tmp_path, lines)

    assert printed_schema(dyf, capsys) == [
        "root",
        "|-- address: choice",
        "|    |-- string",
        "|    |-- struct",
        "|    |    |-- city: string",
        "|    |    |-- zip: long",
        "|-- id: long",
    ]
    city_zip = T.StructType([T.StructField("city", STRING), T.StructField("zip", LONG)])
    schema = T.StructType([T.StructField("address", choice(string=STRING, struct=city_zip)), T.StructField("id", LONG)])
    expected = spark.createDataFrame(
        [((None, ("Oslo", 150)), 1), (("unknown", None), 2), ((None, ("Rome", None)), 3)], schema
    )
    same(dyf.toDF(), expected)


def test_three_kinds_of_value_make_a_three_way_choice(glue, tmp_path, capsys):
    lines = [{"id": 1, "flag": True}, {"id": 2, "flag": 0}, {"id": 3, "flag": "no"}]
    dyf = read_json(glue, tmp_path, lines)

    assert printed_schema(dyf, capsys)[1:5] == [
        "|-- flag: choice",
        "|    |-- boolean",
        "|    |-- long",
        "|    |-- string",
    ]
    rows = dyf.toDF().orderBy("id").select(F.to_json("flag").alias("flag")).collect()
    assert [r.flag for r in rows] == ['{"boolean":true}', '{"long":0}', '{"string":"no"}']


def test_numbers_widen_and_nulls_do_not_make_a_choice(glue, spark, tmp_path, capsys):
    """long + double is double; a null or missing value is no alternative; an all-null field is
    typed string, as Spark's JSON reader types it."""
    lines = [
        {"id": 1, "amount": 10, "n": 5, "nothing": None},
        {"id": 2, "amount": 2.5, "n": None, "nothing": None},
        {"id": 3, "amount": -4},
    ]
    dyf = read_json(glue, tmp_path, lines)

    assert printed_schema(dyf, capsys) == [
        "root",
        "|-- amount: double",
        "|-- id: long",
        "|-- n: long",
        "|-- nothing: string",
    ]
    expected = spark.createDataFrame(
        [(10.0, 1, 5, None), (2.5, 2, None, None), (-4.0, 3, None, None)],
        "amount double, id long, n long, nothing string",
    )
    same(dyf.toDF(), expected)


def test_malformed_lines_become_error_records_next_to_choices(glue, spark, tmp_path, capsys):
    bad = ['{"id": 9, "provider_id": ', "not json at all"]
    folder = write_lines(tmp_path / "json", "part-0.json", [PROVIDERS[0], bad[0], PROVIDERS[1], bad[1]])
    dyf = glue.create_dynamic_frame.from_options(
        "file", {"paths": [str(folder)]}, format="json", transformation_ctx="read_providers"
    )

    assert printed_schema(dyf, capsys)[3:] == ["|-- provider_id: choice", "|    |-- long", "|    |-- string"]
    assert dyf.count() == 2
    assert dyf.errorsCount() == 2 and dyf.stageErrorsCount() == 2
    source = f"file:{folder / 'part-0.json'}"
    expected = spark.createDataFrame(
        [("read_providers", "read json", "malformed JSON record", source, line) for line in bad],
        "transformation_ctx string, info string, error_message string, source string, input string",
    )
    assert_df_equality(dyf.errorsAsDynamicFrame().toDF(), expected, ignore_nullable=True, ignore_row_order=True)


def test_choice_detection_copes_with_awkward_field_names(glue, spark, tmp_path, capsys):
    """Names with dots, quotes and spaces, at the top and inside a struct alternative."""
    lines = [
        {"id": 1, "a.b": 1, "it's": 2, 'say "hi"': 3, "obj": {"zip code": 10, "x`y": 1}},
        {"id": 2, "a.b": "one", "it's": "two", 'say "hi"': "three", "obj": "none"},
    ]
    dyf = read_json(glue, tmp_path, lines)

    out = printed_schema(dyf, capsys)
    assert "|-- a.b: choice" in out and "|-- it's: choice" in out and '|-- say "hi": choice' in out
    assert out[out.index("|-- obj: choice") :][:5] == [
        "|-- obj: choice",
        "|    |-- string",
        "|    |-- struct",
        "|    |    |-- x`y: long",
        "|    |    |-- zip code: long",
    ]
    rows = dyf.toDF().orderBy("id").select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in dyf.toDF().columns])))
    assert [json.loads(r[0]) for r in rows.collect()] == [
        {
            "a.b": {"long": 1},
            "id": 1,
            "it's": {"long": 2},
            "obj": {"struct": {"x`y": 1, "zip code": 10}},
            'say "hi"': {"long": 3},
        },
        {
            "a.b": {"string": "one"},
            "id": 2,
            "it's": {"string": "two"},
            "obj": {"string": "none"},
            'say "hi"': {"string": "three"},
        },
    ]


def test_lines_with_nan_still_take_part_in_inference(glue, tmp_path, capsys):
    """Spark reads NaN and Infinity in JSON; a line holding one must not hide its fields."""
    lines = ['{"id": 1, "x": 1.5}', '{"id": 2, "x": NaN, "only_here": "yes"}', '{"id": 3, "x": -Infinity}']
    dyf = read_json(glue, tmp_path, lines)

    assert printed_schema(dyf, capsys) == ["root", "|-- id: long", "|-- only_here: string", "|-- x: double"]
    rows = dyf.toDF().orderBy("id").collect()
    assert rows[0].x == 1.5 and rows[1].x != rows[1].x and rows[2].x == float("-inf")
    assert [r.only_here for r in rows] == [None, "yes", None]
    assert dyf.errorsCount() == 0


def test_disagreement_inside_arrays_of_arrays_is_kept_as_json_text(glue, tmp_path, capsys):
    lines = [{"id": 1, "grid": [[1, 2], ["a"]]}, {"id": 2, "grid": [[3]]}]
    dyf = read_json(glue, tmp_path, lines)

    assert printed_schema(dyf, capsys) == [
        "root",
        "|-- grid: array",
        "|    |-- element: array",
        "|    |    |-- element: string",
        "|-- id: long",
    ]
    assert [r.grid for r in dyf.toDF().orderBy("id").collect()] == [[["1", "2"], ["a"]], [["3"]]]


def test_choice_marker_survives_a_parquet_round_trip(glue, tmp_path, capsys):
    dyf = read_json(glue, tmp_path, PROVIDERS)
    out = tmp_path / "parquet"
    dyf.toDF().write.parquet(str(out))

    back = glue.create_dynamic_frame.from_options("file", {"paths": [str(out)]}, format="parquet")

    assert printed_schema(back, capsys) == printed_schema(dyf, capsys)
    assert is_choice(back.schema()["provider_id"].dataType)


# ----- CSV: a column mixing numbers and text ------------------------------------------------

CSV_TEXT = "id,code,amount,qty,note\n1,10,1.5,3,a\n2,X1,2.5,4,\n3,,n/a,5,c\n4,7,3,6,d\n"


def test_csv_column_mixing_numbers_and_text_is_a_choice(glue, spark, tmp_path, capsys):
    dyf = read_csv(glue, tmp_path, CSV_TEXT)

    assert printed_schema(dyf, capsys) == [
        "root",
        "|-- id: long",
        "|-- code: choice",
        "|    |-- long",
        "|    |-- string",
        "|-- amount: choice",
        "|    |-- double",
        "|    |-- string",
        "|-- qty: long",
        "|-- note: string",
    ]
    schema = T.StructType(
        [
            T.StructField("id", LONG),
            T.StructField("code", choice(long=LONG, string=STRING)),
            T.StructField("amount", choice(double=DOUBLE, string=STRING)),
            T.StructField("qty", LONG),
            T.StructField("note", STRING),
        ]
    )
    expected = spark.createDataFrame(
        [
            (1, (10, None), (1.5, None), 3, "a"),
            (2, (None, "X1"), (2.5, None), 4, None),
            (3, None, (None, "n/a"), 5, "c"),
            (4, (7, None), (3.0, None), 6, "d"),
        ],
        schema,
    )
    same(dyf.toDF(), expected)


def test_csv_pure_numeric_and_pure_text_columns_are_not_choices(glue, tmp_path, capsys):
    dyf = read_csv(glue, tmp_path, "id,price,word\n1,1.25,x\n2,3,y\n3,,z\n")

    assert printed_schema(dyf, capsys) == ["root", "|-- id: long", "|-- price: double", "|-- word: string"]
    assert choice_paths(dyf.schema()) == []


# ----- the type helpers behind printSchema ----------------------------------------------------


def test_tree_string_lays_out_maps_arrays_and_choices_inside_arrays():
    schema = T.StructType(
        [
            T.StructField("tags", T.MapType(STRING, choice(long=LONG, string=STRING))),
            T.StructField("matrix", T.ArrayType(T.ArrayType(DOUBLE))),
            T.StructField("when", T.TimestampType()),
            T.StructField("dec", T.DecimalType(10, 2)),
        ]
    )
    assert tree_string(schema).splitlines() == [
        "root",
        "|-- tags: map",
        "|    |-- value: choice",
        "|    |    |-- long",
        "|    |    |-- string",
        "|-- matrix: array",
        "|    |-- element: array",
        "|    |    |-- element: double",
        "|-- when: timestamp",
        "|-- dec: decimal",
    ]


def test_strip_choice_marker_gives_a_plain_struct():
    marked = T.StructType([T.StructField("p", T.ArrayType(choice(long=LONG, string=STRING)))])
    plain = strip_choice_marker(marked)
    assert plain == T.StructType(
        [T.StructField("p", T.ArrayType(T.StructType([T.StructField("long", LONG), T.StructField("string", STRING)])))]
    )
    assert glue_type_name(marked["p"].dataType.elementType) == "choice"
    assert glue_type_name(plain["p"].dataType.elementType) == "struct"


@pytest.mark.parametrize(
    "dtype",
    [
        T.StructType([T.StructField("zip code", LONG), T.StructField("a:b", STRING), T.StructField("x`y", BOOL)]),
        T.ArrayType(T.StructType([T.StructField("a.b", T.MapType(STRING, T.ArrayType(DOUBLE)))])),
        T.DecimalType(12, 3),
    ],
)
def test_type_ddl_reads_back_as_the_same_type(dtype):
    assert T.DataType.fromDDL(type_ddl(dtype)) == dtype
