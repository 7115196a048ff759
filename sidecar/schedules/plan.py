"""What to do with one schedule at one moment: pure functions of its state and the time.

No I/O, no clock, no anyio: the scheduler reads the time, asks :func:`plan`, writes the
decision to the state store in one transaction and only then acts on it, so the rules can
be tested with plain numbers (tests/unit/test_schedule_plan.py).

The rules, for the due times in ``[cursor, now]`` (``cursor``: the next due time not yet
handled):

* none: nothing to do;
* the scheduler was awake for them (``gap`` None): **one** firing stands for all of them
  (more than one only when the loop was held up; a burst is never sent), outcome
  ``submitted``;
* they passed while no sidecar ran (``gap`` offline: the first look after a start) or while
  the machine slept or the wall clock jumped forward (``gap`` asleep): the ``missed`` policy
  decides: ``skip`` records one skipped firing with their count, ``catch_up`` one firing,
  outcome ``caught_up``, whatever their count;
* a firing whose previous job is still queued or running (``busy``): ``overlap`` skip
  records it skipped (reason overlap); ``queue`` lets it wait for that job (``waiting``);
  at most one waits, a later one is skipped (reason overlap);
* a waiting firing goes as soon as the previous job has ended, merged with whatever came
  due meanwhile; one a stopped sidecar left waiting counts as offline at the next start.

Paused schedules are not planned at all; :func:`plan_resume` accounts for their due times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from sidecar.schedules.messages import Missed, Outcome, Overlap, Reason
from sidecar.schedules.triggers import CompiledTrigger

#: Why due times were missed: no sidecar ran, or the machine slept / the clock jumped.
Gap = Literal["offline", "asleep"]
Action = Literal["fire", "skip", "wait"]


@dataclass(frozen=True)
class Waiting:
    """A firing that waits for the previous firing's job (overlap ``queue``).

    first_ms, due_ms, count: the due times it stands for. outcome: submitted or caught_up.
    reason: None, or why it is a catch-up.
    """

    first_ms: int
    due_ms: int
    count: int
    outcome: Outcome
    reason: Reason | None


@dataclass(frozen=True)
class Slot:
    """What the planner knows of one schedule.

    trigger: its compiled trigger. cursor_ms: the next due time not yet handled (None: never
    due again). enabled: false while paused. missed, overlap: its policies. waiting: the firing
    that waits for the previous job, if any. busy: the previous firing's job is queued or running.
    """

    trigger: CompiledTrigger
    cursor_ms: int | None
    enabled: bool
    missed: Missed
    overlap: Overlap
    waiting: Waiting | None = None
    busy: bool = False


@dataclass(frozen=True)
class Decision:
    """What to do, and the schedule's state after it.

    action: fire (queue the job), skip (record a skipped firing), wait (keep it for later).
    first_ms, due_ms, count: the due times it stands for. outcome: submitted, caught_up or
    skipped. reason: as in the firing record. cursor_ms, waiting: the schedule's new state.
    """

    action: Action
    first_ms: int
    due_ms: int
    count: int
    outcome: Outcome
    reason: Reason | None
    cursor_ms: int | None
    waiting: Waiting | None


def plan(slot: Slot, now_ms: int, gap: Gap | None) -> Decision | None:
    """The decision for ``slot`` at ``now_ms``, or None when nothing is due."""
    if not slot.enabled:
        return None
    dues = slot.trigger.dues(slot.cursor_ms, now_ms) if slot.cursor_ms is not None else None
    # A waiting firing comes along when its job has ended, and at a start (its job is gone).
    carried = slot.waiting if slot.waiting is not None and (gap == "offline" or not slot.busy) else None
    if dues is None and carried is None:
        return None
    cursor = slot.trigger.next_after(now_ms) if dues is not None else slot.cursor_ms
    if carried is None:
        assert dues is not None
        first, last, count = dues.first_ms, dues.last_ms, dues.count
        outcome: Outcome = "submitted"
        reason: Reason | None = None
    elif dues is None:
        first, last, count = carried.first_ms, carried.due_ms, carried.count
        outcome, reason = carried.outcome, carried.reason
    else:
        first, last, count = carried.first_ms, dues.last_ms, carried.count + dues.count
        outcome, reason = carried.outcome, carried.reason
    if gap is not None:
        if slot.missed == "skip":
            return Decision("skip", first, last, count, "skipped", gap, cursor, None)
        outcome, reason = "caught_up", gap
    if slot.busy:
        keep = slot.waiting if carried is None else None
        if slot.overlap == "skip" or keep is not None:
            return Decision("skip", first, last, count, "skipped", "overlap", cursor, keep)
        return Decision(
            "wait", first, last, count, outcome, reason, cursor, Waiting(first, last, count, outcome, reason)
        )
    return Decision("fire", first, last, count, outcome, reason, cursor, None)


def plan_resume(slot: Slot, now_ms: int) -> tuple[int | None, Decision | None]:
    """Resuming a paused schedule: it is next due after ``now_ms`` (the new cursor, returned
    first); the due times it had since the pause are one skipped firing (reason paused), or
    None when none came due meanwhile."""
    cursor = slot.trigger.next_after(now_ms)
    dues = slot.trigger.dues(slot.cursor_ms, now_ms) if slot.cursor_ms is not None else None
    if dues is None:
        return cursor, None
    return cursor, Decision("skip", dues.first_ms, dues.last_ms, dues.count, "skipped", "paused", cursor, None)


def drop_waiting(slot: Slot) -> Decision | None:
    """Pausing: a firing that waits is dropped, recorded skipped (reason paused)."""
    waiting = slot.waiting
    if waiting is None:
        return None
    return Decision("skip", waiting.first_ms, waiting.due_ms, waiting.count, "skipped", "paused", slot.cursor_ms, None)


def shift(slot: Slot, delta_ms: int) -> Slot:
    """After the wall clock was set back by ``-delta_ms``: an interval schedule keeps its
    period (its anchor and next due time move with the clock); a cron schedule keeps its wall
    times, so the times it already handled are not due again."""
    if slot.trigger.every_ms is None or slot.cursor_ms is None:
        return slot
    return replace(slot, trigger=slot.trigger.shifted(delta_ms), cursor_ms=slot.cursor_ms + delta_ms)
