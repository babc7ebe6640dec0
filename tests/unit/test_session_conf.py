"""Session defaults that do not need a running Spark."""

from __future__ import annotations

import os

import pytest

from etl.session import local_shuffle_partitions


@pytest.mark.parametrize(
    ("master", "expected"),
    [("local[1]", 2), ("local[4]", 8), ("local[3,2]", 6), ("local[16]", 32)],
)
def test_local_masters_get_two_shuffle_partitions_per_thread(master: str, expected: int) -> None:
    assert local_shuffle_partitions(master) == expected


def test_machine_wide_local_masters_count_the_machine_cores() -> None:
    expected = max(2, 2 * (os.cpu_count() or 1))
    assert local_shuffle_partitions("local") == expected
    assert local_shuffle_partitions("local[*]") == expected
    assert local_shuffle_partitions("local-cluster[2,1,1024]") == expected
