"""Custom classifiers (Glue's CreateClassifier shapes) listed in a crawler's Classifiers run
before the built-ins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.errors import ConfigError

from .helpers import columns, crawl, spec_of, table, write_csv

APP_LOG_LINES = [
    f"2024-03-0{i}T10:15:0{i}Z|{level}|worker-{i}|{status}|{i * 17}|GET /api/items/{i}"
    for i, (level, status) in enumerate(
        [
            ("INFO", 200),
            ("WARN", 404),
            ("INFO", 201),
            ("ERROR", 500),
            ("INFO", 200),
            ("DEBUG", 304),
        ],
        start=1,
    )
]
APP_LOG = {
    "GrokClassifier": {
        "Name": "app_log",
        "Classification": "app_log",
        "GrokPattern": r"%{TIMESTAMP_ISO8601:ts}\|%{LOGLEVEL:level}\|%{WORKER:worker}\|"
        r"%{INT:status:int}\|%{INT:latency_ms:long}\|%{GREEDYDATA:request}",
        "CustomPatterns": "WORKER worker-%{POSINT}",
    }
}


def _write_app_log(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.log").write_text("\n".join(APP_LOG_LINES) + "\n")


def test_builtin_classifiers_see_the_custom_log_as_pipe_csv(catalog, tmp_path: Path):
    root = tmp_path / "applog"
    _write_app_log(root)

    result = crawl(catalog, root)

    assert result.plans[0].files[0].classification.classifier == "csv"
    t = table(catalog, "applog")
    assert t["Parameters"]["classification"] == "csv"
    assert list(columns(t)) == [f"col{i}" for i in range(6)]


def test_custom_grok_classifier_wins_and_types_its_fields(catalog, tmp_path: Path):
    root = tmp_path / "applog"
    _write_app_log(root)

    result = crawl(catalog, root, Classifiers=["app_log"], CustomClassifiers=[APP_LOG])

    verdict = result.plans[0].files[0].classification
    assert verdict.classifier == "app_log" and verdict.certainty == 1.0
    t = table(catalog, "applog")
    assert t["Parameters"]["classification"] == "app_log"
    assert columns(t) == {
        "ts": "string",
        "level": "string",
        "worker": "string",
        "status": "int",
        "latency_ms": "bigint",
        "request": "string",
    }
    assert t["Parameters"]["grokPattern"] == APP_LOG["GrokClassifier"]["GrokPattern"]
    assert t["Parameters"]["recordCount"] == str(len(APP_LOG_LINES))
    serde = t["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "com.amazonaws.glue.serde.GrokSerDe"
    assert serde["Parameters"]["input.grokCustomPatterns"] == "WORKER worker-%{POSINT}"


def test_a_defined_but_unlisted_classifier_is_not_used(catalog, tmp_path: Path):
    root = tmp_path / "applog"
    _write_app_log(root)

    crawl(catalog, root, CustomClassifiers=[APP_LOG])

    assert table(catalog, "applog")["Parameters"]["classification"] == "csv"


def test_custom_grok_that_does_not_match_falls_back_to_builtins(catalog, tmp_path: Path):
    root = tmp_path / "applog"
    _write_app_log(root)
    other = {
        "GrokClassifier": {
            "Name": "kv",
            "Classification": "kv",
            "GrokPattern": "%{WORD:k}=%{INT:v:int}",
        }
    }

    crawl(catalog, root, Classifiers=["kv"], CustomClassifiers=[other])

    assert table(catalog, "applog")["Parameters"]["classification"] == "csv"


def test_custom_csv_classifier_with_header_present_on_all_string_file(catalog, tmp_path: Path):
    root = tmp_path / "cities"
    write_csv(
        root / "cities.csv",
        [["Paris", "France"], ["Lima", "Peru"], ["Oslo", "Norway"]],
        header=["city", "country"],
    )

    builtin = crawl(catalog, root, Name="builtin", DatabaseName="plain")
    assert list(columns(table(catalog, "cities", "plain"))) == ["col0", "col1"]
    assert builtin.plans[0].files[0].classification.parameters["skip.header.line.count"] == "0"

    crawl(
        catalog,
        root,
        Classifiers=["with_header"],
        CustomClassifiers=[
            {
                "CsvClassifier": {
                    "Name": "with_header",
                    "Delimiter": ",",
                    "ContainsHeader": "PRESENT",
                }
            }
        ],
    )

    t = table(catalog, "cities")
    assert columns(t) == {"city": "string", "country": "string"}
    assert t["Parameters"]["skip.header.line.count"] == "1"
    assert t["Parameters"]["recordCount"] == "3"


def test_custom_csv_classifier_with_explicit_header_and_delimiter(catalog, tmp_path: Path):
    root = tmp_path / "feed"
    write_csv(root / "f.txt", [[1, "a", "x"], [2, "b", "y"]], delimiter=";")

    crawl(
        catalog,
        root,
        Classifiers=["semi"],
        CustomClassifiers=[
            {
                "CsvClassifier": {
                    "Name": "semi",
                    "Delimiter": ";",
                    "ContainsHeader": "ABSENT",
                    "Header": ["id", "code", "tag"],
                }
            }
        ],
    )

    t = table(catalog, "feed")
    assert columns(t) == {"id": "bigint", "code": "string", "tag": "string"}
    assert t["Parameters"]["delimiter"] == ";"


XML = """<?xml version="1.0" encoding="UTF-8"?>
<export>
  <meta><generated>2024-05-01</generated><count>3</count></meta>
  <products>
    <product sku="A-1"><name>Lamp</name><price>19.5</price><stock>4</stock></product>
    <product sku="B-2"><name>Desk</name><price>120</price><stock>1</stock></product>
    <product sku="C-3"><name>Chair</name><price>45.25</price><stock>12</stock></product>
  </products>
</export>
"""


def test_custom_xml_row_tag(catalog, tmp_path: Path):
    root = tmp_path / "products"
    root.mkdir()
    (root / "export.xml").write_text(XML)

    builtin = crawl(catalog, root, Name="builtin", DatabaseName="plain")
    assert builtin.plans[0].files[0].classification.parameters["rowTag"] == "export"

    crawl(
        catalog,
        root,
        Classifiers=["rows"],
        CustomClassifiers=[
            {"XMLClassifier": {"Name": "rows", "Classification": "xml", "RowTag": "product"}}
        ],
    )

    t = table(catalog, "products")
    assert t["Parameters"]["classification"] == "xml"
    assert t["Parameters"]["rowTag"] == "product"
    assert columns(t) == {"_sku": "string", "name": "string", "price": "double", "stock": "int"}
    assert t["Parameters"]["recordCount"] == "3"


def test_custom_json_path(catalog, tmp_path: Path):
    root = tmp_path / "api"
    root.mkdir()
    page = {
        "page": 1,
        "data": {
            "items": [{"id": 1, "title": "a", "tags": ["x"]}, {"id": 2, "title": "b", "tags": []}]
        },
    }
    (root / "page1.json").write_text(json.dumps(page, indent=2))

    builtin = crawl(catalog, root, Name="builtin", DatabaseName="plain")
    assert list(columns(table(catalog, "api", "plain"))) == ["page", "data"]
    assert builtin.tables_created == ["api"]

    crawl(
        catalog,
        root,
        Classifiers=["items"],
        CustomClassifiers=[{"JsonClassifier": {"Name": "items", "JsonPath": "$.data.items[*]"}}],
    )

    t = table(catalog, "api")
    assert columns(t) == {"id": "int", "title": "string", "tags": "array<string>"}
    assert t["Parameters"]["jsonPath"] == "$.data.items[*]"
    assert t["Parameters"]["recordCount"] == "2"


def test_custom_classifiers_run_in_the_listed_order(catalog, tmp_path: Path):
    root = tmp_path / "applog"
    _write_app_log(root)
    loose = {
        "GrokClassifier": {
            "Name": "loose",
            "Classification": "anything",
            "GrokPattern": "%{GREEDYDATA:line}",
        }
    }

    crawl(catalog, root, Classifiers=["loose", "app_log"], CustomClassifiers=[APP_LOG, loose])
    assert table(catalog, "applog")["Parameters"]["classification"] == "anything"

    crawl(
        catalog,
        root,
        Name="c2",
        DatabaseName="db2",
        Classifiers=["app_log", "loose"],
        CustomClassifiers=[APP_LOG, loose],
    )
    assert table(catalog, "applog", "db2")["Parameters"]["classification"] == "app_log"


def test_listing_an_undefined_classifier_is_a_config_error():
    with pytest.raises(ConfigError, match="not defined"):
        spec_of("/data", Classifiers=["nope"])


def test_a_bad_custom_classifier_definition_is_a_config_error():
    with pytest.raises(ConfigError, match="GrokPattern"):
        spec_of(
            "/data", CustomClassifiers=[{"GrokClassifier": {"Name": "g", "Classification": "g"}}]
        )
