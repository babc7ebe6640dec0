"""Helpers for the crawler tests: crawl with a spec, read the catalog back, and write small real
files with real libraries (json, csv, gzip, pyarrow Parquet/ORC, fastavro)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from etl.catalog import Catalog
from etl.config import parse_model
from etl.crawler.crawler import Crawler, CrawlResult
from etl.crawler.spec import CrawlerSpec


def spec_of(
    path: Path | str | Sequence[Path | str], *, name: str = "c", database: str = "db", **extra: Any
) -> CrawlerSpec:
    """A CrawlerSpec (Glue's CreateCrawler shape) over one or more include paths."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    data: dict[str, Any] = {
        "Name": name,
        "DatabaseName": database,
        "Targets": {"S3Targets": [{"Path": str(p)} for p in paths]},
    }
    data.update(extra)
    return parse_model(data, CrawlerSpec)


def crawl(catalog: Catalog, path: Path | str | Sequence[Path | str], **extra: Any) -> CrawlResult:
    return Crawler(spec_of(path, **extra), catalog).run()


def table(catalog: Catalog, name: str, database: str = "db") -> dict[str, Any]:
    return catalog.get_table(database, name)["Table"]


def columns(t: dict[str, Any]) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in t["StorageDescriptor"]["Columns"]}


def table_names(catalog: Catalog, database: str = "db") -> list[str]:
    return [t["Name"] for t in catalog.get_tables(database)["TableList"]]


def partition_values(catalog: Catalog, name: str, database: str = "db") -> list[list[str]]:
    return sorted(p["Values"] for p in catalog.get_partitions(database, name)["Partitions"])


# ----- writers --------------------------------------------------------------------------------
def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_json_lines(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with _parent(path).open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")
    return path


def csv_text(
    rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, delimiter: str = ","
) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_csv(
    path: Path,
    rows: Iterable[Sequence[Any]],
    header: Sequence[str] | None = None,
    delimiter: str = ",",
) -> Path:
    _parent(path).write_text(csv_text(rows, header, delimiter), encoding="utf-8")
    return path


def write_gzip(path: Path, text: str) -> Path:
    with gzip.open(_parent(path), "wt", encoding="utf-8") as fh:
        fh.write(text)
    return path


def write_parquet(path: Path, data: dict[str, list[Any]], schema: Any = None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(data, schema=schema), _parent(path))
    return path


def write_orc(path: Path, data: dict[str, list[Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.orc as orc

    orc.write_table(pa.table(data), str(_parent(path)))
    return path


def write_avro(path: Path, schema: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    import fastavro

    with _parent(path).open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schema), records)
    return path
