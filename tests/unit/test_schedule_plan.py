"""The scheduler's rules with plain numbers: what one schedule does at one moment
(sidecar.schedules.plan), and how a look at the two clocks tells a jump (sidecar.schedules.clock)."""

from __future__ import annotations

import pytest

from sidecar.schedules.clock import JUMP_S, ClockWatch
from sidecar.schedules.messages import Trigger
from sidecar.schedules.plan import Slot, Waiting, drop_waiting, plan, plan_resume, shift
from sidecar.schedules.triggers import compile_trigger

S = 1000  # one second in milliseconds
EVERY_10 = compile_trigger(Trigger(every_s=10), 0)  # due at 10 s, 20 s, 30 s, ...


def slot(cursor: int | None = 10 * S, **fields: object) -> Slot:
    base: dict[str, object] = {
        "trigger": EVERY_10,
        "cursor_ms": cursor,
        "enabled": True,
        "missed": "skip",
        "overlap": "skip",
    }
    base.update(fields)
    return Slot(**base)  # type: ignore[arg-type]  # the test's own keyword table


def test_nothing_before_the_due_time() -> None:
    assert plan(slot(), 9_999, None) is None
    assert plan(slot(cursor=None), 10**12, None) is None  # a cron with no further time


def test_an_on_time_due_time_fires_and_moves_on() -> None:
    decision = plan(slot(), 10 * S + 3, None)
    assert decision is not None
    assert (decision.action, decision.outcome, decision.reason, decision.count) == ("fire", "submitted", None, 1)
    assert (decision.first_ms, decision.due_ms, decision.cursor_ms) == (10 * S, 10 * S, 20 * S)


def test_due_times_that_piled_up_while_awake_are_one_firing_not_a_burst() -> None:
    decision = plan(slot(), 34 * S, None)  # 10, 20, 30 passed (the loop was held up)
    assert decision is not None
    assert (decision.action, decision.count, decision.first_ms, decision.due_ms) == ("fire", 3, 10 * S, 30 * S)
    assert decision.cursor_ms == 40 * S


@pytest.mark.parametrize("gap", ["offline", "asleep"])
def test_missed_skip_is_one_skipped_firing_with_the_count(gap: str) -> None:
    decision = plan(slot(), 1000 * S, gap)  # type: ignore[arg-type]
    assert decision is not None
    assert (decision.action, decision.outcome, decision.reason) == ("skip", "skipped", gap)
    assert (decision.count, decision.first_ms, decision.due_ms, decision.cursor_ms) == (100, 10 * S, 1000 * S, 1010 * S)


@pytest.mark.parametrize("gap", ["offline", "asleep"])
def test_missed_catch_up_runs_the_job_once_whatever_the_count(gap: str) -> None:
    decision = plan(slot(missed="catch_up"), 1000 * S, gap)  # type: ignore[arg-type]
    assert decision is not None
    assert (decision.action, decision.outcome, decision.reason, decision.count) == ("fire", "caught_up", gap, 100)


def test_paused_schedules_are_not_planned() -> None:
    assert plan(slot(enabled=False), 1000 * S, None) is None
    assert plan(slot(enabled=False), 1000 * S, "offline") is None


def test_overlap_skip_while_the_previous_job_runs() -> None:
    decision = plan(slot(busy=True), 10 * S, None)
    assert decision is not None
    assert (decision.action, decision.reason, decision.cursor_ms, decision.waiting) == ("skip", "overlap", 20 * S, None)


def test_overlap_queue_waits_once_then_skips() -> None:
    waiting = plan(slot(busy=True, overlap="queue"), 10 * S, None)
    assert waiting is not None and waiting.action == "wait" and waiting.waiting is not None
    assert waiting.waiting == Waiting(10 * S, 10 * S, 1, "submitted", None)
    # The next due time while it still waits: skipped (at most one waits), the waiting one kept.
    again = plan(slot(cursor=20 * S, busy=True, overlap="queue", waiting=waiting.waiting), 20 * S, None)
    assert again is not None and (again.action, again.reason) == ("skip", "overlap")
    assert again.waiting == waiting.waiting


def test_a_waiting_firing_goes_once_the_previous_job_ended() -> None:
    held = Waiting(10 * S, 10 * S, 1, "submitted", None)
    alone = plan(slot(cursor=20 * S, overlap="queue", waiting=held), 15 * S, None)
    assert alone is not None and (alone.action, alone.due_ms, alone.count, alone.cursor_ms) == (
        "fire",
        10 * S,
        1,
        20 * S,
    )
    assert alone.waiting is None
    merged = plan(slot(cursor=20 * S, overlap="queue", waiting=held), 25 * S, None)
    assert merged is not None and (merged.action, merged.first_ms, merged.due_ms, merged.count) == (
        "fire",
        10 * S,
        20 * S,
        2,
    )


def test_a_waiting_firing_left_by_a_stopped_sidecar_counts_as_offline() -> None:
    held = Waiting(10 * S, 10 * S, 1, "submitted", None)
    skip = plan(slot(cursor=20 * S, overlap="queue", waiting=held), 15 * S, "offline")
    assert skip is not None and (skip.action, skip.reason, skip.count, skip.waiting) == ("skip", "offline", 1, None)
    catch_up = plan(slot(cursor=20 * S, overlap="queue", missed="catch_up", waiting=held), 55 * S, "offline")
    assert catch_up is not None
    assert (catch_up.action, catch_up.outcome, catch_up.count, catch_up.first_ms) == ("fire", "caught_up", 5, 10 * S)


def test_a_catch_up_is_a_firing_too_for_the_overlap_policy() -> None:
    decision = plan(slot(missed="catch_up", busy=True), 1000 * S, "offline")
    assert decision is not None and (decision.action, decision.reason, decision.count) == ("skip", "overlap", 100)
    queued = plan(slot(missed="catch_up", busy=True, overlap="queue"), 1000 * S, "offline")
    assert queued is not None and queued.action == "wait"
    assert queued.waiting == Waiting(10 * S, 1000 * S, 100, "caught_up", "offline")


def test_resume_accounts_for_the_paused_due_times_in_one_skipped_firing() -> None:
    cursor, decision = plan_resume(slot(enabled=False), 55 * S)
    assert cursor == 60 * S
    assert decision is not None and (decision.action, decision.reason, decision.count) == ("skip", "paused", 5)
    cursor, nothing = plan_resume(slot(enabled=False), 5 * S)
    assert (cursor, nothing) == (10 * S, None)


def test_pausing_drops_a_waiting_firing_as_skipped_paused() -> None:
    held = Waiting(10 * S, 10 * S, 1, "submitted", None)
    decision = drop_waiting(slot(waiting=held))
    assert decision is not None and (decision.reason, decision.count, decision.waiting) == ("paused", 1, None)
    assert drop_waiting(slot()) is None


def test_a_clock_set_back_moves_interval_schedules_with_it() -> None:
    moved = shift(slot(cursor=20 * S), -3600 * S)
    assert moved.cursor_ms == 20 * S - 3600 * S
    assert moved.trigger.next_after(moved.cursor_ms) == moved.cursor_ms + 10 * S
    daily = compile_trigger(Trigger(cron="0 9 * * *", timezone="UTC"), 0)
    cron_slot = slot(trigger=daily, cursor=daily.next_after(0))
    assert shift(cron_slot, -3600 * S) == cron_slot  # wall times: handled ones are not due again


# ---------------------------------------------------------------- the clock watch


def test_ordinary_slices_are_no_jump() -> None:
    watch = ClockWatch(wall=1000.0, monotonic=50.0)
    assert watch.check(wall=1005.1, monotonic=55.0, planned_s=5.0).forward is False
    assert watch.check(wall=1005.2, monotonic=55.05, planned_s=0.1).backward_ms == 0  # woken early


def test_suspend_where_the_monotonic_clock_stops_is_a_forward_jump() -> None:
    """Linux and macOS: the monotonic clock did not advance while the machine slept."""
    watch = ClockWatch(wall=1000.0, monotonic=50.0)
    assert watch.check(wall=1000.0 + 8 * 3600, monotonic=55.0, planned_s=5.0).forward is True


def test_suspend_where_the_monotonic_clock_counts_it_is_a_forward_jump() -> None:
    """Windows: both clocks advanced, but the 5 s slice ended hours late."""
    watch = ClockWatch(wall=1000.0, monotonic=50.0)
    assert watch.check(wall=1000.0 + 3600, monotonic=50.0 + 3600, planned_s=5.0).forward is True


def test_a_wall_clock_set_forward_is_a_forward_jump_and_back_is_backward() -> None:
    watch = ClockWatch(wall=1000.0, monotonic=50.0)
    assert watch.check(wall=1000.0 + 600, monotonic=51.0, planned_s=1.0).forward is True
    back = watch.check(wall=1600.0 - 3600 + 1, monotonic=52.0, planned_s=1.0)
    assert back.forward is False and back.backward_ms == 3600 * 1000


def test_drift_within_the_tolerance_is_noise() -> None:
    watch = ClockWatch(wall=0.0, monotonic=0.0)
    assert watch.check(wall=1.0 + JUMP_S - 0.5, monotonic=1.0, planned_s=1.0).forward is False
    assert watch.check(wall=1.0 + JUMP_S - 0.5 + 1.0, monotonic=2.0 + JUMP_S - 0.5, planned_s=1.0).forward is False
