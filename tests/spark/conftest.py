"""Helpers shared by the Spark-level tests: small inputs written into ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (creating parent folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def sales_df(spark):
    """Six rows over three (year, month) partitions."""
    rows = [
        (1, "a", 10.0, 2024, 1),
        (2, "b", 20.0, 2024, 1),
        (3, "c", 30.0, 2024, 2),
        (4, "d", 40.0, 2024, 2),
        (5, "e", 50.0, 2025, 1),
        (6, "f", 60.0, 2025, 1),
    ]
    return spark.createDataFrame(rows, "id long, name string, amount double, year int, month int")
