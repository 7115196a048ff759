"""Next due times of schedule triggers: every N seconds, cron lists/ranges/steps, month ends,
leap days, and the DST gap and overlap in three zones (two northern, one southern).

Plain values in, plain values out: ``compile_trigger`` and ``CompiledTrigger`` compute with
integer milliseconds since the epoch; the zones come from zoneinfo (the system database, or
the tzdata package where there is none).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from sidecar.common.errors import ApplicationError
from sidecar.schedules.messages import Trigger
from sidecar.schedules.triggers import COUNT_CAP, CompiledTrigger, compile_trigger


def ms(text: str) -> int:
    """An ISO time with an offset (or Z) as epoch milliseconds."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def iso(value: int) -> str:
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cron(expression: str, zone: str = "UTC", anchor: str = "2025-01-01T00:00:00Z") -> CompiledTrigger:
    return compile_trigger(Trigger(cron=expression, timezone=zone), ms(anchor))


def upcoming(trigger: CompiledTrigger, after: str, count: int) -> list[str]:
    """The next ``count`` due times after ``after``, as UTC ISO strings."""
    times, at = [], ms(after)
    for _ in range(count):
        due = trigger.next_after(at)
        assert due is not None
        times.append(iso(due))
        at = due
    return times


# ---------------------------------------------------------------- every N seconds


def test_every_n_seconds_counts_from_its_anchor() -> None:
    anchor = ms("2025-01-01T00:00:00.250Z")
    trigger = compile_trigger(Trigger(every_s=90), anchor)
    assert trigger.next_after(anchor) == anchor + 90_000
    assert trigger.next_after(anchor + 89_999) == anchor + 90_000
    assert trigger.next_after(anchor + 90_000) == anchor + 180_000  # strictly after
    assert trigger.next_after(anchor - 10_000_000) == anchor + 90_000  # never before the first
    assert trigger.next_after(anchor + 3_600_000) == anchor + 3_690_000


def test_every_n_seconds_counts_missed_due_times_exactly() -> None:
    anchor = 1_000_000
    trigger = compile_trigger(Trigger(every_s=1), anchor)
    first = anchor + 1000
    dues = trigger.dues(first, first + 2_500)
    assert dues is not None and (dues.first_ms, dues.last_ms, dues.count) == (first, first + 2000, 3)
    year = trigger.dues(first, first + 366 * 86_400_000)
    assert year is not None and year.count == 366 * 86_400 + 1  # exact: no cap for intervals
    assert trigger.dues(first, first - 1) is None


def test_an_interval_shifted_with_the_clock_keeps_its_period() -> None:
    trigger = compile_trigger(Trigger(every_s=60), 0)
    moved = trigger.shifted(-3_600_000)
    assert moved.next_after(0) == 60_000  # the grid moved by a whole hour: still on the minute
    assert compile_trigger(Trigger(every_s=7), 0).shifted(-1500).next_after(0) == 5500


# ---------------------------------------------------------------- cron fields


def test_cron_lists_ranges_and_steps() -> None:
    assert upcoming(cron("0,30 9 * * *"), "2025-01-01T00:00:00Z", 3) == [
        "2025-01-01T09:00:00Z",
        "2025-01-01T09:30:00Z",
        "2025-01-02T09:00:00Z",
    ]
    assert upcoming(cron("*/20 8-9 * * *"), "2025-01-01T08:50:00Z", 4) == [
        "2025-01-01T09:00:00Z",
        "2025-01-01T09:20:00Z",
        "2025-01-01T09:40:00Z",
        "2025-01-02T08:00:00Z",
    ]
    # 2025-01-03 is a Friday: MON-FRI skips the weekend.
    assert upcoming(cron("15 7 * * MON-FRI"), "2025-01-03T08:00:00Z", 2) == [
        "2025-01-06T07:15:00Z",
        "2025-01-07T07:15:00Z",
    ]
    # Steps over a range, month names, the second Monday.
    assert upcoming(cron("0 0 1-10/3 JAN,MAR *"), "2025-01-01T00:00:00Z", 5) == [
        "2025-01-04T00:00:00Z",
        "2025-01-07T00:00:00Z",
        "2025-01-10T00:00:00Z",
        "2025-03-01T00:00:00Z",
        "2025-03-04T00:00:00Z",
    ]
    assert upcoming(cron("0 12 * * MON#2"), "2025-01-01T00:00:00Z", 2) == [
        "2025-01-13T12:00:00Z",
        "2025-02-10T12:00:00Z",
    ]


def test_cron_month_ends() -> None:
    # The 31st exists in seven months only; L is the last day of every month.
    assert upcoming(cron("0 0 31 * *"), "2025-01-31T12:00:00Z", 3) == [
        "2025-03-31T00:00:00Z",
        "2025-05-31T00:00:00Z",
        "2025-07-31T00:00:00Z",
    ]
    assert upcoming(cron("0 0 L * *"), "2025-01-31T12:00:00Z", 3) == [
        "2025-02-28T00:00:00Z",
        "2025-03-31T00:00:00Z",
        "2025-04-30T00:00:00Z",
    ]
    assert upcoming(cron("0 0 L 2 *"), "2027-03-01T00:00:00Z", 2) == ["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"]


def test_cron_leap_days() -> None:
    assert upcoming(cron("0 6 29 2 *"), "2025-01-01T00:00:00Z", 3) == [
        "2028-02-29T06:00:00Z",
        "2032-02-29T06:00:00Z",
        "2036-02-29T06:00:00Z",
    ]
    # 2100 is not a leap year: from 2096 the next is 2104.
    assert upcoming(cron("0 0 29 2 *"), "2096-03-01T00:00:00Z", 1) == ["2104-02-29T00:00:00Z"]


def test_cron_times_are_read_in_the_trigger_zone() -> None:
    assert upcoming(cron("0 9 * * *", "Asia/Tokyo"), "2025-06-01T00:00:00Z", 1) == ["2025-06-02T00:00:00Z"]
    assert upcoming(cron("0 9 * * *", "America/New_York"), "2025-06-01T00:00:00Z", 1) == ["2025-06-01T13:00:00Z"]
    assert upcoming(cron("0 9 * * *", "America/New_York"), "2025-12-01T00:00:00Z", 1) == ["2025-12-01T14:00:00Z"]
    assert upcoming(cron("30 9 * * *", "Asia/Kolkata"), "2025-06-01T00:00:00Z", 1) == ["2025-06-01T04:00:00Z"]


def test_cron_counts_missed_due_times_up_to_the_cap() -> None:
    hourly = cron("0 * * * *")
    first = ms("2025-01-01T01:00:00Z")
    day = hourly.dues(first, ms("2025-01-02T00:30:00Z"))
    assert day is not None and (day.count, iso(day.last_ms)) == (24, "2025-01-02T00:00:00Z")
    every_minute = cron("* * * * *")
    long = every_minute.dues(ms("2025-01-01T00:01:00Z"), ms("2026-01-01T00:00:00Z"))
    assert long is not None and long.count == COUNT_CAP


# ---------------------------------------------------------------- DST: the gap (spring forward)


@pytest.mark.parametrize(
    ("zone", "day", "gap_starts_utc", "after_gap_utc"),
    [
        # Berlin 2025-03-30: 02:00 CET -> 03:00 CEST (01:00 UTC).
        ("Europe/Berlin", "2025-03-30", "2025-03-30T01:00:00Z", "2025-03-30T01:00:00Z"),
        # New York 2025-03-09: 02:00 EST -> 03:00 EDT (07:00 UTC).
        ("America/New_York", "2025-03-09", "2025-03-09T07:00:00Z", "2025-03-09T07:00:00Z"),
        # Sydney 2025-10-05: 02:00 AEST -> 03:00 AEDT (16:00 UTC the day before).
        ("Australia/Sydney", "2025-10-05", "2025-10-04T16:00:00Z", "2025-10-04T16:00:00Z"),
    ],
)
def test_dst_gap_a_fixed_time_inside_it_is_due_once_right_after(
    zone: str, day: str, gap_starts_utc: str, after_gap_utc: str
) -> None:
    """02:30 does not exist that night: due once, at 03:00 local (the first instant after the
    gap), then at 02:30 again the next day (Debian cron's rule)."""
    trigger = cron("30 2 * * *", zone)
    start = ms(gap_starts_utc) - 3 * 3_600_000
    first, second = upcoming(trigger, iso(start), 2)
    assert first == after_gap_utc
    local = datetime.fromtimestamp(ms(second) / 1000, trigger.zone)
    assert (local.hour, local.minute) == (2, 30) and local.date().isoformat() > day


@pytest.mark.parametrize(
    ("zone", "before_gap_utc"),
    [
        ("Europe/Berlin", "2025-03-30T00:45:00Z"),  # 01:45 CET
        ("America/New_York", "2025-03-09T06:45:00Z"),  # 01:45 EST
        ("Australia/Sydney", "2025-10-04T15:45:00Z"),  # 01:45 AEST
    ],
)
def test_dst_gap_wildcard_hour_times_that_do_not_exist_are_not_due(zone: str, before_gap_utc: str) -> None:
    """``*/15 * * * *``: 01:45, then 03:00 (02:00-02:45 never happen): 15 real minutes apart."""
    trigger = cron("*/15 * * * *", zone)
    times = upcoming(trigger, iso(ms(before_gap_utc) - 60_000), 3)
    assert times[0] == iso(ms(before_gap_utc))
    assert ms(times[1]) - ms(times[0]) == 15 * 60_000
    assert [datetime.fromtimestamp(ms(t) / 1000, trigger.zone).strftime("%H:%M") for t in times] == [
        "01:45",
        "03:00",
        "03:15",
    ]


# ---------------------------------------------------------------- DST: the overlap (fall back)


@pytest.mark.parametrize(
    ("zone", "first_0230_utc", "next_day_0230_utc"),
    [
        # Berlin 2025-10-26: 03:00 CEST -> 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC.
        ("Europe/Berlin", "2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"),
        # New York 2025-11-02: 02:00 EDT -> 01:00 EST; 01:30 happens at 05:30 and 06:30 UTC.
        ("America/New_York", "2025-11-02T05:30:00Z", "2025-11-03T06:30:00Z"),
        # Sydney 2026-04-05: 03:00 AEDT -> 02:00 AEST; 02:30 happens at 15:30 and 16:30 UTC (Apr 4).
        ("Australia/Sydney", "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"),
    ],
)
def test_dst_overlap_a_fixed_time_is_due_once_at_its_first_occurrence(
    zone: str, first_0230_utc: str, next_day_0230_utc: str
) -> None:
    """The repeated wall time is due once: its first occurrence; the next one is a day later."""
    expression = "30 1 * * *" if zone == "America/New_York" else "30 2 * * *"
    trigger = cron(expression, zone)
    assert upcoming(trigger, iso(ms(first_0230_utc) - 3_600_000), 2) == [first_0230_utc, next_day_0230_utc]
    # Also when computed from inside the repeated hour (cronsim would answer the first
    # occurrence, which is already past: it is dropped, never a time before the start).
    inside_second_pass = ms(first_0230_utc) + 3_600_000 - 20 * 60_000
    assert upcoming(trigger, iso(inside_second_pass), 1) == [next_day_0230_utc]


@pytest.mark.parametrize(
    ("zone", "first_pass_utc"),
    [
        ("Europe/Berlin", "2025-10-26T00:00:00Z"),  # 02:00 CEST
        ("America/New_York", "2025-11-02T05:00:00Z"),  # 01:00 EDT
        ("Australia/Sydney", "2026-04-04T15:00:00Z"),  # 02:00 AEDT
    ],
)
def test_dst_overlap_wildcard_hour_times_are_due_in_both_passes(zone: str, first_pass_utc: str) -> None:
    """``*/30 * * * *`` across the repeated hour: every real half hour, the wall times twice."""
    trigger = cron("*/30 * * * *", zone)
    times = upcoming(trigger, iso(ms(first_pass_utc) - 60_000), 5)
    gaps = {ms(b) - ms(a) for a, b in itertools.pairwise(times)}
    assert gaps == {30 * 60_000}
    walls = [datetime.fromtimestamp(ms(t) / 1000, trigger.zone).strftime("%H:%M") for t in times]
    assert walls[:4] == walls[:2] * 2  # e.g. 02:00 02:30 02:00 02:30 (then 03:00)


def test_dst_overlap_dues_are_never_counted_twice() -> None:
    """Counting the due times of a night with an overlap: the fixed 02:30 counts once."""
    trigger = cron("30 2 * * *", "Europe/Berlin")
    night = trigger.dues(ms("2025-10-26T00:30:00Z"), ms("2025-10-26T05:00:00Z"))
    assert night is not None and night.count == 1


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ("* * * *", "five fields"),
        ("* * * * * *", "five fields"),  # cronsim takes seconds; the protocol's cron has five fields
        ("@daily", "five fields"),
        ("61 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("0 0 30 2 *", "day-of-month"),
        ("0 0 * * FUNDAY", "day-of-week"),
    ],
)
def test_bad_cron_expressions_are_refused_with_invalid_cron(expression: str, detail: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        cron(expression)
    assert refused.value.kind == "invalid_cron"
    assert refused.value.data["path"] == "$.trigger.cron" and refused.value.data["cron"] == expression
    assert detail in refused.value.message.lower()


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "Europe/"])
def test_unknown_zones_are_refused_with_invalid_timezone(zone: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        cron("0 9 * * *", zone)
    assert refused.value.kind == "invalid_timezone"
    assert refused.value.data["path"] == "$.trigger.timezone" and refused.value.data["timezone"] == zone


def test_a_cron_without_a_zone_takes_the_system_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Denver")
    trigger = cron_without_zone("0 9 * * *")
    assert trigger.trigger.timezone == "America/Denver"
    assert upcoming(trigger, "2025-06-01T00:00:00Z", 1) == ["2025-06-01T15:00:00Z"]


def test_cron_whitespace_is_normalised() -> None:
    assert cron("  0   9 * *  *  ").trigger.cron == "0 9 * * *"


def cron_without_zone(expression: str) -> CompiledTrigger:
    return compile_trigger(Trigger(cron=expression), ms("2025-01-01T00:00:00Z"))
