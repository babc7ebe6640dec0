from datetime import UTC, datetime, timedelta

import pytest

from etl.errors import ConfigError
from etl.schedule import Schedule, ScheduledItem, run_loop

START = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 12 * * ? *)", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("cron(15 10 ? * 6L 2026-2027)", datetime(2026, 12, 25, 10, 15, tzinfo=UTC)),  # last Friday
        ("cron(0 9 ? * 2#1 *)", datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),  # first Monday
        ("cron(0 9 ? * 2-6 *)", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),  # next weekday morning
        ("cron(0 9 ? * 1,7 2030)", datetime(2030, 1, 5, 9, 0, tzinfo=UTC)),  # weekend, year field
        ("cron(0/5 8-17 ? * MON-FRI *)", datetime(2026, 11, 27, 15, 5, tzinfo=UTC)),
        ("rate(2 hours)", START + timedelta(hours=2)),
    ],
)
def test_next_fire_time(expression: str, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(START) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 12 * * *", "must be cron"),
        ("cron(0 12 * * *)", "6 fields"),
        ("cron(0 12 1 * 2 *)", "must be '?'"),
        ("cron(0 12 ? * 9 *)", "out of range"),
        ("cron(99 12 * * ? *)", "not a valid"),
    ],
)
def test_bad_expressions_name_the_problem(expression: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Schedule.parse(expression)


def test_loop_fires_in_time_order_and_never_overlaps() -> None:
    clock = [START]
    fired: list[tuple[str, datetime]] = []

    def sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    def job(name: str, duration: timedelta):
        def run() -> str:
            fired.append((name, clock[0]))
            clock[0] += duration  # a run longer than its interval must not pile up
            return name
        return run

    items = [
        ScheduledItem("every5", Schedule.parse("rate(5 minutes)"), job("every5", timedelta(minutes=12))),
        ScheduledItem("hourly", Schedule.parse("cron(0 * * * ? *)"), job("hourly", timedelta(minutes=1))),
    ]
    runs = run_loop(items, max_runs=5, now=lambda: clock[0], sleep=sleep)
    assert runs == 5
    assert [name for name, _ in fired] == ["every5"] * 4 + ["hourly"]
    # 16:00 was missed while every5 ran (15:56-16:08): it runs once, late, not twice
    assert fired[4][1] == START + timedelta(minutes=68)
    assert fired[0][1] == START + timedelta(minutes=5)
    # the second run starts only after the first finished (12 minutes later), then 5 minutes on
    assert fired[1][1] == START + timedelta(minutes=22)
    assert all(b[1] >= a[1] for a, b in zip(fired, fired[1:], strict=False))


def test_loop_needs_something_to_run() -> None:
    with pytest.raises(ConfigError, match="nothing to schedule"):
        run_loop([], max_runs=1)
