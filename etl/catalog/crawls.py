"""Crawler definitions, crawl runs and crawled-file state, in the catalog database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select

from etl.catalog.models import CrawledFileRow, CrawlerRow, CrawlRunRow
from etl.catalog.store import Catalog, _iso
from etl.errors import EntityNotFoundError


@dataclass(frozen=True)
class CrawledFile:
    path: str
    folder: str
    size: int
    mtime: float
    table_name: str | None


def _now() -> datetime:
    return datetime.now(UTC)


class CrawlStore:
    """Crawler bookkeeping beside the Glue tables (same database, own tables)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._session = catalog._session  # one transaction per call, like the catalog

    def put_crawler(self, name: str, spec: dict[str, Any]) -> None:
        with self._session() as s:
            row = s.get(CrawlerRow, name)
            if row is None:
                s.add(CrawlerRow(name=name, spec=spec, state="READY", create_time=_now(), update_time=_now()))
            else:
                row.spec, row.update_time = spec, _now()

    def get_crawler(self, name: str) -> dict[str, Any]:
        with self._session() as s:
            row = s.get(CrawlerRow, name)
            if row is None:
                raise EntityNotFoundError(f"crawler {name} not found")
            return {"Name": row.name, "State": row.state, "Spec": row.spec,
                    "CreationTime": _iso(row.create_time), "LastUpdated": _iso(row.update_time)}

    def list_crawlers(self) -> list[str]:
        with self._session() as s:
            return list(s.scalars(select(CrawlerRow.name).order_by(CrawlerRow.name)))

    def start_run(self, crawler: str) -> int:
        with self._session() as s:
            run = CrawlRunRow(crawler_name=crawler, state="RUNNING", start_time=_now(), tables_created=0,
                              tables_updated=0, tables_deleted=0, partitions_added=0, partitions_deleted=0,
                              files_read=0, files_skipped=0, errors=[], summary={})
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, *, state: str, message: str | None = None, **counts: Any) -> None:
        with self._session() as s:
            run = s.get(CrawlRunRow, run_id)
            if run is None:
                raise EntityNotFoundError(f"crawl run {run_id} not found")
            run.state, run.message, run.end_time = state, message, _now()
            start = run.start_time if run.start_time.tzinfo else run.start_time.replace(tzinfo=UTC)
            run.duration_seconds = (run.end_time - start).total_seconds()
            for key, value in counts.items():
                setattr(run, key, value)

    def runs(self, crawler: str, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first, in Glue's GetCrawlerMetrics-like shape."""
        with self._session() as s:
            rows = s.scalars(select(CrawlRunRow).where(CrawlRunRow.crawler_name == crawler)
                             .order_by(CrawlRunRow.id.desc()).limit(limit)).all()
            return [_run_shape(r) for r in rows]

    def crawled_files(self, crawler: str) -> dict[str, CrawledFile]:
        columns = (CrawledFileRow.path, CrawledFileRow.folder, CrawledFileRow.size, CrawledFileRow.mtime,
                   CrawledFileRow.table_name)
        with self._session() as s:  # plain rows, not ORM objects: a re-crawl loads thousands
            rows = s.execute(select(*columns).where(CrawledFileRow.crawler_name == crawler)).all()
            return {r[0]: CrawledFile(*r) for r in rows}

    def record_files(self, crawler: str, files: Iterable[CrawledFile], *, replace: bool) -> None:
        """Remember what this crawl read; ``replace`` forgets files not seen this time."""
        rows = [{"crawler_name": crawler, "path": f.path, "folder": f.folder, "size": f.size,
                 "mtime": f.mtime, "table_name": f.table_name} for f in files]
        with self._session() as s:
            stale = delete(CrawledFileRow).where(CrawledFileRow.crawler_name == crawler)
            if not replace:
                stale = stale.where(CrawledFileRow.path.in_([r["path"] for r in rows]))
            s.execute(stale)
            if rows:
                s.execute(insert(CrawledFileRow), rows)


def _run_shape(r: CrawlRunRow) -> dict[str, Any]:
    return {
        "RunId": r.id, "CrawlerName": r.crawler_name, "State": r.state,
        "StartTime": _iso(r.start_time), "EndTime": _iso(r.end_time) if r.end_time else None,
        "DurationSeconds": r.duration_seconds, "TablesCreated": r.tables_created,
        "TablesUpdated": r.tables_updated, "TablesDeleted": r.tables_deleted,
        "PartitionsAdded": r.partitions_added, "PartitionsDeleted": r.partitions_deleted,
        "FilesRead": r.files_read, "FilesSkipped": r.files_skipped, "Errors": r.errors,
        "Summary": r.summary, "Message": r.message,
    }
