"""Due times of a trigger: every N seconds, or a five-field cron expression in an IANA zone.

All times are integer milliseconds since the epoch (UTC), so comparisons are exact and a
due time stored in the state store comes back bit for bit.

* ``every_s``: due at ``anchor + k * every`` (k >= 1), the anchor being when the trigger was
  set. Counting missed due times is arithmetic, so it is exact for any absence.
* cron: parsed and stepped by cronsim (maintained, no dependencies, built on zoneinfo, and
  written to match Debian's cron, DST quirks included), never by hand. Its times are wall
  times in the trigger's zone. Across a DST change that gives (tests/unit/test_schedule_triggers.py):

  - **gap** (the clock springs forward, e.g. 02:00 -> 03:00): a time with a fixed hour and
    minute inside the gap (``30 2 * * *``) is due once, at the first instant after the gap
    (03:00 local); times of a wildcard hour (``*/15 * * * *``) that do not exist are not due;
  - **overlap** (the clock falls back, 02:00-03:00 happens twice): a fixed time
    (``30 2 * * *``) is due once, at its first occurrence; times of a wildcard hour are due
    in both occurrences, since they are real, distinct instants an hour apart.

  cronsim can answer a time before the start when it starts inside the repeated hour; the
  loop in :meth:`CompiledTrigger.next_after` drops such answers, so a due time is never
  earlier than the one before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from sidecar.common.errors import ApplicationError
from sidecar.schedules.messages import Trigger
from sidecar.schedules.zones import load_zone, system_zone_name

#: Missed cron due times are counted up to this many (about half a second of cronsim steps);
#: a longer absence is reported with this count. Interval triggers are always counted exactly.
COUNT_CAP: Final = 100_000
#: Answers not later than the previous one that cronsim may give in a row (from inside a
#: repeated hour), at most; past that the trigger is taken to have no further time.
_STALE_ANSWERS: Final = 16


def invalid_cron(expression: str, detail: str) -> ApplicationError:
    """The refusal of a cron expression (-32000, kind ``invalid_cron``)."""
    return ApplicationError(
        "invalid_cron",
        f"invalid cron expression {expression!r}: {detail}",
        path="$.trigger.cron",
        cron=expression,
        detail=detail,
    )


@dataclass(frozen=True)
class Dues:
    """Due times in a window: the first, the last, and how many (capped for cron at COUNT_CAP)."""

    first_ms: int
    last_ms: int
    count: int


@dataclass(frozen=True)
class CompiledTrigger:
    """A validated trigger ready to compute with.

    trigger: as stored (a cron's zone filled in). anchor_ms: when an interval trigger was set.
    zone: the cron's zone (None for an interval).
    """

    trigger: Trigger
    anchor_ms: int
    zone: ZoneInfo | None = None

    @property
    def every_ms(self) -> int | None:
        """The interval in milliseconds, or None for a cron trigger."""
        return None if self.trigger.every_s is None else self.trigger.every_s * 1000

    def next_after(self, after_ms: int) -> int | None:
        """The first due time strictly after ``after_ms``; None when the cron has no further time."""
        every = self.every_ms
        if every is not None:
            steps = max((after_ms - self.anchor_ms) // every + 1, 1)
            return self.anchor_ms + steps * every
        return next(self._cron_times(after_ms), None)

    def dues(self, from_ms: int, until_ms: int) -> Dues | None:
        """The due times in ``[from_ms, until_ms]``, ``from_ms`` being a due time itself (a
        schedule's next unhandled one); None when it is later than ``until_ms``."""
        if from_ms > until_ms:
            return None
        every = self.every_ms
        if every is not None:
            count = (until_ms - from_ms) // every + 1
            return Dues(from_ms, from_ms + (count - 1) * every, count)
        last, count = from_ms, 1
        for due in self._cron_times(from_ms):
            if due > until_ms or count >= COUNT_CAP:
                break
            last, count = due, count + 1
        return Dues(from_ms, last, count)

    def shifted(self, delta_ms: int) -> CompiledTrigger:
        """An interval trigger moved by ``delta_ms`` (after the wall clock was set back, so it
        keeps its period); a cron trigger as it is (its times are wall times)."""
        if self.every_ms is None:
            return self
        return CompiledTrigger(self.trigger, self.anchor_ms + delta_ms, self.zone)

    def _cron_times(self, after_ms: int) -> Iterator[int]:
        from cronsim import CronSim

        assert self.trigger.cron is not None and self.zone is not None
        start = datetime.fromtimestamp(after_ms / 1000, self.zone)
        times = CronSim(self.trigger.cron, start)
        previous, stale = after_ms, 0
        while True:
            try:
                candidate = next(times)
            except (StopIteration, OverflowError, ValueError):
                return  # past year 9999, or a date that never comes again
            due = int(candidate.timestamp()) * 1000  # cron times are whole minutes
            if due <= previous:
                stale += 1
                if stale > _STALE_ANSWERS:
                    return
                continue
            previous, stale = due, 0
            yield due


def compile_trigger(trigger: Trigger, anchor_ms: int) -> CompiledTrigger:
    """Validate ``trigger`` (``invalid_cron``, ``invalid_timezone``), choosing the system's zone
    for a cron without one. Reads zone files: call it from a worker thread."""
    if trigger.every_s is not None:
        return CompiledTrigger(trigger, anchor_ms)
    assert trigger.cron is not None
    from cronsim import CronSim, CronSimError

    expression = " ".join(trigger.cron.split())
    if len(expression.split(" ")) != 5:
        raise invalid_cron(
            trigger.cron, "a cron expression has five fields: minute hour day-of-month month day-of-week"
        )
    name = trigger.timezone or system_zone_name()
    zone = load_zone(name)
    try:
        CronSim(expression, datetime.fromtimestamp(anchor_ms / 1000, zone))
    except CronSimError as exc:
        raise invalid_cron(trigger.cron, str(exc)) from None
    compiled = CompiledTrigger(Trigger(cron=expression, timezone=name), anchor_ms, zone)
    if compiled.next_after(anchor_ms) is None:
        raise invalid_cron(trigger.cron, "it is never due")
    return compiled
