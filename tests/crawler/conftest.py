"""Crawler fixtures: a fresh SQLite catalog per test (helpers to write real files are in
``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.catalog import Catalog


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = Catalog(f"sqlite:///{tmp_path}/c.db")
    yield cat
    cat.close()
