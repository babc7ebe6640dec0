"""The local Glue Data Catalog: SQLite by default, PostgreSQL for a shared one."""

from etl.catalog.store import Catalog

__all__ = ["Catalog"]
