"""Five-field cron schedules (``minute hour day-of-month month day-of-week``), as a Cron operation
names them: parsed once into the sets of values each field allows, and asked for the tick after a
given time.

The forms are the ones Kubernetes CronJobs accept: ``*``, numbers, ranges ``a-b``, steps ``*/n``
and ``a-b/n``, comma lists, and the shorthands ``@hourly``, ``@daily`` (``@midnight``),
``@weekly``, ``@monthly``, ``@yearly`` (``@annually``). As in cron, when both day fields are
restricted a day matching either counts. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

SHORTHANDS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
              "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
EXAMPLE = "use five fields such as '*/5 * * * *' (every five minutes) or '0 2 * * *' (at 02:00)"
_HORIZON_DAYS = 366 * 5  # a schedule that never matches within this long (Feb 30) is refused


class CronError(ValueError):
    pass


@attrs.frozen
class Schedule:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday (7 is read as 0)
    any_day: bool
    any_weekday: bool

    def _day_matches(self, when: datetime) -> bool:
        weekday = (when.weekday() + 1) % 7
        if self.any_day or self.any_weekday:
            return when.day in self.days and weekday in self.weekdays
        return when.day in self.days or weekday in self.weekdays

    def next_after(self, when: datetime) -> datetime:
        """The first tick strictly after ``when`` (to the minute)."""
        start = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for offset in range(_HORIZON_DAYS):
            current = day + timedelta(days=offset)
            if current.month not in self.months or not self._day_matches(current):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    tick = current.replace(hour=hour, minute=minute)
                    if tick >= start:
                        return tick
        raise CronError(f"schedule {self.text!r} has no tick in {_HORIZON_DAYS // 366} years")

    def ticks_between(self, after: datetime, until: datetime) -> int:
        """How many ticks fall in (after, until]; stops counting at 2 (all a caller needs to know)."""
        count, tick = 0, after
        while count < 2:
            tick = self.next_after(tick)
            if tick > until:
                break
            count += 1
        return count


def _values(part: str, name: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for item in part.split(","):
        body, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name} {item!r}: the step after '/' must be a whole number above 0")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            if not (a.isdigit() and b.isdigit()):
                raise CronError(f"{name} {item!r} is not a range of numbers such as 1-5")
            first, last = int(a), int(b)
        elif body.isdigit():
            first = last = int(body)
            if step_text:
                last = high
        else:
            raise CronError(f"{name} {item!r} is not a number, range or '*'")
        if not (low <= first <= high and low <= last <= high) or first > last:
            raise CronError(f"{name} {item!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


def parse(text: str) -> Schedule:
    """The schedule ``text`` names; CronError saying which field is wrong otherwise."""
    expanded = SHORTHANDS.get(text.strip(), text)
    parts = expanded.split()
    if len(parts) != 5:
        raise CronError(f"{text!r} has {len(parts)} fields, not 5; {EXAMPLE}")
    sets = [_values(part, name, low, high) for part, (name, low, high) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    schedule = Schedule(text, frozenset(sets[0]), frozenset(sets[1]), frozenset(sets[2]), frozenset(sets[3]),
                        weekdays, parts[2] == "*", parts[4] == "*")
    schedule.next_after(datetime(2000, 1, 1))  # refuses a schedule that never fires
    return schedule
