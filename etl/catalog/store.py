"""The catalog store: Glue Data Catalog calls over SQLAlchemy (SQLite or PostgreSQL).

Calls take and return Glue's API shapes (``TableInput``, ``{"Table": {...}}``, ...), so code
written against ``boto3.client("glue")`` reads naturally. Each call is one transaction; table
updates are optimistic (``UPDATE ... WHERE version_id = <read version>``), so a concurrent
writer makes the later commit fail with :class:`ConcurrentModificationError` and change nothing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from etl.catalog.engine import catalog_url, make_engine, migrate
from etl.catalog.expression import compile_expression
from etl.catalog.models import DatabaseRow, PartitionRow, TableRow, TableVersionRow
from etl.errors import (
    AlreadyExistsError,
    ConcurrentModificationError,
    EntityNotFoundError,
    InvalidInputError,
)

_NAME = re.compile(r"^[\w\-. ]{1,255}$")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(f"{kind} name {name!r} is invalid (1-255 letters, digits, _ - . space)")
    return name.lower()  # Glue stores names in lower case


class Catalog:
    """A Glue-compatible Data Catalog in a SQL database.

    Args:
        url: SQLAlchemy URL (``sqlite:///path/catalog.db``, ``postgresql+psycopg://...``);
            defaults to ``$ETL_CATALOG_URL`` or ``<ETL_HOME>/catalog.db``.
    """

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = catalog_url(url)
        self.engine = engine or make_engine(self.url)
        migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # ----- databases ----------------------------------------------------------------------
    def create_database(self, DatabaseInput: Mapping[str, Any]) -> dict[str, Any]:
        name = _check_name("database", DatabaseInput.get("Name"))
        row = DatabaseRow(
            name=name,
            description=DatabaseInput.get("Description"),
            location_uri=DatabaseInput.get("LocationUri"),
            parameters=dict(DatabaseInput.get("Parameters") or {}),
            create_time=_now(),
        )
        try:
            with self._session() as s:
                s.add(row)
        except IntegrityError:
            raise AlreadyExistsError(f"database {name} already exists") from None
        return {}

    def get_database(self, Name: str) -> dict[str, Any]:
        with self._session() as s:
            return {"Database": _database_shape(self._database(s, Name))}

    def get_databases(self) -> dict[str, Any]:
        with self._session() as s:
            rows = s.scalars(select(DatabaseRow).order_by(DatabaseRow.name)).all()
            return {"DatabaseList": [_database_shape(r) for r in rows]}

    def update_database(self, Name: str, DatabaseInput: Mapping[str, Any]) -> dict[str, Any]:
        with self._session() as s:
            row = self._database(s, Name)
            row.description = DatabaseInput.get("Description", row.description)
            row.location_uri = DatabaseInput.get("LocationUri", row.location_uri)
            if "Parameters" in DatabaseInput:
                row.parameters = dict(DatabaseInput["Parameters"] or {})
        return {}

    def delete_database(self, Name: str) -> dict[str, Any]:
        """Delete a database with its tables, versions and partitions."""
        with self._session() as s:
            row = self._database(s, Name)
            table_ids = s.scalars(select(TableRow.id).where(TableRow.database_name == row.name)).all()
            self._delete_tables(s, list(table_ids))
            s.delete(row)
        return {}

    def ensure_database(self, name: str, description: str | None = None) -> None:
        """Create the database unless it exists (what a crawler or a job sink needs)."""
        try:
            self.create_database({"Name": name, "Description": description})
        except AlreadyExistsError:
            pass

    # ----- tables -------------------------------------------------------------------------
    def create_table(self, DatabaseName: str, TableInput: Mapping[str, Any]) -> dict[str, Any]:
        name = _check_name("table", TableInput.get("Name"))
        definition = _table_definition(TableInput)
        now = _now()
        try:
            with self._session() as s:
                db = self._database(s, DatabaseName)
                row = TableRow(database_name=db.name, name=name, version_id=0, definition=definition,
                               create_time=now, update_time=now)
                s.add(row)
                s.flush()
                s.add(TableVersionRow(table_id=row.id, version_id=0, definition=definition, archived_time=now))
        except IntegrityError:
            raise AlreadyExistsError(f"table {DatabaseName}.{name} already exists") from None
        return {}

    def get_table(self, DatabaseName: str, Name: str) -> dict[str, Any]:
        with self._session() as s:
            return {"Table": _table_shape(self._table(s, DatabaseName, Name))}

    def get_tables(self, DatabaseName: str, Expression: str | None = None) -> dict[str, Any]:
        """Tables of a database; ``Expression`` is a regular expression on table names, as in
        Glue (``*`` alone or as a wildcard is accepted)."""
        with self._session() as s:
            db = self._database(s, DatabaseName)
            rows = s.scalars(
                select(TableRow).where(TableRow.database_name == db.name).order_by(TableRow.name)
            ).all()
            if Expression:
                pattern = _name_pattern(Expression)
                rows = [r for r in rows if pattern.fullmatch(r.name)]
            return {"TableList": [_table_shape(r) for r in rows]}

    def update_table(
        self,
        DatabaseName: str,
        TableInput: Mapping[str, Any],
        VersionId: str | int | None = None,
        SkipArchive: bool = False,
    ) -> dict[str, Any]:
        """Replace a table's definition, archiving a new version.

        With ``VersionId`` the update only applies if the table is still at that version.

        Raises:
            ConcurrentModificationError: another writer committed first; nothing changed.
        """
        name = _check_name("table", TableInput.get("Name"))
        definition = _table_definition(TableInput)
        with self._session() as s:
            row = self._table(s, DatabaseName, name)
            expected = int(VersionId) if VersionId is not None else row.version_id
            new_version = expected + 1
            now = _now()
            result = s.execute(
                update(TableRow)
                .where(TableRow.id == row.id, TableRow.version_id == expected)
                .values(definition=definition, version_id=new_version, update_time=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise ConcurrentModificationError(
                    f"table {DatabaseName}.{name} changed since version {expected}; re-read and retry"
                )
            if not SkipArchive:
                s.add(TableVersionRow(table_id=row.id, version_id=new_version, definition=definition,
                                      archived_time=now))
        return {}

    def delete_table(self, DatabaseName: str, Name: str) -> dict[str, Any]:
        with self._session() as s:
            self._delete_tables(s, [self._table(s, DatabaseName, Name).id])
        return {}

    def get_table_versions(self, DatabaseName: str, TableName: str) -> dict[str, Any]:
        """Every archived version, newest first."""
        with self._session() as s:
            row = self._table(s, DatabaseName, TableName)
            versions = s.scalars(
                select(TableVersionRow).where(TableVersionRow.table_id == row.id)
                .order_by(TableVersionRow.version_id.desc())
            ).all()
            return {"TableVersions": [
                {"Table": _table_shape(row, v.definition, v.version_id, v.archived_time),
                 "VersionId": str(v.version_id)}
                for v in versions
            ]}

    def get_table_version(self, DatabaseName: str, TableName: str, VersionId: str | int) -> dict[str, Any]:
        with self._session() as s:
            row = self._table(s, DatabaseName, TableName)
            version = s.scalars(select(TableVersionRow).where(
                TableVersionRow.table_id == row.id, TableVersionRow.version_id == int(VersionId))).first()
            if version is None:
                raise EntityNotFoundError(f"table {DatabaseName}.{TableName} has no version {VersionId}")
            return {"TableVersion": {
                "Table": _table_shape(row, version.definition, version.version_id, version.archived_time),
                "VersionId": str(version.version_id)}}

    def search_tables(self, SearchText: str | None = None, DatabaseName: str | None = None) -> dict[str, Any]:
        """Tables whose name, description, columns or parameters contain ``SearchText``."""
        needle = (SearchText or "").lower()
        with self._session() as s:
            query = select(TableRow).order_by(TableRow.database_name, TableRow.name)
            if DatabaseName:
                query = query.where(TableRow.database_name == DatabaseName.lower())
            rows = s.scalars(query).all()
            hits = [r for r in rows if not needle or needle in (r.name + json.dumps(r.definition)).lower()]
            return {"TableList": [_table_shape(r) for r in hits]}

    # ----- partitions ---------------------------------------------------------------------
    def create_partition(self, DatabaseName: str, TableName: str, PartitionInput: Mapping[str, Any]) -> dict[str, Any]:
        errors = self.batch_create_partition(DatabaseName, TableName, [PartitionInput])["Errors"]
        if errors:
            detail = errors[0]["ErrorDetail"]
            cls = AlreadyExistsError if detail["ErrorCode"] == "AlreadyExistsException" else InvalidInputError
            raise cls(detail["ErrorMessage"])
        return {}

    def batch_create_partition(
        self, DatabaseName: str, TableName: str, PartitionInputList: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Create many partitions in one transaction; existing or malformed ones are reported in
        ``Errors`` (Glue's shape) and the rest are created."""
        errors: list[dict[str, Any]] = []
        with self._session() as s:
            table = self._table(s, DatabaseName, TableName)
            n_keys = len(table.definition.get("PartitionKeys") or [])
            existing = set(s.scalars(select(PartitionRow.values_key).where(PartitionRow.table_id == table.id)))
            now = _now()
            for item in PartitionInputList:
                values = [str(v) for v in item.get("Values") or []]
                key = json.dumps(values)
                if len(values) != n_keys:
                    errors.append(_partition_error(values, "InvalidInputException",
                                                   f"{len(values)} values for {n_keys} partition keys"))
                elif key in existing:
                    errors.append(_partition_error(values, "AlreadyExistsException",
                                                   f"partition {values} already exists"))
                else:
                    existing.add(key)
                    s.add(PartitionRow(table_id=table.id, values_key=key, values=values,
                                       definition=_partition_definition(item), create_time=now, update_time=now))
        return {"Errors": errors}

    def get_partition(self, DatabaseName: str, TableName: str, PartitionValues: Sequence[str]) -> dict[str, Any]:
        with self._session() as s:
            table = self._table(s, DatabaseName, TableName)
            return {"Partition": _partition_shape(table, self._partition(s, table, PartitionValues))}

    def get_partitions(self, DatabaseName: str, TableName: str, Expression: str | None = None) -> dict[str, Any]:
        """Partitions of a table, filtered by Glue's partition ``Expression``."""
        with self._session() as s:
            table = self._table(s, DatabaseName, TableName)
            rows = s.scalars(select(PartitionRow).where(PartitionRow.table_id == table.id)
                             .order_by(PartitionRow.id)).all()
            keys = table.definition.get("PartitionKeys") or []
            if Expression:
                predicate = compile_expression(Expression, {k["Name"]: k.get("Type", "string") for k in keys})
                rows = [r for r in rows if predicate(dict(zip((k["Name"] for k in keys), r.values, strict=True)))]
            return {"Partitions": [_partition_shape(table, r) for r in rows]}

    def update_partition(self, DatabaseName: str, TableName: str, PartitionValueList: Sequence[str],
                         PartitionInput: Mapping[str, Any]) -> dict[str, Any]:
        with self._session() as s:
            table = self._table(s, DatabaseName, TableName)
            row = self._partition(s, table, PartitionValueList)
            row.definition = _partition_definition(PartitionInput)
            row.update_time = _now()
        return {}

    def delete_partition(self, DatabaseName: str, TableName: str, PartitionValues: Sequence[str]) -> dict[str, Any]:
        with self._session() as s:
            table = self._table(s, DatabaseName, TableName)
            s.delete(self._partition(s, table, PartitionValues))
        return {}

    def batch_delete_partition(self, DatabaseName: str, TableName: str,
                               PartitionsToDelete: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        errors = []
        with self._session() as s:
            table = self._table(s, DatabaseName, TableName)
            for item in PartitionsToDelete:
                values = [str(v) for v in item.get("Values") or []]
                result = s.execute(delete(PartitionRow).where(
                    PartitionRow.table_id == table.id, PartitionRow.values_key == json.dumps(values)))
                if result.rowcount == 0:
                    errors.append(_partition_error(values, "EntityNotFoundException",
                                                   f"partition {values} not found"))
        return {"Errors": errors}

    # ----- lookups ------------------------------------------------------------------------
    def _database(self, s: Session, name: str) -> DatabaseRow:
        row = s.get(DatabaseRow, (name or "").lower())
        if row is None:
            raise EntityNotFoundError(f"database {name} not found")
        return row

    def _table(self, s: Session, database: str, name: str) -> TableRow:
        self._database(s, database)
        row = s.scalars(select(TableRow).where(
            TableRow.database_name == database.lower(), TableRow.name == (name or "").lower())).first()
        if row is None:
            raise EntityNotFoundError(f"table {database}.{name} not found")
        return row

    def _partition(self, s: Session, table: TableRow, values: Sequence[str]) -> PartitionRow:
        key = json.dumps([str(v) for v in values])
        row = s.scalars(select(PartitionRow).where(
            PartitionRow.table_id == table.id, PartitionRow.values_key == key)).first()
        if row is None:
            raise EntityNotFoundError(f"partition {list(values)} of {table.database_name}.{table.name} not found")
        return row

    def _delete_tables(self, s: Session, table_ids: list[int]) -> None:
        if not table_ids:
            return
        s.execute(delete(PartitionRow).where(PartitionRow.table_id.in_(table_ids)))
        s.execute(delete(TableVersionRow).where(TableVersionRow.table_id.in_(table_ids)))
        s.execute(delete(TableRow).where(TableRow.id.in_(table_ids)))


# ----- shapes ------------------------------------------------------------------------------
def _name_pattern(expression: str) -> re.Pattern[str]:
    text = expression.strip()
    if text == "*":
        return re.compile(".*")
    if re.fullmatch(r"[\w*|]+", text):  # Glue accepts simple wildcards like "sales*|orders*"
        text = text.replace("*", ".*")
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        raise InvalidInputError(f"Expression {expression!r} is not a valid pattern: {exc}") from exc


_TABLE_KEYS = ("Description", "Owner", "Retention", "StorageDescriptor", "PartitionKeys", "TableType",
               "Parameters", "ViewOriginalText", "ViewExpandedText", "TargetTable", "LastAccessTime",
               "LastAnalyzedTime")


def _table_definition(table_input: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(table_input) - set(_TABLE_KEYS) - {"Name"}
    if unknown:
        raise InvalidInputError(f"TableInput has unknown keys {sorted(unknown)}")
    definition = {k: copy.deepcopy(table_input[k]) for k in _TABLE_KEYS if k in table_input}
    definition.setdefault("PartitionKeys", [])
    definition.setdefault("Parameters", {})
    for key in definition["PartitionKeys"]:
        if "Name" not in key:
            raise InvalidInputError(f"a partition key lacks a Name: {key}")
    return definition


def _partition_definition(partition_input: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(partition_input[k]) for k in
            ("StorageDescriptor", "Parameters", "LastAccessTime", "LastAnalyzedTime") if k in partition_input}


def _partition_error(values: list[str], code: str, message: str) -> dict[str, Any]:
    return {"PartitionValues": values, "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message}}


def _database_shape(row: DatabaseRow) -> dict[str, Any]:
    shape: dict[str, Any] = {"Name": row.name, "Parameters": row.parameters or {},
                             "CreateTime": _iso(row.create_time), "CatalogId": "local"}
    if row.description:
        shape["Description"] = row.description
    if row.location_uri:
        shape["LocationUri"] = row.location_uri
    return shape


def _table_shape(row: TableRow, definition: Mapping[str, Any] | None = None,
                 version: int | None = None, updated: datetime | None = None) -> dict[str, Any]:
    shape: dict[str, Any] = {"Name": row.name, "DatabaseName": row.database_name}
    shape.update(copy.deepcopy(dict(definition if definition is not None else row.definition)))
    shape["CreateTime"] = _iso(row.create_time)
    shape["UpdateTime"] = _iso(updated or row.update_time)
    shape["VersionId"] = str(row.version_id if version is None else version)
    shape["CatalogId"] = "local"
    return shape


def _partition_shape(table: TableRow, row: PartitionRow) -> dict[str, Any]:
    shape: dict[str, Any] = {"Values": list(row.values), "DatabaseName": table.database_name,
                             "TableName": table.name, "CreationTime": _iso(row.create_time),
                             "CatalogId": "local"}
    shape.update(copy.deepcopy(row.definition))
    return shape
