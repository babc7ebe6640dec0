"""ResolveChoice on choices read from JSON files: every action, nested and array paths, Glue's
argument rules and match_catalog, through ``dyf.resolveChoice`` and ``ResolveChoice.apply``."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.errors import ErrorThresholdExceededError, TransformError
from etl.frame.types import CHOICE_KEY, choice_paths, is_choice
from etl.transforms.base import get_transform
from etl.transforms.resolve_choice import ResolveChoice

LONG, DOUBLE, STRING = T.LongType(), T.DoubleType(), T.StringType()

LINES: list[Any] = [
    {
        "id": 1,
        "provider_id": 10,
        "meta": {"code": 7, "tag": "a"},
        "items": [{"price": 1.5, "sku": "p"}, {"price": "$2", "sku": "q"}],
        "addr": {"zip": 150},
    },
    {
        "id": 2,
        "provider_id": "X-20",
        "meta": {"code": "A7", "tag": "b"},
        "items": [{"price": 3, "sku": "r"}],
        "addr": "unknown",
    },
    {"id": 3, "provider_id": "30", "meta": None, "items": [], "addr": None},
    {"id": 4, "meta": {"tag": "d"}, "items": None, "addr": {"zip": 456}},
    '{"id": 5, "provider_id": ',  # malformed: an error record of the reader
    "{oops}",
]
FORMS = ["method", "class"]


def choice(**variants: T.DataType) -> T.StructType:
    return T.StructType([T.StructField(name, dtype, True, {CHOICE_KEY: True}) for name, dtype in variants.items()])


ITEM_CHOICE = T.StructType([T.StructField("price", choice(double=DOUBLE, string=STRING)), T.StructField("sku", STRING)])
META_CHOICE = T.StructType([T.StructField("code", choice(long=LONG, string=STRING)), T.StructField("tag", STRING)])
ADDR_CHOICE = choice(string=STRING, struct=T.StructType([T.StructField("zip", LONG)]))


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("resolve_choice") / "providers"
    folder.mkdir()
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in LINES) + "\n"
    (folder / "part-0.json").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def dyf(glue, source_dir):
    return glue.create_dynamic_frame.from_options(
        "file", {"paths": [str(source_dir)]}, format="json", transformation_ctx="read_providers"
    )


def resolve(frame, form: str, **kwargs: Any):
    """ResolveChoice through the DynamicFrame method or the Transform class."""
    if form == "method":
        return frame.resolveChoice(**kwargs)
    return ResolveChoice.apply(frame=frame, **kwargs)


def same(actual, expected) -> None:
    assert_df_equality(actual.orderBy("id"), expected, ignore_nullable=True)


def printed_schema(frame, capsys) -> list[str]:
    capsys.readouterr()
    frame.printSchema()
    return capsys.readouterr().out.splitlines()


def test_source_has_four_choices(dyf):
    assert choice_paths(dyf.schema()) == ["addr", "items[].price", "meta.code", "provider_id"]
    assert dyf.errorsCount() == 2


# ----- cast and project -------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_cast_long_makes_uncastable_values_null(dyf, spark, form):
    out = resolve(dyf, form, specs=[("provider_id", "cast:long")], transformation_ctx="rc")

    expected = spark.createDataFrame([(1, 10), (2, None), (3, 30), (4, None)], "id long, provider_id long")
    same(out.toDF().select("id", "provider_id"), expected)
    assert choice_paths(out.schema()) == ["addr", "items[].price", "meta.code"]  # the others are left alone


def test_cast_that_widens_an_alternative_is_a_plain_cast(dyf, spark):
    """long to double cannot fail, so the long alternative takes a plain cast (what hand-written
    code does); only the string alternative needs ``try_cast``."""
    out = ResolveChoice.apply(frame=dyf, specs=[("provider_id", "cast:double")]).toDF().select("id", "provider_id")

    plan = re.sub(r"#\d+L?", "", out._jdf.queryExecution().optimizedPlan().toString())
    assert "coalesce(cast(provider_id.long as double), try_cast(provider_id.string as double))" in plan
    expected = spark.createDataFrame([(1, 10.0), (2, None), (3, 30.0), (4, None)], "id long, provider_id double")
    same(out, expected)


@pytest.mark.parametrize("form", FORMS)
def test_cast_string_writes_a_struct_alternative_as_json_text(dyf, spark, form):
    out = resolve(dyf, form, specs=[("addr", "cast:string")])

    expected = spark.createDataFrame(
        [(1, '{"zip":150}'), (2, "unknown"), (3, None), (4, '{"zip":456}')], "id long, addr string"
    )
    same(out.toDF().select("id", "addr"), expected)


PROJECTIONS = [
    ("project:string", "provider_id string", [None, "X-20", "30", None]),
    ("project:long", "provider_id long", [10, None, None, None]),
    ("project:bigint", "provider_id long", [10, None, None, None]),  # Spark's spelling of long
    ("project:int", "provider_id int", [None, None, None, None]),  # no int alternative
]


def both_forms_for_the_first(cases: list[tuple]) -> list[tuple]:
    """Every case through the method, the first one through the class as well."""
    return [("method", *case) for case in cases] + [("class", *cases[0])]


@pytest.mark.parametrize(("form", "action", "ddl", "values"), both_forms_for_the_first(PROJECTIONS))
def test_project_keeps_only_values_of_that_type(dyf, spark, form, action, ddl, values):
    out = resolve(dyf, form, specs=[("provider_id", action)])

    expected = spark.createDataFrame(list(zip([1, 2, 3, 4], values, strict=True)), f"id long, {ddl}")
    same(out.toDF().select("id", "provider_id"), expected)


@pytest.mark.parametrize("form", FORMS)
def test_project_by_glue_type_name_struct(dyf, spark, form):
    out = resolve(dyf, form, specs=[("addr", "project:struct")])

    expected = spark.createDataFrame([(1, (150,)), (2, None), (3, None), (4, (456,))], "id long, addr struct<zip:long>")
    same(out.toDF().select("id", "addr"), expected)


@pytest.mark.parametrize("form", FORMS)
def test_cast_between_types_spark_cannot_convert_gives_null(dyf, spark, form):
    """A struct alternative cast to long is null (Spark refuses that cast); JSON text cast to a
    struct is parsed."""
    to_long = resolve(dyf, form, specs=[("addr", "cast:long")])
    to_struct = resolve(dyf, form, specs=[("addr", "cast:struct<zip:bigint>")])

    same(
        to_long.toDF().select("id", "addr"),
        spark.createDataFrame([(i, None) for i in (1, 2, 3, 4)], "id long, addr long"),
    )
    same(
        to_struct.toDF().select("id", "addr"),
        spark.createDataFrame([(1, (150,)), (2, None), (3, None), (4, (456,))], "id long, addr struct<zip:bigint>"),
    )


@pytest.mark.parametrize("form", FORMS)
def test_cast_nested_struct_field(dyf, spark, form):
    out = resolve(dyf, form, specs=[("meta.code", "cast:string")])

    expected = spark.createDataFrame(
        [(1, ("7", "a")), (2, ("A7", "b")), (3, None), (4, (None, "d"))], "id long, meta struct<code:string,tag:string>"
    )
    same(out.toDF().select("id", "meta"), expected)


@pytest.mark.parametrize(
    ("form", "action", "price_type", "prices"),
    both_forms_for_the_first(
        [
            ("cast:double", "double", [[1.5, None], [3.0]]),
            ("project:string", "string", [[None, "$2"], [None]]),
            ("cast:string", "string", [["1.5", "$2"], ["3.0"]]),
        ]
    ),
)
def test_array_element_path(dyf, spark, form, action, price_type, prices):
    out = resolve(dyf, form, specs=[("items[].price", action)])

    skus = [["p", "q"], ["r"]]
    items = [[(p, s) for p, s in zip(ps, ss, strict=True)] for ps, ss in zip(prices, skus, strict=True)]
    expected = spark.createDataFrame(
        [(1, items[0]), (2, items[1]), (3, []), (4, None)],
        f"id long, items array<struct<price:{price_type},sku:string>>",
    )
    same(out.toDF().select("id", "items"), expected)


@pytest.mark.parametrize("form", FORMS)
def test_cast_applies_to_a_field_that_is_not_a_choice(dyf, spark, form):
    out = resolve(dyf, form, specs=[("id", "cast:string"), ("provider_id", "cast:long")])

    assert out.schema()["id"].dataType == STRING
    assert sorted(r.id for r in out.toDF().collect()) == ["1", "2", "3", "4"]


@pytest.mark.parametrize("action", ["make_cols", "make_struct"])
def test_make_cols_and_make_struct_leave_a_plain_field_alone(dyf, spark, action):
    out = dyf.resolveChoice(specs=[("id", action), ("meta.tag", action)])

    assert_df_equality(out.toDF(), dyf.toDF(), ignore_nullable=True)


# ----- make_cols and make_struct ----------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_make_cols_splits_a_top_level_choice_into_typed_columns(dyf, spark, form, capsys):
    out = resolve(dyf, form, specs=[("provider_id", "make_cols")])

    assert out.toDF().columns == ["addr", "id", "items", "meta", "provider_id_long", "provider_id_string"]
    assert printed_schema(out, capsys)[-2:] == ["|-- provider_id_long: long", "|-- provider_id_string: string"]
    expected = spark.createDataFrame(
        [(1, 10, None), (2, None, "X-20"), (3, None, "30"), (4, None, None)],
        "id long, provider_id_long long, provider_id_string string",
    )
    same(out.toDF().select("id", "provider_id_long", "provider_id_string"), expected)


@pytest.mark.parametrize("form", FORMS)
def test_make_cols_inside_a_struct(dyf, spark, form):
    out = resolve(dyf, form, specs=[("meta.code", "make_cols")])

    expected = spark.createDataFrame(
        [(1, (7, None, "a")), (2, (None, "A7", "b")), (3, None), (4, (None, None, "d"))],
        "id long, meta struct<code_long:long,code_string:string,tag:string>",
    )
    same(out.toDF().select("id", "meta"), expected)


@pytest.mark.parametrize("form", FORMS)
def test_make_cols_inside_array_elements(dyf, spark, form):
    out = resolve(dyf, form, specs=[("items[].price", "make_cols")])

    expected = spark.createDataFrame(
        [(1, [(1.5, None, "p"), (None, "$2", "q")]), (2, [(3.0, None, "r")]), (3, []), (4, None)],
        "id long, items array<struct<price_double:double,price_string:string,sku:string>>",
    )
    same(out.toDF().select("id", "items"), expected)


@pytest.mark.parametrize("form", FORMS)
def test_make_struct_gives_a_plain_struct_without_choice_marker(dyf, spark, form, capsys):
    out = resolve(dyf, form, specs=[("provider_id", "make_struct"), ("items[].price", "make_struct")])

    assert choice_paths(out.schema()) == ["addr", "meta.code"]
    assert not is_choice(out.schema()["provider_id"].dataType)
    lines = printed_schema(out, capsys)
    assert lines[-3:] == ["|-- provider_id: struct", "|    |-- long: long", "|    |-- string: string"]
    assert "|    |    |-- price: struct" in lines
    expected = spark.createDataFrame(
        [(1, (10, None)), (2, (None, "X-20")), (3, (None, "30")), (4, None)],
        "id long, provider_id struct<long:bigint,string:string>",
    )
    same(out.toDF().select("id", "provider_id"), expected)


@pytest.mark.parametrize("form", FORMS)
def test_choice_make_cols_resolves_every_choice_at_once(dyf, form, capsys):
    out = resolve(dyf, form, choice="make_cols")

    assert printed_schema(out, capsys) == [
        "root",
        "|-- addr_string: string",
        "|-- addr_struct: struct",
        "|    |-- zip: long",
        "|-- id: long",
        "|-- items: array",
        "|    |-- element: struct",
        "|    |    |-- price_double: double",
        "|    |    |-- price_string: string",
        "|    |    |-- sku: string",
        "|-- meta: struct",
        "|    |-- code_long: long",
        "|    |-- code_string: string",
        "|    |-- tag: string",
        "|-- provider_id_long: long",
        "|-- provider_id_string: string",
    ]
    assert out.count() == 4


@pytest.mark.parametrize("form", FORMS)
def test_choice_cast_resolves_every_choice_at_once(dyf, spark, form):
    out = resolve(dyf, form, choice="cast:string")

    assert choice_paths(out.schema()) == []
    rows = out.toDF().orderBy("id").select(F.to_json(F.struct("addr", "meta", "provider_id")).alias("j")).collect()
    assert [json.loads(r.j) for r in rows] == [
        {"addr": '{"zip":150}', "meta": {"code": "7", "tag": "a"}, "provider_id": "10"},
        {"addr": "unknown", "meta": {"code": "A7", "tag": "b"}, "provider_id": "X-20"},
        {"provider_id": "30"},
        {"addr": '{"zip":456}', "meta": {"tag": "d"}},
    ]


def test_resolved_frame_keeps_upstream_errors_and_checks_thresholds(dyf):
    out = dyf.resolveChoice(choice="make_cols", transformation_ctx="rc")
    assert out.errorsCount() == 2 and out.stageErrorsCount() == 0

    with pytest.raises(ErrorThresholdExceededError, match="rc: 2 total error"):
        dyf.resolveChoice(choice="make_cols", transformation_ctx="rc", totalThreshold=1)
    assert dyf.resolveChoice(choice="make_cols", totalThreshold=2).count() == 4


def test_registered_under_its_glue_name():
    assert get_transform("ResolveChoice") is ResolveChoice


# ----- Glue's argument rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"specs": [("provider_id", "cast:long")], "choice": "make_cols"}, "either specs or choice"),
        ({"specs": [("provider_id", "explode")]}, "unknown action 'explode'"),
        ({"choice": "flatten"}, "unknown action 'flatten'"),
        ({"specs": [("provider_id", "cast")]}, "cast needs a type"),
        ({"specs": [("provider_id", "project:")]}, "project needs a type"),
        ({"specs": [("provider_id", "cast:nonsense")]}, "unknown type 'nonsense'"),
        ({"specs": [("provider_id", "make_cols:long")]}, "make_cols takes no type"),
        ({"specs": [("nope", "cast:long")]}, "'nope' not found"),
        ({"specs": [("meta.nope", "cast:long")]}, "'meta.nope' not found"),
        ({"specs": [("items[].nope", "make_cols")]}, "'items\\[\\].nope' not found"),
        ({"specs": [("provider_id", "match_catalog")]}, "match_catalog needs database and table_name"),
        ({"choice": "match_catalog"}, "match_catalog needs database and table_name"),
        ({"choice": "make_cols", "database": "db"}, "database and table_name go together"),
        ({}, "give specs, choice, or database and table_name"),
        ({"specs": [("provider_id",)]}, "each spec is \\(path, action\\)"),
        ({"specs": [("provider_id", "cast:long", "extra")]}, "each spec is \\(path, action\\)"),
        ({"specs": ("provider_id", "cast:long")}, "each spec is \\(path, action\\)"),
        ({"specs": "provider_id"}, "specs is a list of"),
    ],
)
@pytest.mark.parametrize("form", FORMS)
def test_argument_errors(dyf, form, kwargs, message):
    with pytest.raises(TransformError, match=f"ResolveChoice: .*{message}"):
        resolve(dyf, form, **kwargs).toDF().collect()


# ----- match_catalog ----------------------------------------------------------------------------


@pytest.fixture
def catalog_table(glue, source_dir) -> tuple[str, str]:
    """A catalog table over the JSON folder whose column types settle every choice."""
    database = f"rc_{uuid.uuid4().hex[:8]}"
    glue.catalog.create_database(DatabaseInput={"Name": database})
    glue.catalog.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "providers",
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "addr", "Type": "string"},
                    {"Name": "id", "Type": "bigint"},
                    {"Name": "items", "Type": "array<struct<price:double,sku:string>>"},
                    {"Name": "meta", "Type": "struct<code:string,tag:string>"},
                    {"Name": "PROVIDER_ID", "Type": "BIGINT"},  # catalog names match case-insensitively
                ],
                "Location": str(source_dir),
            },
            "PartitionKeys": [],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "json"},
        },
    )
    yield database, "providers"
    glue.catalog.delete_database(Name=database)


MATCHED = [
    (1, '{"zip":150}', [(1.5, "p"), (None, "q")], ("7", "a"), 10),
    (2, "unknown", [(3.0, "r")], ("A7", "b"), None),
    (3, None, [], None, 30),
    (4, '{"zip":456}', None, (None, "d"), None),
]
MATCHED_DDL = (
    "id long, addr string, items array<struct<price:double,sku:string>>, meta struct<code:string,tag:string>, "
    "provider_id long"
)


@pytest.mark.parametrize("form", FORMS)
def test_match_catalog_casts_every_choice_to_the_table_types(dyf, spark, catalog_table, form):
    database, table = catalog_table
    out = resolve(dyf, form, choice="match_catalog", database=database, table_name=table)

    assert choice_paths(out.schema()) == []
    same(out.toDF().select("id", "addr", "items", "meta", "provider_id"), spark.createDataFrame(MATCHED, MATCHED_DDL))


def test_match_catalog_is_the_default_when_only_the_table_is_given(dyf, spark, catalog_table):
    database, table = catalog_table
    out = ResolveChoice.apply(frame=dyf, database=database, table_name=table)

    same(out.toDF().select("id", "addr", "items", "meta", "provider_id"), spark.createDataFrame(MATCHED, MATCHED_DDL))


@pytest.mark.parametrize("form", FORMS)
def test_match_catalog_in_specs_resolves_only_the_listed_paths(dyf, spark, catalog_table, form):
    database, table = catalog_table
    out = resolve(
        dyf,
        form,
        specs=[("provider_id", "match_catalog"), ("meta.code", "match_catalog")],
        database=database,
        table_name=table,
    )

    assert choice_paths(out.schema()) == ["addr", "items[].price"]
    expected = spark.createDataFrame(
        [(1, "7", 10), (2, "A7", None), (3, None, 30), (4, None, None)], "id long, code string, provider_id long"
    )
    same(out.toDF().select("id", F.col("meta.code").alias("code"), "provider_id"), expected)


def test_match_catalog_for_a_field_the_table_lacks(glue, dyf):
    database = f"rc_{uuid.uuid4().hex[:8]}"
    glue.catalog.create_database(DatabaseInput={"Name": database})
    glue.catalog.create_table(
        DatabaseName=database,
        TableInput={"Name": "thin", "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}]}},
    )
    try:
        with pytest.raises(TransformError, match="match_catalog found no column 'provider_id'"):
            dyf.resolveChoice(specs=[("provider_id", "match_catalog")], database=database, table_name="thin")
    finally:
        glue.catalog.delete_database(Name=database)
