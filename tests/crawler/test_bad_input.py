"""Unreadable files are reported with their path and reason and never stop the crawl; files
Glue ignores are ignored; exclusion globs are honoured."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from etl.catalog.crawls import CrawlStore
from etl.errors import EtlError

from .helpers import columns, crawl, table, table_names, write_json_lines, write_parquet


def test_truncated_and_garbage_files_are_reported_and_the_crawl_goes_on(catalog, tmp_path: Path):
    root = tmp_path / "landing"
    good = write_parquet(root / "orders" / "a.parquet", {"id": list(range(50)), "sku": ["x"] * 50})
    cut = root / "broken" / "b.parquet"
    cut.parent.mkdir(parents=True)
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # real Parquet bytes, cut in half: no footer
    garbage = root / "junk" / "blob.dat"
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(bytes(range(256)) * 8)  # binary, no format's magic
    bad_gzip = root / "zipped" / "c.json.gz"
    bad_gzip.parent.mkdir(parents=True)
    bad_gzip.write_bytes(gzip.compress(b'{"a": 1}\n' * 2000)[:40])  # gzip cut short
    write_json_lines(root / "clicks" / "a.json", [{"page": "home", "ms": 12}])

    result = crawl(catalog, root, Name="landing")

    assert sorted(result.tables_created) == ["clicks", "orders"]
    assert columns(table(catalog, "orders")) == {"id": "bigint", "sku": "string"}
    errors = {e.path: e.reason for e in result.errors}
    assert set(errors) == {str(cut), str(garbage), str(bad_gzip)}
    assert "Parquet" in errors[str(cut)] and "truncated" in errors[str(cut)]
    assert "no classifier matched" in errors[str(garbage)]
    assert "gzip" in errors[str(bad_gzip)]
    assert result.files_read == 2 and result.files_skipped == 3

    [run] = CrawlStore(catalog).runs("landing")
    assert run["State"] == "SUCCEEDED"
    assert run["TablesCreated"] == 2 and run["FilesRead"] == 2
    assert {e["path"]: e["reason"] for e in run["Errors"]} == errors


def test_empty_success_hidden_and_temporary_files_are_ignored(catalog, tmp_path: Path):
    root = tmp_path / "out"
    write_json_lines(root / "part-0.json", [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
    (root / "empty.json").write_text("")
    (root / "_SUCCESS").write_text("")
    (root / "_committed_123").write_text("not data")
    (root / ".part-0.json.crc").write_bytes(b"\x00\x01crc")
    write_json_lines(root / ".hidden" / "x.json", [{"other": 1}])
    write_json_lines(root / "_temporary" / "0" / "task" / "part-9.json", [{"other": 1}])

    result = crawl(catalog, root)

    assert result.errors == []
    assert result.files_read == 1 and result.files_skipped == 0
    assert result.tables_created == ["out"]
    t = table(catalog, "out")
    assert columns(t) == {"id": "int", "v": "string"}
    assert t["PartitionKeys"] == []
    assert t["Parameters"]["objectCount"] == "1"


def test_exclusion_globs_are_honoured(catalog, tmp_path: Path):
    root = tmp_path / "data"
    write_json_lines(root / "orders" / "a.json", [{"id": 1, "v": "a"}])
    write_json_lines(root / "orders" / "a.json.tmp", [{"tmp": True}])
    write_parquet(root / "orders" / "_staging" / "x.parquet", {"z": [1]})
    write_parquet(root / "staging" / "x.parquet", {"z": [1]})
    write_json_lines(root / "users" / "u.json", [{"uid": 1, "name": "n", "age": 30}])
    (root / "users" / "README.md").write_text("# not data\n")

    result = crawl(
        catalog,
        root,
        Targets={
            "S3Targets": [
                {"Path": str(root), "Exclusions": ["**.tmp", "staging/**", "**/README.md"]}
            ]
        },
    )

    assert result.errors == []
    assert sorted(table_names(catalog)) == ["orders", "users"]
    assert result.files_read == 2
    assert table(catalog, "orders")["Parameters"]["objectCount"] == "1"
    assert columns(table(catalog, "orders")) == {"id": "int", "v": "string"}


def test_a_missing_include_path_fails_the_run_and_records_it(catalog, tmp_path: Path):
    with pytest.raises(EtlError, match="not found"):
        crawl(catalog, tmp_path / "nope", Name="missing")
    [run] = CrawlStore(catalog).runs("missing")
    assert run["State"] == "FAILED" and "not found" in run["Message"]
