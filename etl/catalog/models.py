"""The catalog's tables (SQLAlchemy 2 typed ORM), shaped after Glue's Data Catalog.

Glue's nested structures (StorageDescriptor, Parameters, PartitionKeys) are stored as JSON so the
API returns them exactly as written; what is searched or constrained (names, versions, partition
values) gets columns of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class DatabaseRow(Base):
    __tablename__ = "glue_databases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    location_uri: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TableRow(Base):
    __tablename__ = "glue_tables"
    __table_args__ = (UniqueConstraint("database_name", "name", name="uq_table_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    database_name: Mapped[str] = mapped_column(
        String(255), ForeignKey("glue_databases.name", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    version_id: Mapped[int] = mapped_column(Integer, default=0)
    # The whole TableInput as last written (StorageDescriptor, PartitionKeys, Parameters, ...).
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TableVersionRow(Base):
    __tablename__ = "glue_table_versions"
    __table_args__ = (UniqueConstraint("table_id", "version_id", name="uq_table_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("glue_tables.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    archived_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PartitionRow(Base):
    __tablename__ = "glue_partitions"
    __table_args__ = (UniqueConstraint("table_id", "values_key", name="uq_partition_values"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("glue_tables.id", ondelete="CASCADE"), index=True)
    values_key: Mapped[str] = mapped_column(Text)  # JSON of the value list, for uniqueness
    values: Mapped[list[Any]] = mapped_column(JSON)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)  # StorageDescriptor, Parameters
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CrawlerRow(Base):
    __tablename__ = "etl_crawlers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(32), default="READY")
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CrawlRunRow(Base):
    __tablename__ = "etl_crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    crawler_name: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(32))
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    tables_created: Mapped[int] = mapped_column(Integer, default=0)
    tables_updated: Mapped[int] = mapped_column(Integer, default=0)
    tables_deleted: Mapped[int] = mapped_column(Integer, default=0)
    partitions_added: Mapped[int] = mapped_column(Integer, default=0)
    partitions_deleted: Mapped[int] = mapped_column(Integer, default=0)
    files_read: Mapped[int] = mapped_column(Integer, default=0)
    files_skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)


class CrawledFileRow(Base):
    """Files a crawler has read, for CRAWL_NEW_FOLDERS_ONLY recrawls."""

    __tablename__ = "etl_crawled_files"

    crawler_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    path: Mapped[str] = mapped_column(String(2048), primary_key=True)
    folder: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    table_name: Mapped[str | None] = mapped_column(String(255))


class MLTransformRow(Base):
    """A FindMatches transform (Glue: MLTransform): its parameters, trained model and metrics."""

    __tablename__ = "etl_ml_transforms"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)  # FindMatchesParameters, Glue's keys
    model: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # FindMatchesMetrics
    status: Mapped[str] = mapped_column(String(32), default="NOT_READY")
    input_database: Mapped[str | None] = mapped_column(String(255))
    input_table: Mapped[str | None] = mapped_column(String(255))
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MLLabelRow(Base):
    """One labelled record: records of a labeling set with the same label are one entity."""

    __tablename__ = "etl_ml_labels"
    __table_args__ = (UniqueConstraint("transform_name", "labeling_set_id", "record_key", name="uq_ml_label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transform_name: Mapped[str] = mapped_column(
        String(255), ForeignKey("etl_ml_transforms.name", ondelete="CASCADE"), index=True
    )
    labeling_set_id: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(255))
    record_key: Mapped[str] = mapped_column(Text)  # the primary key value as text
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # the record's columns as labelled
    import_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
