"""The Glue Data Catalog API, behaviour by behaviour; each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select

from etl.catalog import Catalog
from etl.catalog.crawls import CrawledFile, CrawlStore
from etl.catalog.engine import MIGRATIONS, make_engine, schema_revision
from etl.catalog.models import Base, PartitionRow, TableRow, TableVersionRow
from etl.errors import (
    AlreadyExistsError,
    CatalogError,
    ConcurrentModificationError,
    EntityNotFoundError,
    InvalidInputError,
)

# ----- helpers -------------------------------------------------------------------------------


def columns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"Name": n, "Type": t} for n, t in pairs]


def table_input(
    name: str,
    *,
    cols: list[dict[str, str]] | None = None,
    keys: list[dict[str, str]] | None = None,
    location: str = "s3://bucket/t/",
    **extra: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Name": name,
        "StorageDescriptor": {
            "Columns": cols
            if cols is not None
            else columns(("id", "bigint"), ("amount", "double")),
            "Location": location,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
        },
        "PartitionKeys": keys if keys is not None else [],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "json"},
    }
    spec.update(extra)
    return spec


SALES_KEYS = columns(("year", "int"), ("region", "string"))


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"timestamp {text!r} has no time zone"
    return moment


def assert_recent(text: str, since: datetime) -> None:
    moment = parse_time(text)
    assert since - timedelta(seconds=5) <= moment <= datetime.now(UTC) + timedelta(seconds=5), text


def row_count(catalog: Catalog, model: type[Base]) -> int:
    with catalog.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def versions_of(catalog: Catalog, db: str, table: str) -> list[str]:
    return [v["VersionId"] for v in catalog.get_table_versions(db, table)["TableVersions"]]


def values_of(response: dict[str, Any]) -> list[tuple[str, ...]]:
    return sorted(tuple(p["Values"]) for p in response["Partitions"])


def make_sales(catalog: Catalog) -> None:
    catalog.create_database({"Name": "sales"})
    catalog.create_table("sales", table_input("orders", keys=SALES_KEYS, location="s3://b/orders/"))


def test_the_backend_is_the_one_in_the_test_id(catalog: Catalog, backend: str) -> None:
    assert catalog.engine.dialect.name == backend
    with catalog.engine.connect() as conn:
        if backend == "postgresql":
            assert conn.exec_driver_sql("SELECT version()").scalar_one().startswith("PostgreSQL")
        else:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


# ----- databases -----------------------------------------------------------------------------


def test_create_and_get_database(catalog: Catalog) -> None:
    before = datetime.now(UTC)
    assert (
        catalog.create_database(
            {
                "Name": "Sales",
                "Description": "all sales",
                "LocationUri": "s3://bucket/sales/",
                "Parameters": {"owner": "finance"},
            }
        )
        == {}
    )
    for spelling in ("sales", "SALES", "Sales"):
        db = catalog.get_database(Name=spelling)["Database"]
        assert db["Name"] == "sales"
        assert db["Description"] == "all sales"
        assert db["LocationUri"] == "s3://bucket/sales/"
        assert db["Parameters"] == {"owner": "finance"}
        assert_recent(db["CreateTime"], before)


def test_get_databases_lists_all_sorted(catalog: Catalog) -> None:
    assert catalog.get_databases() == {"DatabaseList": []}
    for name in ("zeta", "Alpha", "mid"):
        catalog.create_database({"Name": name})
    listed = catalog.get_databases()["DatabaseList"]
    assert [d["Name"] for d in listed] == ["alpha", "mid", "zeta"]
    assert all(d["Parameters"] == {} for d in listed)
    assert "Description" not in listed[0]


def test_create_database_twice_raises_already_exists(catalog: Catalog) -> None:
    catalog.create_database({"Name": "sales", "Description": "first"})
    with pytest.raises(AlreadyExistsError):
        catalog.create_database({"Name": "sales"})
    with pytest.raises(AlreadyExistsError):
        catalog.create_database({"Name": "SALES", "Description": "second"})
    assert catalog.get_database("sales")["Database"]["Description"] == "first"
    catalog.ensure_database("sales")  # idempotent, keeps the original
    catalog.ensure_database("other", "new one")
    assert [d["Name"] for d in catalog.get_databases()["DatabaseList"]] == ["other", "sales"]


def test_missing_database_raises_entity_not_found(catalog: Catalog) -> None:
    calls = [
        lambda: catalog.get_database("nope"),
        lambda: catalog.update_database("nope", {"Description": "x"}),
        lambda: catalog.delete_database("nope"),
        lambda: catalog.get_tables("nope"),
        lambda: catalog.get_table("nope", "t"),
        lambda: catalog.create_table("nope", table_input("t")),
    ]
    for call in calls:
        with pytest.raises(EntityNotFoundError):
            call()
    assert catalog.get_databases()["DatabaseList"] == []


BAD_NAMES = ["", "a/b", "semi;colon", "x" * 256, "quote'd", "tab\there", None, 42]


def test_invalid_names_raise_invalid_input(catalog: Catalog) -> None:
    catalog.create_database({"Name": "ok"})
    for bad in BAD_NAMES:
        with pytest.raises(InvalidInputError):
            catalog.create_database({"Name": bad})
        with pytest.raises(InvalidInputError):
            catalog.create_table("ok", table_input(bad))
        with pytest.raises(InvalidInputError):
            catalog.update_table("ok", table_input(bad))
    catalog.create_database({"Name": "x" * 255})  # the longest allowed
    assert [d["Name"] for d in catalog.get_databases()["DatabaseList"]] == ["ok", "x" * 255]
    assert catalog.get_tables("ok")["TableList"] == []


def test_names_with_allowed_punctuation(catalog: Catalog) -> None:
    catalog.create_database({"Name": "My-DB.v2 x"})
    catalog.create_table("my-db.v2 x", table_input("Some_Table-1.0"))
    assert catalog.get_table("MY-DB.V2 X", "some_table-1.0")["Table"]["Name"] == "some_table-1.0"
    assert catalog.get_database("my-db.v2 x")["Database"]["Name"] == "my-db.v2 x"


def test_update_database(catalog: Catalog) -> None:
    catalog.create_database(
        {
            "Name": "sales",
            "Description": "old",
            "LocationUri": "s3://old/",
            "Parameters": {"a": "1", "b": "2"},
        }
    )
    created = catalog.get_database("sales")["Database"]["CreateTime"]
    assert (
        catalog.update_database(
            "SALES", {"Name": "sales", "Description": "new", "Parameters": {"c": "3"}}
        )
        == {}
    )
    db = catalog.get_database("sales")["Database"]
    assert db["Description"] == "new"
    assert db["LocationUri"] == "s3://old/"  # not given: kept
    assert db["Parameters"] == {"c": "3"}  # given: replaced, not merged
    assert db["CreateTime"] == created


def test_delete_database_cascades_tables_versions_partitions(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.create_table("sales", table_input("returns"))
    catalog.update_table("sales", table_input("orders", keys=SALES_KEYS, Description="v1"))
    catalog.batch_create_partition(
        "sales", "orders", [{"Values": ["2024", "eu"]}, {"Values": ["2024", "us"]}]
    )
    catalog.create_database({"Name": "keep"})
    catalog.create_table("keep", table_input("kept", keys=columns(("dt", "string"))))
    catalog.create_partition("keep", "kept", {"Values": ["2024-01-01"]})

    assert catalog.delete_database("Sales") == {}

    with pytest.raises(EntityNotFoundError):
        catalog.get_database("sales")
    with pytest.raises(EntityNotFoundError):
        catalog.get_table("sales", "orders")
    assert [d["Name"] for d in catalog.get_databases()["DatabaseList"]] == ["keep"]
    # nothing of the deleted database is left behind in the store
    assert row_count(catalog, TableRow) == 1
    assert row_count(catalog, TableVersionRow) == 1
    assert row_count(catalog, PartitionRow) == 1
    assert values_of(catalog.get_partitions("keep", "kept")) == [("2024-01-01",)]
    # a database of the same name starts empty
    catalog.create_database({"Name": "sales"})
    assert catalog.get_tables("sales")["TableList"] == []


# ----- tables --------------------------------------------------------------------------------


def test_create_and_get_table_shape(catalog: Catalog) -> None:
    catalog.create_database({"Name": "sales"})
    before = datetime.now(UTC)
    spec = table_input(
        "Orders",
        keys=SALES_KEYS,
        Description="orders by day",
        Owner="ana",
        Parameters={"classification": "parquet", "recordCount": "10"},
    )
    assert catalog.create_table(DatabaseName="Sales", TableInput=spec) == {}

    table = catalog.get_table(DatabaseName="SALES", Name="ORDERS")["Table"]
    assert table["Name"] == "orders"
    assert table["DatabaseName"] == "sales"
    assert table["Description"] == "orders by day"
    assert table["Owner"] == "ana"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["StorageDescriptor"] == spec["StorageDescriptor"]
    assert table["StorageDescriptor"]["Columns"] == [
        {"Name": "id", "Type": "bigint"},
        {"Name": "amount", "Type": "double"},
    ]
    assert table["PartitionKeys"] == [
        {"Name": "year", "Type": "int"},
        {"Name": "region", "Type": "string"},
    ]
    assert table["Parameters"] == {"classification": "parquet", "recordCount": "10"}
    assert table["VersionId"] == "0" and isinstance(table["VersionId"], str)
    assert_recent(table["CreateTime"], before)
    assert parse_time(table["UpdateTime"]) == parse_time(table["CreateTime"])
    # the caller's input is not aliased by the store
    spec["StorageDescriptor"]["Columns"].append({"Name": "late", "Type": "string"})
    assert len(catalog.get_table("sales", "orders")["Table"]["StorageDescriptor"]["Columns"]) == 2


def test_table_defaults_and_unknown_keys(catalog: Catalog) -> None:
    catalog.create_database({"Name": "db"})
    catalog.create_table("db", {"Name": "bare"})
    table = catalog.get_table("db", "bare")["Table"]
    assert table["PartitionKeys"] == [] and table["Parameters"] == {}
    with pytest.raises(InvalidInputError):
        catalog.create_table("db", {"Name": "odd", "Colour": "blue"})
    with pytest.raises(InvalidInputError):
        catalog.create_table("db", {"Name": "odd", "PartitionKeys": [{"Type": "int"}]})
    assert [t["Name"] for t in catalog.get_tables("db")["TableList"]] == ["bare"]


def test_create_table_twice_raises_already_exists(catalog: Catalog) -> None:
    catalog.create_database({"Name": "db"})
    catalog.create_table("db", table_input("t", location="s3://first/"))
    with pytest.raises(AlreadyExistsError):
        catalog.create_table("db", table_input("t", location="s3://second/"))
    with pytest.raises(AlreadyExistsError):
        catalog.create_table("DB", table_input("T", location="s3://third/"))
    table = catalog.get_table("db", "t")["Table"]
    assert table["StorageDescriptor"]["Location"] == "s3://first/"
    assert versions_of(catalog, "db", "t") == ["0"]
    # the same name in another database is another table
    catalog.create_database({"Name": "db2"})
    catalog.create_table("db2", table_input("t", location="s3://other/"))
    assert catalog.get_table("db2", "t")["Table"]["StorageDescriptor"]["Location"] == "s3://other/"


def test_missing_table_raises_entity_not_found(catalog: Catalog) -> None:
    catalog.create_database({"Name": "db"})
    calls = [
        lambda: catalog.get_table("db", "nope"),
        lambda: catalog.update_table("db", table_input("nope")),
        lambda: catalog.delete_table("db", "nope"),
        lambda: catalog.get_table_versions("db", "nope"),
        lambda: catalog.get_table_version("db", "nope", "0"),
        lambda: catalog.get_partitions("db", "nope"),
        lambda: catalog.create_partition("db", "nope", {"Values": []}),
    ]
    for call in calls:
        with pytest.raises(EntityNotFoundError):
            call()


def test_get_tables_expression_regex_and_wildcards(catalog: Catalog) -> None:
    catalog.create_database({"Name": "db"})
    for name in ("sales_2023", "sales_2024", "orders", "order_lines", "returns"):
        catalog.create_table("db", table_input(name))

    def names(expression: str | None) -> list[str]:
        return [t["Name"] for t in catalog.get_tables("db", expression)["TableList"]]

    everything = ["order_lines", "orders", "returns", "sales_2023", "sales_2024"]
    assert names(None) == everything
    assert names("*") == everything
    assert names("sales.*") == ["sales_2023", "sales_2024"]
    assert names("sales_202[4]") == ["sales_2024"]
    assert names("sales*") == ["sales_2023", "sales_2024"]
    assert names("sales*|orders") == ["orders", "sales_2023", "sales_2024"]
    assert names("order*") == ["order_lines", "orders"]
    assert names("ORDERS") == ["orders"]  # case-insensitive, whole-name match
    assert names("sales") == []  # a full match, not a substring search
    assert names(".*_.*") == ["order_lines", "sales_2023", "sales_2024"]
    assert names("nothing.*") == []
    with pytest.raises(InvalidInputError):
        catalog.get_tables("db", "(unclosed")
    full = catalog.get_tables("db", "orders")["TableList"][0]
    assert full == catalog.get_table("db", "orders")["Table"]  # the same shape as GetTable


def test_update_table_archives_versions(catalog: Catalog) -> None:
    catalog.create_database({"Name": "db"})
    v0 = table_input("t", cols=columns(("a", "int")))
    v1 = table_input("t", cols=columns(("a", "int"), ("b", "string")))
    v2 = table_input("t", cols=columns(("a", "bigint"), ("b", "string")), Description="widened")
    catalog.create_table("db", v0)
    created = catalog.get_table("db", "t")["Table"]

    assert catalog.update_table(DatabaseName="db", TableInput=v1) == {}
    catalog.update_table("db", v2, VersionId="1")

    table = catalog.get_table("db", "t")["Table"]
    assert table["VersionId"] == "2"
    assert table["StorageDescriptor"]["Columns"] == v2["StorageDescriptor"]["Columns"]
    assert table["Description"] == "widened"
    assert table["CreateTime"] == created["CreateTime"]
    assert parse_time(table["UpdateTime"]) >= parse_time(created["UpdateTime"])

    versions = catalog.get_table_versions("db", "T")["TableVersions"]
    assert [v["VersionId"] for v in versions] == ["2", "1", "0"]  # newest first
    for entry, spec in zip(versions, (v2, v1, v0), strict=True):
        assert entry["Table"]["VersionId"] == entry["VersionId"]
        assert entry["Table"]["Name"] == "t" and entry["Table"]["DatabaseName"] == "db"
        assert entry["Table"]["StorageDescriptor"] == spec["StorageDescriptor"]
    assert "Description" not in versions[1]["Table"]

    one = catalog.get_table_version("db", "t", "1")["TableVersion"]
    assert one["VersionId"] == "1"
    assert one["Table"]["StorageDescriptor"]["Columns"] == v1["StorageDescriptor"]["Columns"]
    assert catalog.get_table_version("db", "t", 0)["TableVersion"]["Table"]["VersionId"] == "0"
    with pytest.raises(EntityNotFoundError):
        catalog.get_table_version("db", "t", "7")


def test_update_table_skip_archive(catalog: Catalog) -> None:
    catalog.create_database({"Name": "db"})
    catalog.create_table("db", table_input("t", location="s3://v0/"))
    catalog.update_table("db", table_input("t", location="s3://v1/"), SkipArchive=True)
    assert catalog.get_table("db", "t")["Table"]["VersionId"] == "1"
    assert catalog.get_table("db", "t")["Table"]["StorageDescriptor"]["Location"] == "s3://v1/"
    assert versions_of(catalog, "db", "t") == ["0"]
    with pytest.raises(EntityNotFoundError):
        catalog.get_table_version("db", "t", "1")
    catalog.update_table("db", table_input("t", location="s3://v2/"), VersionId="1")
    assert versions_of(catalog, "db", "t") == ["2", "0"]
    assert (
        catalog.get_table_version("db", "t", "2")["TableVersion"]["Table"]["StorageDescriptor"][
            "Location"
        ]
        == "s3://v2/"
    )


def test_update_with_stale_version_raises_and_changes_nothing(catalog: Catalog) -> None:
    catalog.create_database({"Name": "db"})
    catalog.create_table("db", table_input("t", location="s3://v0/"))
    read = catalog.get_table("db", "t")["Table"]["VersionId"]
    catalog.update_table("db", table_input("t", location="s3://v1/"), VersionId=read)
    after_first = catalog.get_table("db", "t")["Table"]

    for stale in (read, int(read), "5"):
        with pytest.raises(ConcurrentModificationError):
            catalog.update_table("db", table_input("t", location="s3://lost/"), VersionId=stale)
    assert catalog.get_table("db", "t")["Table"] == after_first  # same version, definition, times
    assert versions_of(catalog, "db", "t") == ["1", "0"]
    assert row_count(catalog, TableVersionRow) == 2
    # the error is a catalog error callers can catch as one type
    assert issubclass(ConcurrentModificationError, CatalogError)
    # re-reading and retrying works
    catalog.update_table(
        "db", table_input("t", location="s3://v2/"), VersionId=after_first["VersionId"]
    )
    assert catalog.get_table("db", "t")["Table"]["VersionId"] == "2"


def test_two_catalogs_on_one_database_detect_the_lost_update(
    catalog: Catalog, open_catalog
) -> None:
    other = open_catalog()
    catalog.create_database({"Name": "db"})
    catalog.create_table("db", table_input("t", location="s3://v0/"))

    mine = catalog.get_table("db", "t")["Table"]["VersionId"]
    theirs = other.get_table("db", "t")["Table"]["VersionId"]
    assert mine == theirs == "0"

    other.update_table("db", table_input("t", location="s3://theirs/"), VersionId=theirs)
    with pytest.raises(ConcurrentModificationError):
        catalog.update_table("db", table_input("t", location="s3://mine/"), VersionId=mine)

    for reader in (catalog, other):
        table = reader.get_table("db", "t")["Table"]
        assert table["VersionId"] == "1"
        assert table["StorageDescriptor"]["Location"] == "s3://theirs/"
        assert versions_of(reader, "db", "t") == ["1", "0"]
    # the loser re-reads and retries on the new version
    fresh = catalog.get_table("db", "t")["Table"]["VersionId"]
    catalog.update_table("db", table_input("t", location="s3://mine/"), VersionId=fresh)
    assert other.get_table("db", "t")["Table"]["StorageDescriptor"]["Location"] == "s3://mine/"
    assert versions_of(other, "db", "t") == ["2", "1", "0"]


def test_concurrent_updates_from_two_threads_one_wins(catalog: Catalog, open_catalog) -> None:
    """Two writers, each with its own Catalog (engine, connections), update the same table from
    the same read version at the same moment: exactly one commits, the other changes nothing."""
    other = open_catalog()
    catalog.create_database({"Name": "db"})
    rounds = 5
    for i in range(rounds):
        catalog.create_table("db", table_input(f"t{i}", location="s3://v0/"))

    for i in range(rounds):
        name = f"t{i}"
        read = {w: w.get_table("db", name)["Table"]["VersionId"] for w in (catalog, other)}
        assert set(read.values()) == {"0"}
        barrier = threading.Barrier(2)
        outcome: dict[str, Any] = {}

        def write(
            writer: Catalog,
            label: str,
            name: str = name,
            read: dict = read,
            barrier: threading.Barrier = barrier,
            outcome: dict = outcome,
        ) -> None:
            barrier.wait(timeout=30)
            try:
                writer.update_table(
                    "db", table_input(name, location=f"s3://{label}/"), VersionId=read[writer]
                )
                outcome[label] = "ok"
            except ConcurrentModificationError:
                outcome[label] = "conflict"
            except Exception as exc:  # noqa: BLE001 - reported below
                outcome[label] = exc

        threads = [
            threading.Thread(target=write, args=(w, label))
            for w, label in ((catalog, "a"), (other, "b"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a writer hung"
        assert sorted(map(str, outcome.values())) == ["conflict", "ok"], outcome
        winner = next(label for label, result in outcome.items() if result == "ok")

        table = catalog.get_table("db", name)["Table"]
        assert table["VersionId"] == "1"
        assert table["StorageDescriptor"]["Location"] == f"s3://{winner}/"
        versions = catalog.get_table_versions("db", name)["TableVersions"]
        assert [v["VersionId"] for v in versions] == ["1", "0"]
        assert versions[0]["Table"]["StorageDescriptor"] == table["StorageDescriptor"]
        assert versions[1]["Table"]["StorageDescriptor"]["Location"] == "s3://v0/"
    assert row_count(catalog, TableVersionRow) == 2 * rounds


def test_delete_table(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.create_table("sales", table_input("other"))
    catalog.update_table("sales", table_input("orders", keys=SALES_KEYS, Description="v1"))
    catalog.create_partition("sales", "orders", {"Values": ["2024", "eu"]})
    catalog.create_partition("sales", "other", {"Values": []})

    assert catalog.delete_table("SALES", "Orders") == {}
    with pytest.raises(EntityNotFoundError):
        catalog.get_table("sales", "orders")
    with pytest.raises(EntityNotFoundError):
        catalog.delete_table("sales", "orders")
    assert [t["Name"] for t in catalog.get_tables("sales")["TableList"]] == ["other"]
    assert row_count(catalog, PartitionRow) == 1
    assert row_count(catalog, TableVersionRow) == 1
    # a new table of the same name starts from scratch: no old versions, no old partitions
    catalog.create_table("sales", table_input("orders", keys=SALES_KEYS))
    assert versions_of(catalog, "sales", "orders") == ["0"]
    assert catalog.get_partitions("sales", "orders")["Partitions"] == []


def test_search_tables(catalog: Catalog) -> None:
    catalog.create_database({"Name": "sales"})
    catalog.create_database({"Name": "hr"})
    catalog.create_table(
        "sales",
        table_input(
            "orders", cols=columns(("customer_id", "bigint")), Description="Customer orders"
        ),
    )
    catalog.create_table(
        "sales",
        table_input(
            "refunds", cols=columns(("reason", "string")), Parameters={"owner_team": "payments"}
        ),
    )
    catalog.create_table("hr", table_input("people", cols=columns(("employee_id", "bigint"))))

    def found(text: str | None, database: str | None = None) -> list[tuple[str, str]]:
        hits = catalog.search_tables(SearchText=text, DatabaseName=database)["TableList"]
        return [(t["DatabaseName"], t["Name"]) for t in hits]

    assert found("orders") == [("sales", "orders")]  # by name
    assert found("CUSTOMER") == [("sales", "orders")]  # by column and description, any case
    assert found("payments") == [("sales", "refunds")]  # by parameter value
    assert found("_id") == [("hr", "people"), ("sales", "orders")]
    assert found("_id", "SALES") == [("sales", "orders")]
    assert found(None) == [("hr", "people"), ("sales", "orders"), ("sales", "refunds")]
    assert found("", "hr") == [("hr", "people")]
    assert found("no-such-thing") == []
    assert catalog.search_tables(SearchText="people")["TableList"][0]["StorageDescriptor"][
        "Columns"
    ] == columns(("employee_id", "bigint"))


# ----- partitions ----------------------------------------------------------------------------


def partition_input(*values: str, location: str | None = None, **params: str) -> dict[str, Any]:
    return {
        "Values": list(values),
        "StorageDescriptor": {
            "Location": location or "s3://b/orders/" + "/".join(values) + "/",
            "Columns": columns(("id", "bigint")),
        },
        "Parameters": dict(params),
    }


def test_create_and_get_partition(catalog: Catalog) -> None:
    make_sales(catalog)
    before = datetime.now(UTC)
    assert (
        catalog.create_partition("SALES", "ORDERS", partition_input("2024", "eu", rows="7")) == {}
    )
    part = catalog.get_partition(
        DatabaseName="sales", TableName="orders", PartitionValues=["2024", "eu"]
    )["Partition"]
    assert part["Values"] == ["2024", "eu"]
    assert part["DatabaseName"] == "sales" and part["TableName"] == "orders"
    assert part["StorageDescriptor"] == {
        "Location": "s3://b/orders/2024/eu/",
        "Columns": [{"Name": "id", "Type": "bigint"}],
    }
    assert part["Parameters"] == {"rows": "7"}
    assert_recent(part["CreationTime"], before)

    # values are strings in Glue: a number given is stored as its text
    catalog.create_partition("sales", "orders", {"Values": [2025, "us"]})
    assert catalog.get_partition("sales", "orders", ["2025", "us"])["Partition"]["Values"] == [
        "2025",
        "us",
    ]
    assert catalog.get_partition("sales", "orders", [2025, "us"])["Partition"]["Values"] == [
        "2025",
        "us",
    ]

    with pytest.raises(AlreadyExistsError):
        catalog.create_partition("sales", "orders", partition_input("2024", "eu"))
    with pytest.raises(InvalidInputError):
        catalog.create_partition("sales", "orders", partition_input("2024"))
    with pytest.raises(InvalidInputError):
        catalog.create_partition("sales", "orders", partition_input("2024", "eu", "extra"))
    with pytest.raises(EntityNotFoundError):
        catalog.get_partition("sales", "orders", ["2024", "us"])
    with pytest.raises(EntityNotFoundError):
        catalog.get_partition("sales", "orders", ["2024"])
    assert values_of(catalog.get_partitions("sales", "orders")) == [("2024", "eu"), ("2025", "us")]


def test_batch_create_partition_reports_errors_and_creates_the_rest(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.create_partition("sales", "orders", partition_input("2023", "eu", origin="first"))
    response = catalog.batch_create_partition(
        DatabaseName="sales",
        TableName="orders",
        PartitionInputList=[
            partition_input("2024", "eu"),
            partition_input("2023", "eu", origin="second"),  # exists already
            partition_input("2024"),  # too few values
            partition_input("2024", "us", "x"),  # too many values
            partition_input("2024", "us"),
            partition_input("2024", "eu"),  # duplicate inside the batch
        ],
    )
    errors = response["Errors"]
    assert [e["PartitionValues"] for e in errors] == [
        ["2023", "eu"],
        ["2024"],
        ["2024", "us", "x"],
        ["2024", "eu"],
    ]
    assert [e["ErrorDetail"]["ErrorCode"] for e in errors] == [
        "AlreadyExistsException",
        "InvalidInputException",
        "InvalidInputException",
        "AlreadyExistsException",
    ]
    assert all(
        isinstance(e["ErrorDetail"]["ErrorMessage"], str) and e["ErrorDetail"]["ErrorMessage"]
        for e in errors
    )
    assert set(response) == {"Errors"}

    assert values_of(catalog.get_partitions("sales", "orders")) == [
        ("2023", "eu"),
        ("2024", "eu"),
        ("2024", "us"),
    ]
    kept = catalog.get_partition("sales", "orders", ["2023", "eu"])["Partition"]
    assert kept["Parameters"] == {"origin": "first"}  # the existing one was not overwritten

    assert catalog.batch_create_partition("sales", "orders", []) == {"Errors": []}


SALES_PARTITIONS = [
    ("9", "ap"),
    ("10", "eu"),
    ("11", "o'hara"),
    ("100", "us"),
    ("2023", "eu"),
    ("2023", "us"),
    ("2024", "us-west"),
    ("2024", "eu"),
]


def expect(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    return sorted(pairs)


EXPRESSIONS = {
    # typed comparisons: `year` is an int key, so '10' > '9' and 100 < 2023
    "year = 2023": expect(("2023", "eu"), ("2023", "us")),
    "year = '2023'": expect(("2023", "eu"), ("2023", "us")),
    "'2023' = year": expect(("2023", "eu"), ("2023", "us")),
    "year <> 2023": expect(*(p for p in SALES_PARTITIONS if p[0] != "2023")),
    "year != 2023": expect(*(p for p in SALES_PARTITIONS if p[0] != "2023")),
    "year > 9": expect(*(p for p in SALES_PARTITIONS if p[0] != "9")),
    "year > '9'": expect(*(p for p in SALES_PARTITIONS if p[0] != "9")),
    "year < 100": expect(("9", "ap"), ("10", "eu"), ("11", "o'hara")),
    "year >= 100": expect(
        ("100", "us"), ("2023", "eu"), ("2023", "us"), ("2024", "us-west"), ("2024", "eu")
    ),
    "year <= 10": expect(("9", "ap"), ("10", "eu")),
    # `region` is a string key: text comparison
    "region = 'eu'": expect(("10", "eu"), ("2023", "eu"), ("2024", "eu")),
    "region < 'eu'": expect(("9", "ap")),
    "region >= 'us'": expect(("100", "us"), ("2023", "us"), ("2024", "us-west")),
    "region = 'o''hara'": expect(("11", "o'hara")),
    # boolean structure
    "year = 2023 AND region = 'us'": expect(("2023", "us")),
    "year = 9 OR region = 'us-west'": expect(("9", "ap"), ("2024", "us-west")),
    "year = 9 OR year = 2024 AND region = 'eu'": expect(("9", "ap"), ("2024", "eu")),
    "(year = 9 OR year = 2024) AND region = 'eu'": expect(("2024", "eu")),
    "((year = 9) OR (year = 2024 AND (region = 'us-west')))": expect(
        ("9", "ap"), ("2024", "us-west")
    ),
    "NOT region = 'eu'": expect(*(p for p in SALES_PARTITIONS if p[1] != "eu")),
    "NOT (year >= 2023 OR region = 'eu')": expect(("9", "ap"), ("11", "o'hara"), ("100", "us")),
    "year IN (9, 10, 2024)": expect(("9", "ap"), ("10", "eu"), ("2024", "us-west"), ("2024", "eu")),
    "region IN ('ap', 'o''hara')": expect(("9", "ap"), ("11", "o'hara")),
    "year NOT IN (2023, 2024)": expect(("9", "ap"), ("10", "eu"), ("11", "o'hara"), ("100", "us")),
    "year BETWEEN 10 AND 100": expect(("10", "eu"), ("11", "o'hara"), ("100", "us")),
    "year NOT BETWEEN 10 AND 2023": expect(("9", "ap"), ("2024", "us-west"), ("2024", "eu")),
    "region LIKE 'us%'": expect(("100", "us"), ("2023", "us"), ("2024", "us-west")),
    "region LIKE '_u'": expect(("10", "eu"), ("2023", "eu"), ("2024", "eu")),
    "region NOT LIKE '%u%'": expect(("9", "ap"), ("11", "o'hara")),
    "year LIKE '20%'": expect(("2023", "eu"), ("2023", "us"), ("2024", "us-west"), ("2024", "eu")),
    "year IS NULL": [],
    "year IS NOT NULL AND region IS NOT NULL": expect(*SALES_PARTITIONS),
    "YEAR = 2023 and Region = 'us'": expect(("2023", "us")),
    "`year` = 10": expect(("10", "eu")),
    "year = 1999": [],
}


def test_get_partitions_expressions(catalog: Catalog) -> None:
    make_sales(catalog)
    errors = catalog.batch_create_partition(
        "sales", "orders", [partition_input(*p) for p in SALES_PARTITIONS]
    )
    assert errors == {"Errors": []}
    wrong = {}
    for expression, expected in EXPRESSIONS.items():
        got = catalog.get_partitions(
            DatabaseName="sales", TableName="orders", Expression=expression
        )
        if values_of(got) != expected:
            wrong[expression] = {"expected": expected, "got": values_of(got)}
        for part in got["Partitions"]:
            assert (
                part["StorageDescriptor"]["Location"]
                == "s3://b/orders/" + "/".join(part["Values"]) + "/"
            )
    assert wrong == {}


def test_get_partitions_without_expression_and_bad_expressions(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.batch_create_partition(
        "sales", "orders", [partition_input(*p) for p in SALES_PARTITIONS]
    )
    everything = expect(*SALES_PARTITIONS)
    assert values_of(catalog.get_partitions("sales", "orders")) == everything
    assert values_of(catalog.get_partitions("sales", "orders", "")) == everything
    with pytest.raises(InvalidInputError, match="month"):
        catalog.get_partitions("sales", "orders", "month = 1")
    with pytest.raises(InvalidInputError, match="position"):
        catalog.get_partitions("sales", "orders", "year = 2023 AND")
    with pytest.raises(InvalidInputError, match="position"):
        catalog.get_partitions("sales", "orders", "year = 2023)")


def test_update_partition(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.create_partition("sales", "orders", partition_input("2024", "eu", rows="1"))
    created = catalog.get_partition("sales", "orders", ["2024", "eu"])["Partition"]
    assert (
        catalog.update_partition(
            DatabaseName="sales",
            TableName="orders",
            PartitionValueList=["2024", "eu"],
            PartitionInput=partition_input("2024", "eu", location="s3://moved/", rows="2"),
        )
        == {}
    )
    part = catalog.get_partition("sales", "orders", ["2024", "eu"])["Partition"]
    assert part["StorageDescriptor"]["Location"] == "s3://moved/"
    assert part["Parameters"] == {"rows": "2"}
    assert part["Values"] == ["2024", "eu"]
    assert part["CreationTime"] == created["CreationTime"]
    with pytest.raises(EntityNotFoundError):
        catalog.update_partition("sales", "orders", ["2024", "us"], partition_input("2024", "us"))
    assert values_of(catalog.get_partitions("sales", "orders")) == [("2024", "eu")]


def test_delete_partition(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.batch_create_partition(
        "sales", "orders", [partition_input("2024", "eu"), partition_input("2024", "us")]
    )
    assert (
        catalog.delete_partition(
            DatabaseName="sales", TableName="orders", PartitionValues=["2024", "eu"]
        )
        == {}
    )
    with pytest.raises(EntityNotFoundError):
        catalog.get_partition("sales", "orders", ["2024", "eu"])
    with pytest.raises(EntityNotFoundError):
        catalog.delete_partition("sales", "orders", ["2024", "eu"])
    assert values_of(catalog.get_partitions("sales", "orders")) == [("2024", "us")]
    # a deleted partition can be created again
    catalog.create_partition("sales", "orders", partition_input("2024", "eu"))
    assert values_of(catalog.get_partitions("sales", "orders")) == [("2024", "eu"), ("2024", "us")]


def test_batch_delete_partition(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.batch_create_partition(
        "sales", "orders", [partition_input(*p) for p in SALES_PARTITIONS]
    )
    response = catalog.batch_delete_partition(
        DatabaseName="sales",
        TableName="orders",
        PartitionsToDelete=[
            {"Values": ["2023", "eu"]},
            {"Values": ["1999", "xx"]},
            {"Values": [2023, "us"]},
        ],
    )
    assert response == {
        "Errors": [
            {
                "PartitionValues": ["1999", "xx"],
                "ErrorDetail": {
                    "ErrorCode": "EntityNotFoundException",
                    "ErrorMessage": response["Errors"][0]["ErrorDetail"]["ErrorMessage"],
                },
            }
        ]
    }
    assert response["Errors"][0]["ErrorDetail"]["ErrorMessage"]
    left = values_of(catalog.get_partitions("sales", "orders"))
    assert left == expect(*(p for p in SALES_PARTITIONS if p[0] != "2023"))


def test_partitions_belong_to_their_table(catalog: Catalog) -> None:
    make_sales(catalog)
    catalog.create_table("sales", table_input("returns", keys=SALES_KEYS))
    catalog.create_partition("sales", "orders", partition_input("2024", "eu"))
    catalog.create_partition(
        "sales", "returns", partition_input("2024", "eu")
    )  # same values, other table
    catalog.delete_partition("sales", "returns", ["2024", "eu"])
    assert values_of(catalog.get_partitions("sales", "orders")) == [("2024", "eu")]
    assert catalog.get_partitions("sales", "returns")["Partitions"] == []


# ----- migrations ----------------------------------------------------------------------------


def newest_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head
    return head


def test_fresh_database_gets_the_newest_revision(catalog_url: str) -> None:
    engine = make_engine(catalog_url)
    try:
        assert schema_revision(engine) is None  # empty database: nothing applied yet
        catalog = Catalog(catalog_url, engine=engine)
        assert schema_revision(engine) == newest_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
        catalog.create_database({"Name": "kept"})
    finally:
        engine.dispose()

    # re-opening a current database migrates nothing and keeps the data
    for _ in range(2):
        again = Catalog(catalog_url)
        try:
            assert schema_revision(again.engine) == newest_revision()
            assert [d["Name"] for d in again.get_databases()["DatabaseList"]] == ["kept"]
        finally:
            again.close()


def test_newest_revision_is_the_last_migration_file() -> None:
    files = sorted(p.name for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert files, "no migration files"
    assert files[-1].startswith(newest_revision())


# ----- crawler bookkeeping -------------------------------------------------------------------


def test_put_and_get_crawler(catalog: Catalog) -> None:
    store = CrawlStore(catalog)
    before = datetime.now(UTC)
    spec = {"targets": [{"path": "s3://b/raw/"}], "database": "sales"}
    store.put_crawler("raw", spec)
    crawler = store.get_crawler("raw")
    assert crawler["Name"] == "raw" and crawler["State"] == "READY" and crawler["Spec"] == spec
    assert_recent(crawler["CreationTime"], before)
    assert_recent(crawler["LastUpdated"], before)

    changed = {**spec, "database": "staging"}
    store.put_crawler("raw", changed)
    again = store.get_crawler("raw")
    assert again["Spec"] == changed
    assert again["CreationTime"] == crawler["CreationTime"]
    assert parse_time(again["LastUpdated"]) >= parse_time(crawler["LastUpdated"])

    store.put_crawler("another", {})
    assert store.list_crawlers() == ["another", "raw"]
    with pytest.raises(EntityNotFoundError):
        store.get_crawler("missing")


def test_crawl_runs(catalog: Catalog) -> None:
    store = CrawlStore(catalog)
    store.put_crawler("raw", {})
    before = datetime.now(UTC)
    first = store.start_run("raw")
    second = store.start_run("raw")
    store.start_run("elsewhere")
    assert second != first

    running = store.runs("raw")[0]
    assert running["RunId"] == second and running["State"] == "RUNNING"
    assert running["EndTime"] is None and running["DurationSeconds"] is None
    assert running["TablesCreated"] == 0 and running["Errors"] == [] and running["Summary"] == {}
    assert_recent(running["StartTime"], before)

    store.finish_run(
        first,
        state="SUCCEEDED",
        tables_created=2,
        partitions_added=5,
        files_read=9,
        summary={"tables": ["a", "b"]},
    )
    store.finish_run(second, state="FAILED", message="boom", errors=[{"path": "x", "error": "bad"}])
    runs = store.runs("raw")
    assert [r["RunId"] for r in runs] == [second, first]  # newest first
    failed, done = runs
    assert failed["State"] == "FAILED" and failed["Message"] == "boom"
    assert failed["Errors"] == [{"path": "x", "error": "bad"}]
    assert done["State"] == "SUCCEEDED" and done["Message"] is None
    assert (done["TablesCreated"], done["PartitionsAdded"], done["FilesRead"]) == (2, 5, 9)
    assert done["Summary"] == {"tables": ["a", "b"]}
    assert done["DurationSeconds"] >= 0
    assert parse_time(done["EndTime"]) >= parse_time(done["StartTime"])
    assert store.runs("raw", limit=1) == [failed]
    assert len(store.runs("elsewhere")) == 1
    assert store.runs("never") == []
    with pytest.raises(EntityNotFoundError):
        store.finish_run(10_000, state="SUCCEEDED")


def test_record_files_replace_and_merge(catalog: Catalog) -> None:
    store = CrawlStore(catalog)
    a = CrawledFile("s3://b/raw/a.json", "s3://b/raw/", 10, 1.5, "raw")
    b = CrawledFile("s3://b/raw/b.json", "s3://b/raw/", 20, 2.5, "raw")
    b2 = CrawledFile("s3://b/raw/b.json", "s3://b/raw/", 21, 3.5, "raw_v2")
    c = CrawledFile("s3://b/raw/sub/c.json", "s3://b/raw/sub/", 30, 4.0, None)

    store.record_files("raw", [a, b], replace=True)
    store.record_files("other", [a], replace=True)
    assert store.crawled_files("raw") == {a.path: a, b.path: b}

    store.record_files("raw", [b2, c], replace=False)  # merge: update b, add c, keep a
    assert store.crawled_files("raw") == {a.path: a, b.path: b2, c.path: c}

    store.record_files("raw", [c], replace=True)  # replace: forget what was not seen
    assert store.crawled_files("raw") == {c.path: c}
    assert store.crawled_files("other") == {a.path: a}  # per crawler

    store.record_files("raw", [], replace=False)
    assert store.crawled_files("raw") == {c.path: c}
    store.record_files("raw", [], replace=True)
    assert store.crawled_files("raw") == {}
    assert store.crawled_files("never") == {}
