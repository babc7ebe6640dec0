"""Glue's ``cron(...)`` schedules: parse, compute fire times, and run due items in a loop.

Glue cron has six fields, ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, with
``?`` for "no specific value" and days of week numbered 1-7 from Sunday (or SUN-SAT). It is
translated to croniter's five fields (days 0-6 from Sunday); the year field is checked on top.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from etl.errors import ConfigError

_CRON = re.compile(r"^\s*cron\((?P<body>[^)]*)\)\s*$", re.IGNORECASE)
_RATE = re.compile(r"^\s*rate\((?P<n>\d+)\s+(?P<unit>minutes?|hours?|days?)\)\s*$", re.IGNORECASE)


def _shift_dow(field: str) -> str:
    """Glue's 1-7 (Sunday first) -> croniter's 0-6; names and ``?`` pass through."""
    if field in ("?", "*"):
        return "*"

    def shift(match: re.Match[str]) -> str:
        value = int(match.group(0))
        if not 1 <= value <= 7:
            raise ConfigError(f"day-of-week {value} out of range 1-7 in Glue cron")
        return str(value - 1)

    # Only numbers that are days (not the N of '#N' or step '/N').
    shifted = re.sub(r"(?<![#/\d])\d+(?!\d)", shift, field)
    # Glue writes "last Friday" as 6L; croniter as L5.
    return re.sub(r"\b(\d)L\b", r"L\1", shifted)


@dataclass(frozen=True)
class Schedule:
    """A parsed ``cron(...)`` or ``rate(...)`` expression."""

    expression: str
    cron: str | None = None  # croniter expression
    years: str | None = None  # Glue's year field
    every: timedelta | None = None  # for rate(...)

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        """Raises ConfigError naming the expression when it is not valid."""
        rate = _RATE.match(expression)
        if rate:
            n, unit = int(rate.group("n")), rate.group("unit").lower().rstrip("s")
            return cls(expression, every=timedelta(**{f"{unit}s": n}))
        match = _CRON.match(expression)
        if not match:
            raise ConfigError(f"schedule {expression!r} must be cron(...) or rate(...)")
        fields = match.group("body").split()
        if len(fields) != 6:
            raise ConfigError(f"schedule {expression!r}: Glue cron needs 6 fields "
                              "(minutes hours day-of-month month day-of-week year)")
        minutes, hours, dom, month, dow, year = fields
        if dom != "?" and dow != "?":
            raise ConfigError(f"schedule {expression!r}: one of day-of-month and day-of-week must be '?'")
        cron = " ".join([minutes, hours, "*" if dom == "?" else dom, month, _shift_dow(dow)])
        if not croniter.is_valid(cron):
            raise ConfigError(f"schedule {expression!r} is not a valid cron expression")
        return cls(expression, cron=cron, years=None if year in ("*", "?") else year)

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment``."""
        if self.every is not None:
            return moment + self.every
        assert self.cron is not None
        it = croniter(self.cron, moment)
        for _ in range(10_000):
            candidate = it.get_next(datetime)
            if self._year_ok(candidate.year):
                return candidate
        raise ConfigError(f"schedule {self.expression!r} never fires")

    def _year_ok(self, year: int) -> bool:
        if self.years is None:
            return True
        for part in self.years.split(","):
            if "-" in part:
                low, high = part.split("-", 1)
                if int(low) <= year <= int(high):
                    return True
            elif int(part) == year:
                return True
        return False


@dataclass
class ScheduledItem:
    """Something to run on a schedule (a crawler, a job, a workflow trigger)."""

    name: str
    schedule: Schedule
    run: Callable[[], object]


def run_loop(
    items: Iterable[ScheduledItem],
    *,
    max_runs: int | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    on_run: Callable[[str, datetime, object], None] | None = None,
) -> int:
    """Fire each item at its times until stopped (or ``max_runs`` runs); returns runs made.

    Items run one at a time in this process, so a run that is still going is never started a
    second time; a fire time missed while another item ran is run once, late, not repeated.
    """
    items = list(items)
    if not items:
        raise ConfigError("nothing to schedule: no item has a schedule")
    due = {item.name: item.schedule.next_after(now()) for item in items}
    runs = 0
    while max_runs is None or runs < max_runs:
        item = min(items, key=lambda i: due[i.name])
        wait = (due[item.name] - now()).total_seconds()
        if wait > 0:
            sleep(wait)
        fired = due[item.name]
        result = item.run()
        runs += 1
        if on_run:
            on_run(item.name, fired, result)
        due[item.name] = item.schedule.next_after(max(now(), fired))
    return runs
