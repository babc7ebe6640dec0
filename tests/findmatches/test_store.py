"""Stored FindMatches transforms and labels, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text

TESTS = str(Path(__file__).resolve().parents[1])  # tests/, home of pg_server.py
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from pg_server import PostgresServer, PostgresUnavailable  # noqa: E402

from etl.catalog import Catalog  # noqa: E402
from etl.catalog.models import Base, MLLabelRow, MLTransformRow  # noqa: E402
from etl.errors import AlreadyExistsError, EntityNotFoundError, InvalidInputError  # noqa: E402
from etl.findmatches.labels import LabelRecord, export_labels, read_label_file  # noqa: E402
from etl.findmatches.params import FindMatchesParameters  # noqa: E402
from etl.findmatches.store import MLTransformStore  # noqa: E402


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[PostgresServer, str]]:
    """A PostgreSQL server (local throw-away cluster or ``$ETL_TEST_POSTGRES_URL``) and a database on it."""
    try:
        server = PostgresServer.from_environment()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is required for the store tests:\n{exc}", pytrace=False)
    url = server.create_database("etl_findmatches_store_tests")
    try:
        yield server, url
    finally:
        server.drop_database(url)
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """A fresh, migrated catalog: a SQLite file, or a new schema in the PostgreSQL database."""
    if request.param == "sqlite":
        cat = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
        yield cat
        cat.close()
        return
    server, database_url = request.getfixturevalue("postgres")
    url = server.create_schema(database_url)
    cat = Catalog(url)
    try:
        yield cat
    finally:
        cat.close()
        server.drop_schema(url)


@pytest.fixture
def store(catalog: Catalog) -> MLTransformStore:
    return MLTransformStore(catalog)


PARAMS = FindMatchesParameters(primary_key_column_name="id", precision_recall_tradeoff=0.7, columns=["name", "city"])


def rec(set_id: str, label: str, key: str, **values: str | None) -> LabelRecord:
    return LabelRecord(set_id, label, key, {"id": key, **values})


def test_create_get_list_in_glues_shape(store: MLTransformStore) -> None:
    created = store.create_transform(
        "customers", PARAMS, "dedupe customers", input_database="crm", input_table="people"
    )
    assert created.status == "NOT_READY" and created.label_count == 0
    glue = store.get_transform("customers").to_glue()
    assert glue["Name"] == glue["TransformId"] == "customers"
    assert glue["Description"] == "dedupe customers"
    assert glue["Status"] == "NOT_READY"
    assert glue["LabelCount"] == 0
    assert glue["Parameters"] == {
        "TransformType": "FIND_MATCHES",
        "FindMatchesParameters": {
            "PrimaryKeyColumnName": "id",
            "PrecisionRecallTradeoff": 0.7,
            "AccuracyCostTradeoff": 0.5,
            "EnforceProvidedLabels": False,
            "Columns": [{"Name": "name", "Kind": "auto"}, {"Name": "city", "Kind": "auto"}],
        },
    }
    assert glue["InputRecordTables"] == [{"DatabaseName": "crm", "TableName": "people"}]
    assert "EvaluationMetrics" not in glue
    assert glue["CreatedOn"] == glue["LastModifiedOn"]
    assert store.get_transform("customers").parameters == PARAMS

    store.create_transform("accounts", FindMatchesParameters(primary_key_column_name="acct"))
    store.add_labels("accounts", [rec("s1", "a", "1"), rec("s1", "b", "2")])
    listed = store.list_transforms()
    assert [(t.name, t.label_count) for t in listed] == [("accounts", 2), ("customers", 0)]


def test_errors_name_the_transform(store: MLTransformStore) -> None:
    store.create_transform("t1", PARAMS)
    with pytest.raises(AlreadyExistsError, match="'t1' already exists"):
        store.create_transform("t1", PARAMS)
    for call in (
        lambda: store.get_transform("nope"),
        lambda: store.delete_transform("nope"),
        lambda: store.save_model("nope", {"w": 1}),
        lambda: store.save_metrics("nope", {"F1": 1.0}),
        lambda: store.add_labels("nope", [rec("s", "a", "1")]),
        lambda: store.labels("nope"),
        lambda: store.label_count("nope"),
    ):
        with pytest.raises(EntityNotFoundError, match="'nope' not found"):
            call()
    with pytest.raises(InvalidInputError, match="name 'bad/name' is invalid"):
        store.create_transform("bad/name", PARAMS)
    with pytest.raises(InvalidInputError, match="FindMatchesParameters"):
        store.create_transform("t2", {"PrimaryKeyColumnName": "id"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="label 2: label must be a non-empty string"):
        store.add_labels("t1", [rec("s", "a", "1"), rec("s", "", "2")])
    with pytest.raises(InvalidInputError, match="key '1' appears twice in labeling set 's'"):
        store.add_labels("t1", [rec("s", "a", "1"), rec("s", "b", "1")])
    assert store.label_count("t1") == 0  # a rejected import changes nothing


def test_model_and_metrics_make_it_ready(store: MLTransformStore) -> None:
    store.create_transform("t", PARAMS)
    model = {"kind": "logistic", "weights": [0.5, -1.25], "threshold": 0.62}
    metrics = {"Precision": 0.9, "Recall": 0.8, "F1": 0.847, "AreaUnderPRCurve": 0.91}
    store.save_model("t", model)
    got = store.get_transform("t")
    assert got.status == "READY" and got.model == model and got.metrics is None
    assert got.last_modified_on >= got.created_on
    store.save_metrics("t", metrics)
    assert store.get_transform("t").to_glue()["EvaluationMetrics"] == {
        "TransformType": "FIND_MATCHES",
        "FindMatchesMetrics": metrics,
    }
    store.save_model("t", {"kind": "fellegi-sunter"}, {"F1": 0.5})
    assert store.get_transform("t").metrics == {"F1": 0.5}
    with pytest.raises(InvalidInputError, match="model must be a dict"):
        store.save_model("t", ["not", "a", "dict"])  # type: ignore[arg-type]


def test_new_parameters_drop_the_model(store: MLTransformStore) -> None:
    store.create_transform("t", PARAMS)
    store.save_model("t", {"w": 1}, {"F1": 0.9})
    same = store.update_transform("t", parameters=PARAMS, description="kept model")
    assert same.status == "READY" and same.model == {"w": 1} and same.description == "kept model"
    changed = store.update_transform("t", parameters=PARAMS.model_copy(update={"precision_recall_tradeoff": 0.1}))
    assert changed.status == "NOT_READY" and changed.model is None and changed.metrics is None
    assert changed.parameters.precision_recall_tradeoff == 0.1


def test_labels_append_replace_a_set_or_replace_all(store: MLTransformStore) -> None:
    store.create_transform("t", PARAMS)
    first = [
        rec("s1", "A", "1", name="ann"),
        rec("s1", "A", "2", name="anne"),
        rec("s2", "X", "3"),
        rec("s2", "Y", "4"),
    ]
    assert store.add_labels("t", first) == 4
    assert store.labels("t") == first
    assert store.labels("t")[0].record == {"id": "1", "name": "ann"}

    # append: s2 is answered again (replaced whole), s3 is new, s1 is kept
    again = [rec("s2", "P", "3"), rec("s2", "P", "5"), rec("s3", "M", "6"), rec("s3", "N", "7")]
    assert store.add_labels("t", again) == 4
    assert [(r.labeling_set_id, r.label, r.key) for r in store.labels("t")] == [
        ("s1", "A", "1"),
        ("s1", "A", "2"),
        ("s2", "P", "3"),
        ("s2", "P", "5"),
        ("s3", "M", "6"),
        ("s3", "N", "7"),
    ]
    assert store.label_count("t") == 6
    assert store.get_transform("t").label_count == 6

    # ReplaceAllLabels: only the new import is left
    assert store.add_labels("t", [rec("s9", "a", "8"), rec("s9", "b", "9")], replace=True) == 2
    assert [(r.labeling_set_id, r.key) for r in store.labels("t")] == [("s9", "8"), ("s9", "9")]
    assert store.add_labels("t", [], replace=True) == 0
    assert store.label_count("t") == 0


def test_labels_belong_to_their_transform_and_go_with_it(store: MLTransformStore, catalog: Catalog) -> None:
    store.create_transform("a", PARAMS)
    store.create_transform("b", PARAMS)
    store.add_labels("a", [rec("s1", "x", "1"), rec("s1", "y", "2")])
    store.add_labels("b", [rec("s1", "x", "1")])
    assert store.label_count("a") == 2 and store.label_count("b") == 1

    store.delete_transform("a")
    with catalog.engine.connect() as conn:
        left = conn.execute(text("SELECT transform_name, count(*) FROM etl_ml_labels GROUP BY transform_name")).all()
    assert [tuple(r) for r in left] == [("b", 1)]  # the database cascaded the delete
    store.create_transform("a", PARAMS)
    assert store.label_count("a") == 0


def test_export_reads_back_as_the_same_labels(store: MLTransformStore, tmp_path: Path) -> None:
    store.create_transform("t", PARAMS)
    labels = [
        rec("s1", "A", "1", name="O'Brien, Ann", city=None),
        rec("s1", "B", "2", name='say "hi"', city="Cork\nIreland"),
        rec("s2", "A", "3", name="é ü", city="Köln"),
        rec("s2", "A", "4", name="", city="x"),
    ]
    store.add_labels("t", labels)
    out = tmp_path / "exported" / "labels.csv"
    assert export_labels(store, "t", out) == 4
    back = read_label_file(out, "id", ["id", "name", "city"])
    assert back == store.labels("t")
    assert [r.record for r in back] == [
        {"id": "1", "name": "O'Brien, Ann", "city": None},
        {"id": "2", "name": 'say "hi"', "city": "Cork\nIreland"},
        {"id": "3", "name": "é ü", "city": "Köln"},
        {"id": "4", "name": None, "city": "x"},  # CSV cannot tell an empty string from a missing value
    ]


def test_migration_builds_the_models_tables(catalog: Catalog) -> None:
    ours = MetaData()
    for table in (MLTransformRow.__table__, MLLabelRow.__table__):
        table.to_metadata(ours)
    assert set(ours.tables) <= set(Base.metadata.tables)

    def only_ours(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        if type_ == "schema":
            return True
        table = name if type_ == "table" else parent_names.get("table_name")
        return table in ours.tables

    with catalog.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": only_ours})
        assert compare_metadata(context, ours) == []
