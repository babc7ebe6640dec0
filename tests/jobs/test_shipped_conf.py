"""Every spec shipped in conf/ loads: what `make demo` and the README point users at is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.config import load_yaml
from etl.crawler.spec import CrawlerSpec
from etl.jobs.definition import load_job_file
from etl.jobs.spec import load_spec
from etl.jobs.workflow_spec import load_workflow

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("path", sorted((CONF / "jobs").glob("*.yaml")), ids=lambda p: p.name)
def test_job_files_load(path: Path) -> None:
    definition = load_job_file(path)
    spec = load_spec(path, {"input_path": "/in", "output_path": "/out"})
    assert definition.name == path.stem
    assert spec.sinks, f"{path.name} writes nothing"


@pytest.mark.parametrize("path", sorted((CONF / "crawlers").glob("*.yaml")), ids=lambda p: p.name)
def test_crawler_specs_load(path: Path) -> None:
    assert load_yaml(path, CrawlerSpec).name == path.stem


def test_the_demo_workflow_crawls_then_runs_the_dedupe_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONF.parent)  # node paths are relative to the repository root
    workflow = load_workflow(CONF / "workflows" / "demo_pipeline.yaml")
    assert workflow.name == "demo_pipeline"
    spec = load_spec(CONF / "jobs" / "dedupe_customers.yaml", {"output_path": "/out"})
    assert [s.transform for s in spec.steps] == ["ResolveChoice", "ApplyMapping", "Filter", "FindMatches"]
    assert spec.sources["signups"].catalog is not None
    assert {s.format for s in spec.sinks.values()} == {"parquet", "delta"}
