"""Large crawls classify in worker processes; the result must equal the serial crawl's."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.catalog import Catalog
from etl.crawler import crawler as crawler_module

from .helpers import crawl, write_csv, write_json_lines


def _corpus(root: Path) -> None:
    for day in range(12):
        write_json_lines(root / "events" / f"dt=2024-01-{day + 1:02d}" / "a.json",
                         [{"id": i, "v": i * 0.5} for i in range(5)])
        write_csv(root / "users" / f"dt=2024-01-{day + 1:02d}" / "u.csv",
                  [[i, f"n{i}", i * 2] for i in range(5)], header=["id", "name", "score"])
    (root / "users" / "dt=2024-01-01" / "broken.parquet").write_bytes(b"PAR1" + b"\x00\x01\x02" * 40)


def _snapshot(catalog: Catalog) -> list[tuple]:
    tables = catalog.get_tables("db")["TableList"]
    return [
        (t["Name"], [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]],
         sorted(tuple(p["Values"]) for p in catalog.get_partitions("db", t["Name"])["Partitions"]))
        for t in tables
    ]


def test_parallel_classification_matches_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _corpus(tmp_path / "data")
    serial_catalog = Catalog(f"sqlite:///{tmp_path}/serial.db")
    serial = crawl(serial_catalog, tmp_path / "data")

    monkeypatch.setattr(crawler_module, "PARALLEL_FROM_FILES", 2)
    calls = []
    real = crawler_module.ProcessPoolExecutor

    def counting(*args, **kwargs):  # the parallel path must really be taken
        calls.append(kwargs.get("max_workers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(crawler_module, "ProcessPoolExecutor", counting)
    monkeypatch.setattr(crawler_module.os, "cpu_count", lambda: 2)
    parallel_catalog = Catalog(f"sqlite:///{tmp_path}/parallel.db")
    parallel = crawl(parallel_catalog, tmp_path / "data")

    assert calls == [2]
    assert (parallel.files_read, parallel.files_skipped) == (serial.files_read, serial.files_skipped)
    assert [(e.path, e.reason) for e in parallel.errors] == [(e.path, e.reason) for e in serial.errors]
    assert _snapshot(parallel_catalog) == _snapshot(serial_catalog)
    assert len(_snapshot(serial_catalog)) == 2
    assert len(serial.errors) == 1 and "broken.parquet" in serial.errors[0].path
