"""Catalog fixtures: every behaviour test runs once per backend, SQLite and PostgreSQL.

PostgreSQL is a real server: ``$ETL_TEST_POSTGRES_URL`` if set, otherwise a temporary cluster
started once per session (see ``tests/pg_server.py``). The session creates one database there and
each test gets a fresh schema of its own in it (pinned via ``search_path`` in the URL). A missing
server fails the tests loudly; it is never skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = str(Path(__file__).resolve().parents[1])  # tests/, home of pg_server.py
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from pg_server import PostgresServer, PostgresUnavailable  # noqa: E402

from etl.catalog import Catalog  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    problem = None
    try:
        server = PostgresServer.from_environment()
    except PostgresUnavailable as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(
            f"PostgreSQL is required for the catalog tests and could not be started:\n{problem}",
            pytrace=False,
        )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a database created for this test session."""
    url = postgres_server.create_database("etl_catalog_tests")
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def catalog_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of an empty catalog database of the test's backend (no schema yet)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_schema(request.getfixturevalue("postgres_database"))
    try:
        yield url
    finally:
        server.drop_schema(url)


@pytest.fixture
def open_catalog(catalog_url: str) -> Iterator[Callable[[], Catalog]]:
    """Opens further Catalog objects (own engine, own connections) on the test's database."""
    opened: list[Catalog] = []

    def open_one() -> Catalog:
        cat = Catalog(catalog_url)
        opened.append(cat)
        return cat

    yield open_one
    for cat in opened:
        cat.close()


@pytest.fixture
def catalog(open_catalog: Callable[[], Catalog]) -> Catalog:
    """A fresh, migrated catalog on the test's backend."""
    return open_catalog()
