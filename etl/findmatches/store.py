"""Stored FindMatches transforms and their labels, in the local catalog database.

Glue keeps an ML transform (name, ``FindMatchesParameters``, status, evaluation metrics, label
count) and the labels imported into it; this keeps the same in ``etl_ml_transforms`` and
``etl_ml_labels``, plus the trained model as JSON. Each call is one transaction.

Status follows Glue's values: ``NOT_READY`` until a model is saved, then ``READY``. Importing
labels appends by default; a labeling set already stored under the same id is replaced whole,
because labels are only meaningful within their set. ``replace=True`` forgets every earlier label
(Glue: ``ReplaceAllLabels``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from etl.catalog import Catalog
from etl.catalog.models import MLLabelRow, MLTransformRow
from etl.errors import AlreadyExistsError, EntityNotFoundError, InvalidInputError
from etl.findmatches.labels import LabelRecord, labels_by_set
from etl.findmatches.params import FindMatchesParameters
from etl.timeutil import as_utc, utc_now

_NAME = re.compile(r"^[\w\-. ]{1,255}$")
NOT_READY, READY = "NOT_READY", "READY"


@dataclass(frozen=True)
class MLTransform:
    """A stored transform as :meth:`MLTransformStore.get_transform` returns it."""

    name: str
    description: str
    parameters: FindMatchesParameters
    status: str
    model: dict[str, Any] | None
    metrics: dict[str, Any] | None
    label_count: int
    created_on: datetime
    last_modified_on: datetime
    input_database: str | None = None
    input_table: str | None = None

    def to_glue(self) -> dict[str, Any]:
        """The transform in GetMLTransform's response shape."""
        shape: dict[str, Any] = {
            "TransformId": self.name,
            "Name": self.name,
            "Description": self.description,
            "Status": self.status,
            "Parameters": {
                "TransformType": "FIND_MATCHES",
                "FindMatchesParameters": self.parameters.model_dump(by_alias=True, mode="json"),
            },
            "LabelCount": self.label_count,
            "CreatedOn": self.created_on.isoformat(),
            "LastModifiedOn": self.last_modified_on.isoformat(),
        }
        if self.metrics is not None:
            shape["EvaluationMetrics"] = {"TransformType": "FIND_MATCHES", "FindMatchesMetrics": self.metrics}
        if self.input_table:
            shape["InputRecordTables"] = [{"DatabaseName": self.input_database, "TableName": self.input_table}]
        return shape


class MLTransformStore:
    """FindMatches transforms and labels kept in a :class:`~etl.catalog.Catalog`'s database."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._sessions = sessionmaker(catalog.engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # ----- transforms ---------------------------------------------------------------------
    def create_transform(
        self,
        name: str,
        parameters: FindMatchesParameters,
        description: str = "",
        *,
        input_database: str | None = None,
        input_table: str | None = None,
    ) -> MLTransform:
        """Create a transform (Glue: CreateMLTransform); it is ``NOT_READY`` until trained.

        Raises:
            InvalidInputError: the name is invalid.
            AlreadyExistsError: a transform of that name exists.
        """
        _check_name(name)
        now = utc_now()
        row = MLTransformRow(
            name=name,
            description=description or None,
            parameters=_parameters_json(parameters),
            status=NOT_READY,
            input_database=input_database,
            input_table=input_table,
            create_time=now,
            update_time=now,
        )
        try:
            with self._session() as s:
                s.add(row)
        except IntegrityError:
            raise AlreadyExistsError(f"ML transform {name!r} already exists") from None
        return self.get_transform(name)

    def get_transform(self, name: str) -> MLTransform:
        """The transform with its label count (Glue: GetMLTransform)."""
        with self._session() as s:
            row = self._transform(s, name)
            return _transform_shape(row, self._count(s, row.name))

    def list_transforms(self) -> list[MLTransform]:
        """Every transform, by name."""
        with self._session() as s:
            rows = s.scalars(select(MLTransformRow).order_by(MLTransformRow.name)).all()
            counts = dict(
                s.execute(select(MLLabelRow.transform_name, func.count()).group_by(MLLabelRow.transform_name)).all()
            )
            return [_transform_shape(r, counts.get(r.name, 0)) for r in rows]

    def update_transform(
        self, name: str, *, parameters: FindMatchesParameters | None = None, description: str | None = None
    ) -> MLTransform:
        """Change parameters or description (Glue: UpdateMLTransform). New parameters drop the
        saved model and metrics (they were made for the old ones): the transform is ``NOT_READY``."""
        with self._session() as s:
            row = self._transform(s, name)
            if description is not None:
                row.description = description or None
            if parameters is not None:
                new = _parameters_json(parameters)
                if new != row.parameters:
                    row.parameters, row.model, row.metrics, row.status = new, None, None, NOT_READY
            row.update_time = utc_now()
        return self.get_transform(name)

    def delete_transform(self, name: str) -> None:
        """Delete a transform and its labels (Glue: DeleteMLTransform)."""
        with self._session() as s:
            s.delete(self._transform(s, name))

    def save_model(self, name: str, model: dict[str, Any], metrics: dict[str, Any] | None = None) -> None:
        """Store a trained model (``MatchModel.to_dict()``) and, if given, its evaluation metrics
        (Glue's ``FindMatchesMetrics`` shape); the transform becomes ``READY``."""
        if not isinstance(model, dict):
            raise InvalidInputError(f"ML transform {name!r}: the model must be a dict, got {type(model).__name__}")
        with self._session() as s:
            row = self._transform(s, name)
            row.model, row.status, row.update_time = dict(model), READY, utc_now()
            if metrics is not None:
                row.metrics = dict(metrics)

    def save_metrics(self, name: str, metrics: dict[str, Any]) -> None:
        """Store the latest evaluation metrics (Glue: the result of StartMLEvaluationTaskRun)."""
        with self._session() as s:
            row = self._transform(s, name)
            row.metrics, row.update_time = dict(metrics), utc_now()

    # ----- labels -------------------------------------------------------------------------
    def add_labels(self, name: str, labels: Sequence[LabelRecord], replace: bool = False) -> int:
        """Import labels (Glue: StartImportLabelsTaskRun); returns how many were imported.

        Appending replaces stored labeling sets that have the same id as an imported one and keeps
        the others; ``replace`` forgets every earlier label first (Glue: ``ReplaceAllLabels``).

        Raises:
            EntityNotFoundError: no such transform.
            InvalidInputError: a label lacks a set id, label or key, or a key repeats within a set.
        """
        _check_labels(name, labels)
        now = utc_now()
        rows = [
            {
                "transform_name": name,
                "labeling_set_id": r.labeling_set_id,
                "label": r.label,
                "record_key": r.key,
                "record": dict(r.record),
                "import_time": now,
            }
            for r in labels
        ]
        with self._session() as s:
            row = self._transform(s, name)
            wipe = delete(MLLabelRow).where(MLLabelRow.transform_name == row.name)
            if not replace:
                sets = list(labels_by_set(labels))
                wipe = wipe.where(MLLabelRow.labeling_set_id.in_(sets)) if sets else None
            if wipe is not None:
                s.execute(wipe)
            if rows:
                s.execute(insert(MLLabelRow), rows)
            row.update_time = now
        return len(rows)

    def labels(self, name: str) -> list[LabelRecord]:
        """The stored labels, by labeling set and then in import order."""
        with self._session() as s:
            row = self._transform(s, name)
            stored = s.scalars(
                select(MLLabelRow)
                .where(MLLabelRow.transform_name == row.name)
                .order_by(MLLabelRow.labeling_set_id, MLLabelRow.id)
            ).all()
            return [LabelRecord(r.labeling_set_id, r.label, r.record_key, dict(r.record)) for r in stored]

    def label_count(self, name: str) -> int:
        """How many labelled records the transform has (Glue: LabelCount)."""
        with self._session() as s:
            return self._count(s, self._transform(s, name).name)

    # ----- lookups ------------------------------------------------------------------------
    def _transform(self, s: Session, name: str) -> MLTransformRow:
        row = s.get(MLTransformRow, name) if isinstance(name, str) else None
        if row is None:
            raise EntityNotFoundError(f"ML transform {name!r} not found")
        return row

    @staticmethod
    def _count(s: Session, name: str) -> int:
        return int(s.scalar(select(func.count()).select_from(MLLabelRow).where(MLLabelRow.transform_name == name)))


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(f"ML transform name {name!r} is invalid (1-255 letters, digits, _ - . space)")


def _parameters_json(parameters: FindMatchesParameters) -> dict[str, Any]:
    if not isinstance(parameters, FindMatchesParameters):
        raise InvalidInputError(f"parameters must be FindMatchesParameters, got {type(parameters).__name__}")
    return parameters.model_dump(by_alias=True, mode="json")


def _check_labels(name: str, labels: Sequence[LabelRecord]) -> None:
    seen: set[tuple[str, str]] = set()
    for i, r in enumerate(labels, start=1):
        where = f"ML transform {name!r}: label {i}"
        for field_name in ("labeling_set_id", "label", "key"):
            value = getattr(r, field_name)
            if not isinstance(value, str) or not value:
                raise InvalidInputError(f"{where}: {field_name} must be a non-empty string, got {value!r}")
        if len(r.labeling_set_id) > 255 or len(r.label) > 255:
            raise InvalidInputError(f"{where}: labeling_set_id and label are limited to 255 characters")
        if (r.labeling_set_id, r.key) in seen:
            raise InvalidInputError(f"{where}: key {r.key!r} appears twice in labeling set {r.labeling_set_id!r}")
        seen.add((r.labeling_set_id, r.key))


def _transform_shape(row: MLTransformRow, label_count: int) -> MLTransform:
    try:
        parameters = FindMatchesParameters.model_validate(row.parameters)
    except ValidationError as exc:  # written by another version of the code
        raise InvalidInputError(f"ML transform {row.name!r} has unreadable stored parameters: {exc}") from exc
    return MLTransform(
        name=row.name,
        description=row.description or "",
        parameters=parameters,
        status=row.status,
        model=row.model,
        metrics=row.metrics,
        label_count=label_count,
        created_on=as_utc(row.create_time),
        last_modified_on=as_utc(row.update_time),
        input_database=row.input_database,
        input_table=row.input_table,
    )
