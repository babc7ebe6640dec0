"""GlueContext: the entry point of a Glue script, on any SparkSession."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession

from etl.errors import ConfigError
from etl.frame.dynamicframe import DynamicFrame
from etl.io import delta as delta_io
from etl.io import reader, writer
from etl.io.connection import parse_file_connection
from etl.io.formats import canonical_format
from etl.session import get_session, quiet_query_loggers


class GlueLogger:
    """Glue's logger API (``info``, ``warn``, ``error``) over Python logging."""

    def __init__(self, name: str = "etl.job") -> None:
        self._log = logging.getLogger(name)

    def info(self, message: str) -> None:
        self._log.info(message)

    def warn(self, message: str) -> None:
        self._log.warning(message)

    warning = warn

    def error(self, message: str) -> None:
        self._log.error(message)


class GlueContext:
    """Wraps a SparkContext or SparkSession (or builds one) and reads and writes frames.

    Example:
        >>> glue = GlueContext(SparkContext.getOrCreate())
        >>> dyf = glue.create_dynamic_frame.from_options(
        ...     "s3", {"paths": ["data/in"]}, format="csv", format_options={"withHeader": True})
    """

    def __init__(
        self, spark: SparkContext | SparkSession | None = None, *, catalog: Any = None, **_: Any
    ) -> None:
        if isinstance(spark, SparkSession):
            self.spark_session = spark
        elif isinstance(spark, SparkContext):
            self.spark_session = SparkSession(spark) if SparkSession.getActiveSession() is None \
                else SparkSession.getActiveSession()
        else:
            self.spark_session = get_session()
        self._sc = self.spark_session.sparkContext
        self._catalog = catalog
        quiet_query_loggers()
        self.write_results: list[writer.WriteResult] = []
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self.create_data_frame = DataFrameReader(self)
        self.write_data_frame = DataFrameWriter(self)

    @property
    def sparkSession(self) -> SparkSession:  # noqa: N802 - Glue's spelling
        return self.spark_session

    def get_logger(self) -> GlueLogger:
        return GlueLogger()

    @property
    def catalog(self) -> Any:
        """The local Data Catalog (``$ETL_CATALOG_URL`` or SQLite under ``$ETL_HOME``)."""
        if self._catalog is None:
            from etl.catalog import Catalog

            self._catalog = Catalog()
        return self._catalog

    # ----- reading from the catalog --------------------------------------------------------
    def create_dynamic_frame_from_catalog(
        self,
        database: str,
        table_name: str,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        """Read a catalogued table; ``push_down_predicate`` (Spark SQL) and
        ``additional_options["catalogPartitionPredicate"]`` (catalog expression) prune
        partitions before any file is listed."""
        from etl.catalog.reader import read_table

        options = dict(additional_options or {})
        result = read_table(
            self.spark_session, self.catalog, database, table_name,
            push_down_predicate=push_down_predicate or None,
            catalog_partition_predicate=options.get("catalogPartitionPredicate"),
            transformation_ctx=transformation_ctx,
        )
        return DynamicFrame(result.frame, self, transformation_ctx or table_name,
                            stage_errors=result.errors, transformation_ctx=transformation_ctx)

    def create_data_frame_from_catalog(self, database: str, table_name: str, transformation_ctx: str = "",
                                       push_down_predicate: str = "",
                                       additional_options: Mapping[str, Any] | None = None,
                                       **kwargs: Any) -> DataFrame:
        return self.create_dynamic_frame_from_catalog(
            database, table_name, transformation_ctx=transformation_ctx,
            push_down_predicate=push_down_predicate, additional_options=additional_options, **kwargs,
        ).toDF()

    # ----- reading -------------------------------------------------------------------------
    def _read(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None,
        format: str | None,
        format_options: Mapping[str, Any] | None,
        transformation_ctx: str,
        push_down_predicate: str | None,
    ) -> reader.ReadResult:
        conn = parse_file_connection(connection_type, connection_options)
        return reader.read(
            self.spark_session,
            conn.paths,
            format or "",
            format_options,
            recurse=conn.recurse,
            exclusions=conn.exclusions,
            push_down_predicate=push_down_predicate or None,
            transformation_ctx=transformation_ctx,
            spark_options=conn.spark_options,
        )

    def create_dynamic_frame_from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **_: Any,
    ) -> DynamicFrame:
        """Read files into a DynamicFrame; malformed CSV/JSON lines become error records."""
        result = self._read(
            connection_type, connection_options, format, format_options,
            transformation_ctx, push_down_predicate,
        )
        return DynamicFrame(
            result.frame, self, transformation_ctx or "source",
            stage_errors=result.errors, transformation_ctx=transformation_ctx,
        )

    def create_data_frame_from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **_: Any,
    ) -> DataFrame:
        """Read files into a Spark DataFrame (malformed lines are dropped; use the DynamicFrame
        reader to keep them as error records)."""
        return self._read(
            connection_type, connection_options, format, format_options,
            transformation_ctx, push_down_predicate,
        ).frame

    # ----- writing -------------------------------------------------------------------------
    def write_data_frame_from_options(
        self,
        frame: DataFrame,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> writer.WriteResult | None:
        """Write a DataFrame; Delta with ``primaryKeys`` upserts (MERGE) instead of appending."""
        conn = parse_file_connection(connection_type, connection_options, for_write=True)
        fmt = canonical_format(format)
        path = conn.paths[0]
        if fmt == "delta" and conn.primary_keys:
            delta_io.upsert(
                self.spark_session, frame, path, conn.primary_keys, partition_keys=conn.partition_keys
            )
            return None
        result = writer.write(
            frame,
            path,
            fmt,
            format_options,
            partition_keys=conn.partition_keys,
            mode=conn.mode,
            partition_overwrite_mode=conn.partition_overwrite_mode,
            compression=conn.compression,
        )
        self.write_results.append(result)
        return result

    def write_dynamic_frame_from_options(
        self,
        frame: DynamicFrame,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        """Write a DynamicFrame's good records; returns the frame, as Glue does."""
        self.write_data_frame_from_options(
            frame.toDF(), connection_type, connection_options, format, format_options,
            transformation_ctx, **kwargs,
        )
        return frame

    def write_dynamic_frame_from_catalog(
        self,
        frame: DynamicFrame,
        database: str,
        table_name: str,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        """Append to a catalogued table's location in its format; with
        ``additional_options={"enableUpdateCatalog": True, "partitionKeys": [...]}`` the table's
        schema and partitions follow the write."""
        from etl.catalog.formats import spark_format

        table = self.catalog.get_table(database, table_name)["Table"]
        fmt = spark_format(table)
        options = dict(additional_options or {})
        update = str(options.pop("enableUpdateCatalog", False)).lower() == "true"
        behavior = str(options.pop("updateBehavior", "UPDATE_IN_DATABASE"))
        keys = options.pop("partitionKeys", [k["Name"] for k in table.get("PartitionKeys", [])])
        connection = {"path": table["StorageDescriptor"]["Location"], "partitionKeys": keys, **options}
        self.write_data_frame_from_options(frame.toDF(), "s3", connection, fmt.source,
                                           fmt.format_options, transformation_ctx)
        if update:
            self.update_catalog_after_write(frame.toDF(), database, table_name, connection, fmt.source, behavior)
        return frame

    def update_catalog_after_write(self, frame: DataFrame, database: str, table_name: str,
                                   connection_options: Mapping[str, Any], format: str | None,
                                   update_behavior: str) -> dict[str, Any]:
        from etl.catalog.sink import update_catalog

        conn = parse_file_connection("s3", connection_options, for_write=True)
        return update_catalog(
            self.catalog, database, table_name, location=conn.paths[0], fmt=canonical_format(format),
            schema=frame.schema, partition_keys=conn.partition_keys, update_behavior=update_behavior,
        )

    # ----- sources and sinks ---------------------------------------------------------------
    def getSource(self, connection_type: str, format: str | None = None,
                  transformation_ctx: str = "", push_down_predicate: str = "", **options: Any) -> DataSource:
        return DataSource(self, connection_type, options, format, transformation_ctx, push_down_predicate)

    def getSink(self, connection_type: str, format: str | None = None,
                transformation_ctx: str = "", **options: Any) -> DataSink:
        return DataSink(self, connection_type, options, format, transformation_ctx)


class DataSource:
    """Glue's ``getSource(...)`` object: ``setFormat(...)`` then ``getFrame()``."""

    def __init__(self, ctx: GlueContext, connection_type: str, options: Mapping[str, Any],
                 format: str | None, transformation_ctx: str, push_down_predicate: str) -> None:
        self._ctx = ctx
        self._connection_type = connection_type
        self._options = dict(options)
        self._format = format
        self._format_options: dict[str, Any] = {}
        self._ctx_name = transformation_ctx
        self._predicate = push_down_predicate

    def setFormat(self, format: str, **options: Any) -> None:
        self._format = format
        self._format_options = options

    def getFrame(self, **_: Any) -> DynamicFrame:
        return self._ctx.create_dynamic_frame_from_options(
            self._connection_type, self._options, self._format, self._format_options,
            self._ctx_name, self._predicate,
        )


class DataSink:
    """Glue's ``getSink(...)`` object: ``setFormat(...)``, optionally ``setCatalogInfo(...)``,
    then ``writeFrame(frame)``. With ``enableUpdateCatalog=True`` the write creates or evolves
    the catalog table and registers new partitions."""

    def __init__(self, ctx: GlueContext, connection_type: str, options: Mapping[str, Any],
                 format: str | None, transformation_ctx: str) -> None:
        self._ctx = ctx
        self._connection_type = connection_type
        opts = dict(options)
        self._update_catalog = str(opts.pop("enableUpdateCatalog", False)).lower() == "true"
        self._update_behavior = str(opts.pop("updateBehavior", "UPDATE_IN_DATABASE"))
        self._options = opts
        self._format = format
        self._format_options: dict[str, Any] = {}
        self._ctx_name = transformation_ctx
        self._catalog_target: tuple[str, str] | None = None

    def setFormat(self, format: str, **options: Any) -> None:
        self._format = format
        self._format_options = options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId: str | None = None) -> None:
        self._catalog_target = (catalogDatabase, catalogTableName)

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:
        self.writeDataFrame(dynamic_frame.toDF())
        return dynamic_frame

    def writeDataFrame(self, data_frame: DataFrame, glue_context: GlueContext | None = None) -> None:
        self._ctx.write_data_frame_from_options(
            data_frame, self._connection_type, self._options, self._format,
            self._format_options, self._ctx_name,
        )
        if self._update_catalog:
            if self._catalog_target is None:
                raise ConfigError("enableUpdateCatalog needs setCatalogInfo(catalogDatabase, catalogTableName)")
            self._ctx.update_catalog_after_write(
                data_frame, *self._catalog_target, self._options, self._format, self._update_behavior
            )


class DynamicFrameReader:
    """``glueContext.create_dynamic_frame``."""

    def __init__(self, ctx: GlueContext) -> None:
        self._ctx = ctx

    def from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self._ctx.create_dynamic_frame_from_options(*args, **kwargs)

    def from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self._ctx.create_dynamic_frame_from_catalog(*args, **kwargs)


class DynamicFrameWriter:
    """``glueContext.write_dynamic_frame``."""

    def __init__(self, ctx: GlueContext) -> None:
        self._ctx = ctx

    def from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self._ctx.write_dynamic_frame_from_options(*args, **kwargs)

    def from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self._ctx.write_dynamic_frame_from_catalog(*args, **kwargs)


class DataFrameReader:
    """``glueContext.create_data_frame``."""

    def __init__(self, ctx: GlueContext) -> None:
        self._ctx = ctx

    def from_options(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self._ctx.create_data_frame_from_options(*args, **kwargs)

    def from_catalog(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self._ctx.create_data_frame_from_catalog(*args, **kwargs)


class DataFrameWriter:
    """``glueContext.write_data_frame``."""

    def __init__(self, ctx: GlueContext) -> None:
        self._ctx = ctx

    def from_options(self, *args: Any, **kwargs: Any) -> writer.WriteResult | None:
        return self._ctx.write_data_frame_from_options(*args, **kwargs)
