"""Shared fixtures: one lazily built SparkSession for the whole run (local[2], UI off, two
shuffle partitions), with the catalog home and warehouse under pytest's temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def etl_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("etl_home")
    os.environ["ETL_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def spark(etl_home: Path) -> Iterator:
    from etl.session import get_session

    session = get_session("etl-tests", master="local[2]", testing=True)
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _clean_spark_state(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "spark" in request.fixturenames:
        session = request.getfixturevalue("spark")
        session.catalog.clearCache()
        for table in session.catalog.listTables():
            if table.isTemporary:
                session.catalog.dropTempView(table.name)


@pytest.fixture(scope="session")
def glue(spark):
    from etl.context import GlueContext

    return GlueContext(spark)
