"""The scheduler: one loop that fires due schedules, and the operations behind ``schedules.*``.

* Every schedule lives in memory (``_entries``, mirroring the state store), so reads and
  ``system.status`` never wait on the disk; every change is written first and applied in
  memory once written.
* One lock serialises the loop's looks at the clock and the host's changes: a schedule
  never changes half-way through a decision about it.
* The loop sleeps until the next due time, at most ``MAX_SLEEP_S`` at a time, then checks
  the clocks (:mod:`sidecar.schedules.clock`): a forward jump (suspend, clock change) makes
  the due times since the last look missed (reason ``asleep``); a backward one moves
  interval schedules with the clock. Decisions are :func:`sidecar.schedules.plan.plan`'s.
* At start, before the loop runs, one look with gap ``offline`` handles the due times that
  passed while no sidecar ran, so those notifications arrive right after READY (the engine
  starts by itself when a state store exists) without any call from the host.
* A firing that queues a job is written in the job's own transaction (see
  :mod:`sidecar.schedules.store`): both or neither survive a SIGKILL, never a double firing.
* Deleting a schedule leaves the jobs it queued alone (a running one runs to its end).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from sidecar.common.clock import utc_now
from sidecar.common.errors import ApplicationError, ErrorCode, RpcError
from sidecar.common.ids import new_uuid7
from sidecar.jobs.attempts import BOOKKEEPING_ERRORS
from sidecar.jobs.model import JobRecord
from sidecar.jobs.store import InsertHook
from sidecar.schedules.clock import MAX_SLEEP_S, Clock, ClockWatch, SystemClock
from sidecar.schedules.messages import (
    CreateParams,
    DeleteResult,
    Firing,
    JobSpec,
    ScheduleFiredNote,
    ScheduleRecord,
    SchedulerFigures,
    ScheduleSkippedNote,
    UpdateParams,
)
from sidecar.schedules.plan import Decision, Gap, Slot, drop_waiting, plan, plan_resume, shift
from sidecar.schedules.store import NewFiring, ScheduleStore, StoredSchedule, firing_hook, iso_ms
from sidecar.schedules.triggers import CompiledTrigger, compile_trigger

log = logging.getLogger("sidecar.schedules")

#: Schedules one data dir may hold (each is in memory and looked at every slice).
MAX_SCHEDULES: Final = 1000
#: How long stopping waits for a look at the clock in progress to finish.
STOP_WAIT_S: Final = 1.0

Notify = Callable[[str, Any], Awaitable[None]]


class JobQueue(Protocol):
    """What the scheduler needs of the job pool (:class:`sidecar.jobs.pool.JobPool` has it)."""

    finished_observers: list[Callable[[JobRecord], None]]

    def validate(self, type_name: str, payload: dict[str, Any]) -> Any:
        """Check a job type and payload (-32602 at ``$.type`` / ``$.payload...``)."""
        ...

    async def submit(
        self, type_name: str, payload: dict[str, Any], run_id: str | None, *, also: InsertHook | None = None
    ) -> JobRecord:
        """Queue a job; ``also`` writes in the job's own transaction."""
        ...

    def unfinished(self, job_id: str) -> bool:
        """True while the job is queued or running."""
        ...


@dataclass
class _Entry:
    """A schedule in memory. trigger: None when the stored one no longer compiles (a zone that
    left the zone database): the schedule then stays idle and shows no next due time."""

    stored: StoredSchedule
    trigger: CompiledTrigger | None


def not_found(schedule_id: str) -> ApplicationError:
    """-32000 ``schedule_not_found``."""
    return ApplicationError("schedule_not_found", f"no schedule with id {schedule_id}", schedule_id=schedule_id)


class Scheduler:
    """Every schedule of this data dir, and the loop that fires them."""

    def __init__(self, store: ScheduleStore, jobs: JobQueue, notify: Notify, clock: Clock | None = None) -> None:
        self._store = store
        self._jobs = jobs
        self._notify = notify
        self._clock: Clock = clock or SystemClock()
        self._entries: dict[str, _Entry] = {}
        self._lock = anyio.Lock()
        self._wake = anyio.Event()
        self._scope = anyio.CancelScope()
        self.running = False
        self.stopping = False

    # ------------------------------------------------------------ start and stop

    async def start(self, tg: TaskGroup) -> None:
        """Load the schedules, handle what came due while no sidecar ran, start the loop in ``tg``."""
        for stored in await self._store.load():
            self._entries[stored.schedule_id] = _Entry(stored, await self._restore(stored))
        self._jobs.finished_observers.append(self._job_finished)
        async with self._lock:
            await self._look("offline")
        tg.start_soon(self._run)
        self.running = True
        log.info("scheduler started", extra={"ctx": {"schedules": len(self._entries)}})

    async def stop(self) -> None:
        """Stop the loop (after a look in progress, bounded); later changes answer -32002."""
        self.stopping = True
        with anyio.move_on_after(STOP_WAIT_S):
            async with self._lock:
                self._scope.cancel()
        self._scope.cancel()
        self.running = False
        if self._job_finished in self._jobs.finished_observers:
            self._jobs.finished_observers.remove(self._job_finished)

    async def _restore(self, stored: StoredSchedule) -> CompiledTrigger | None:
        try:
            return await anyio.to_thread.run_sync(compile_trigger, stored.trigger, stored.anchor_ms)
        except ApplicationError as exc:
            log.error(
                "schedule's trigger no longer valid: it stays idle until updated",
                extra={"ctx": {"schedule_id": stored.schedule_id, "error": exc.message}},
            )
            return None

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        with self._scope:
            watch = ClockWatch(self._clock.wall(), self._clock.monotonic())
            while True:
                planned = self._sleep_for()
                await self._clock.sleep(planned, self._wake)
                self._wake = anyio.Event()
                jump = watch.check(self._clock.wall(), self._clock.monotonic(), planned)
                async with self._lock:
                    if jump.backward_ms:
                        await self._clock_set_back(jump.backward_ms)
                    await self._look("asleep" if jump.forward else None)

    def _sleep_for(self) -> float:
        """Seconds until the earliest due time (just past it), at most MAX_SLEEP_S."""
        dues = [
            entry.stored.cursor_ms
            for entry in self._entries.values()
            if entry.stored.enabled and entry.trigger is not None and entry.stored.cursor_ms is not None
        ]
        if not dues:
            return MAX_SLEEP_S
        return min(MAX_SLEEP_S, max(0.0, (min(dues) - self._clock.wall() * 1000) / 1000 + 0.001))

    def _job_finished(self, record: JobRecord) -> None:
        """A job ended: a firing waiting for it (overlap queue) can go now."""
        for entry in self._entries.values():
            if entry.stored.waiting is not None and entry.stored.last_job_id == record.job_id:
                self._wake.set()
                return

    async def _look(self, gap: Gap | None) -> None:
        """Decide and act for every schedule at the current wall time."""
        now_ms = self._now_ms()
        for entry in list(self._entries.values()):
            slot = self._slot(entry)
            if slot is None:
                continue
            if gap is None:
                decision = plan(slot, now_ms, gap)
            else:  # after an absence a cron's missed due times are counted: maybe many steps
                decision = await anyio.to_thread.run_sync(plan, slot, now_ms, gap)
            if decision is not None:
                await self._apply(entry, decision)

    async def _clock_set_back(self, back_ms: int) -> None:
        """The wall clock went back: interval schedules move with it (see :func:`plan.shift`)."""
        log.warning("wall clock set back", extra={"ctx": {"ms": back_ms}})
        for entry in list(self._entries.values()):
            slot = self._slot(entry)
            if slot is None or slot.trigger.every_ms is None:
                continue
            moved = shift(slot, -back_ms)
            entry.trigger = moved.trigger
            await self._save(entry, replace(entry.stored, anchor_ms=moved.trigger.anchor_ms, cursor_ms=moved.cursor_ms))

    def _slot(self, entry: _Entry) -> Slot | None:
        if entry.trigger is None:
            return None
        stored = entry.stored
        busy = stored.last_job_id is not None and self._jobs.unfinished(stored.last_job_id)
        return Slot(
            entry.trigger, stored.cursor_ms, stored.enabled, stored.missed, stored.overlap, stored.waiting, busy
        )

    # ------------------------------------------------------------ acting on a decision

    async def _apply(self, entry: _Entry, decision: Decision) -> None:
        after = replace(entry.stored, cursor_ms=decision.cursor_ms, waiting=decision.waiting)
        if decision.action == "wait":
            await self._save(entry, after)
        elif decision.action == "skip":
            await self._skip(entry, after, decision)
        else:
            await self._fire(entry, after, decision)

    async def _skip(
        self, entry: _Entry, after: StoredSchedule, decision: Decision, error: dict[str, Any] | None = None
    ) -> None:
        reason = "error" if error is not None else decision.reason
        assert reason is not None
        after = replace(after, last_due_ms=decision.due_ms, last_outcome="skipped")
        firing = NewFiring(decision.due_ms, decision.first_ms, "skipped", reason, decision.count, error=error)
        await self._save(entry, after, firing)
        log.info(
            "schedule skipped",
            extra={"ctx": {"schedule_id": after.schedule_id, "reason": reason, "count": decision.count}},
        )
        note = ScheduleSkippedNote(
            schedule_id=after.schedule_id,
            due_at=utc(decision.due_ms),
            count=decision.count,
            reason=reason,
            first_due_at=utc(decision.first_ms),
            error=error,
        )
        await self._notify("schedule.skipped", note)

    async def _fire(self, entry: _Entry, after: StoredSchedule, decision: Decision) -> None:
        after = replace(after, last_due_ms=decision.due_ms, last_outcome=decision.outcome)
        firing = NewFiring(decision.due_ms, decision.first_ms, decision.outcome, decision.reason, decision.count)
        try:
            record = await self._submit(after, firing)
        except RpcError as exc:  # queue_full, invalid_pipeline, a payload no longer valid: the firing is skipped
            await self._skip(entry, after, decision, error={"kind": exc.kind, "message": exc.message})
            return
        except BOOKKEEPING_ERRORS as exc:  # the state store refused the job's transaction: nothing was written
            log.error(
                "schedule firing not recorded; its due time counts as missed at the next start",
                extra={"ctx": {"schedule_id": after.schedule_id, "error": str(exc)}},
            )
            entry.stored = after  # in memory only: this due time is not tried again and again
            return
        entry.stored = replace(after, last_job_id=record.job_id)
        log.info(
            "schedule fired",
            extra={"ctx": {"schedule_id": after.schedule_id, "job_id": record.job_id, "outcome": decision.outcome}},
        )
        note = ScheduleFiredNote(
            schedule_id=after.schedule_id,
            due_at=utc(decision.due_ms),
            job_id=record.job_id,
            outcome=decision.outcome,
            count=decision.count,
            first_due_at=utc(decision.first_ms),
            reason=decision.reason,
        )
        await self._notify("schedule.fired", note)

    async def _submit(self, after: StoredSchedule, firing: NewFiring) -> JobRecord:
        job = after.job
        return await self._jobs.submit(job.type, job.payload, None, also=firing_hook(after, firing))

    async def _save(self, entry: _Entry, after: StoredSchedule, firing: NewFiring | None = None) -> None:
        """Write a schedule's new state; when the store cannot take it (a full disk), keep it in
        memory anyway, so a due time is not handled again and again (logged)."""
        try:
            await self._store.save(after, firing)
        except BOOKKEEPING_ERRORS as exc:
            log.error(
                "schedule state not written", extra={"ctx": {"schedule_id": after.schedule_id, "error": str(exc)}}
            )
        entry.stored = after

    # ------------------------------------------------------------ operations (schedules.*)

    async def create(self, params: CreateParams) -> ScheduleRecord:
        """A new schedule, next due after now (nothing before its creation counts as missed)."""
        async with self._changing():
            if len(self._entries) >= MAX_SCHEDULES:
                raise ApplicationError(
                    "schedule_limit", f"at most {MAX_SCHEDULES} schedules per data dir", limit=MAX_SCHEDULES
                )
            now_ms = self._now_ms()
            trigger = await anyio.to_thread.run_sync(compile_trigger, params.trigger, now_ms)
            self._check_job(params.job)
            stamp = utc_now()
            stored = StoredSchedule(
                schedule_id=new_uuid7(),
                name=params.name,
                trigger=trigger.trigger,
                job=params.job,
                missed=params.missed,
                overlap=params.overlap,
                enabled=params.enabled,
                origin="local",
                anchor_ms=now_ms,
                cursor_ms=trigger.next_after(now_ms),
                waiting=None,
                last_due_ms=None,
                last_outcome=None,
                last_job_id=None,
                created_at=stamp,
                updated_at=stamp,
            )
            await self._store.insert(stored)
            self._entries[stored.schedule_id] = _Entry(stored, trigger)
            self._wake.set()
            return self._record(self._entries[stored.schedule_id])

    async def update(self, params: UpdateParams) -> ScheduleRecord:
        """Change a schedule's members; ``enabled`` pauses or resumes it."""
        async with self._changing():
            entry = self._entry(params.schedule_id)
            now_ms = self._now_ms()
            trigger = entry.trigger
            after = entry.stored
            if params.trigger is not None:
                trigger = await anyio.to_thread.run_sync(compile_trigger, params.trigger, now_ms)
                after = replace(after, trigger=trigger.trigger, anchor_ms=now_ms, cursor_ms=trigger.next_after(now_ms))
            if params.job is not None:
                self._check_job(params.job)
            after = replace(
                after,
                name=params.name if params.name is not None else after.name,
                job=params.job if params.job is not None else after.job,
                missed=params.missed if params.missed is not None else after.missed,
                overlap=params.overlap if params.overlap is not None else after.overlap,
                updated_at=utc_now(),
            )
            entry.trigger = trigger
            await self._switch(entry, after, params.enabled, now_ms)
            self._wake.set()
            return self._record(entry)

    async def set_enabled(self, schedule_id: str, enabled: bool) -> ScheduleRecord:
        """Pause (false) or resume (true)."""
        return await self.update(UpdateParams(schedule_id=schedule_id, enabled=enabled))

    async def _switch(self, entry: _Entry, after: StoredSchedule, enabled: bool | None, now_ms: int) -> None:
        """Save ``after``, pausing or resuming it when ``enabled`` changes that (with its firing)."""
        decision: Decision | None = None
        if enabled is not None and enabled != after.enabled and entry.trigger is not None:
            slot = Slot(entry.trigger, after.cursor_ms, after.enabled, after.missed, after.overlap, after.waiting)
            if enabled:
                cursor, decision = plan_resume(slot, now_ms)
                after = replace(after, cursor_ms=cursor)
            else:
                decision = drop_waiting(slot)
            after = replace(after, enabled=enabled, waiting=None)
        elif enabled is not None:
            after = replace(after, enabled=enabled)
        if decision is None:
            await self._store.save(after)
            entry.stored = after
        else:
            await self._skip(entry, after, decision)

    async def delete(self, schedule_id: str) -> DeleteResult:
        """Remove a schedule and its history; the jobs it queued are left alone."""
        async with self._changing():
            self._entry(schedule_id)
            await self._store.delete(schedule_id)
            del self._entries[schedule_id]
            return DeleteResult(schedule_id=schedule_id, deleted=True)

    async def run_now(self, schedule_id: str) -> JobRecord:
        """Queue the schedule's job now (also when paused, whatever its overlap policy)."""
        async with self._changing():
            entry = self._entry(schedule_id)
            after = replace(entry.stored, last_outcome="submitted")
            firing = NewFiring(None, None, "submitted", "run_now", 0)
            record = await self._submit(after, firing)
            entry.stored = replace(after, last_job_id=record.job_id)
            note = ScheduleFiredNote(
                schedule_id=schedule_id,
                due_at=None,
                job_id=record.job_id,
                outcome="submitted",
                count=0,
                reason="run_now",
            )
            await self._notify("schedule.fired", note)
            return record

    def get(self, schedule_id: str) -> ScheduleRecord:
        """One schedule's record (from memory)."""
        return self._record(self._entry(schedule_id))

    def records(self) -> list[ScheduleRecord]:
        """Every schedule, oldest first (from memory)."""
        return [self._record(entry) for entry in self._entries.values()]

    async def history(self, schedule_id: str, limit: int) -> list[Firing]:
        """The schedule's latest firings, newest first."""
        self._entry(schedule_id)
        return await self._store.history(schedule_id, limit)

    def figures(self) -> SchedulerFigures:
        """``system.status.scheduler`` (from memory)."""
        enabled = [entry for entry in self._entries.values() if entry.stored.enabled]
        dues = [e.stored.cursor_ms for e in enabled if e.trigger is not None and e.stored.cursor_ms is not None]
        return SchedulerFigures(
            running=self.running,
            schedules=len(self._entries),
            enabled=len(enabled),
            next_due_at=iso_ms(min(dues)) if dues else None,
        )

    # ------------------------------------------------------------ helpers

    def _changing(self) -> anyio.Lock:
        if self.stopping:
            raise RpcError(ErrorCode.SHUTTING_DOWN, "the sidecar is stopping: schedules cannot change now")
        return self._lock

    def _entry(self, schedule_id: str) -> _Entry:
        entry = self._entries.get(schedule_id)
        if entry is None:
            raise not_found(schedule_id)
        return entry

    def _now_ms(self) -> int:
        return int(self._clock.wall() * 1000)

    def _check_job(self, job: JobSpec) -> None:
        """The job spec as jobs.submit would check it, the paths under ``$.job``."""
        try:
            self._jobs.validate(job.type, job.payload)
        except RpcError as exc:
            path = str(exc.data.get("path", "$"))
            raise RpcError(
                exc.code, exc.message, kind=exc.kind, data={**exc.data, "path": "$.job" + path[1:]}
            ) from None
        if job.type == "pipeline.run" and job.payload.get("run_id") is not None:
            # A run id is used once and a schedule fires many times: each firing gets a new one.
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                "a scheduled pipeline.run cannot fix its run_id: each firing is a new run",
                data={"path": "$.job.payload.run_id", "detail": "not allowed in a schedule"},
            )

    def _record(self, entry: _Entry) -> ScheduleRecord:
        stored = entry.stored
        shows_due = stored.enabled and entry.trigger is not None
        return ScheduleRecord(
            schedule_id=stored.schedule_id,
            name=stored.name,
            trigger=stored.trigger,
            job=stored.job,
            missed=stored.missed,
            overlap=stored.overlap,
            enabled=stored.enabled,
            next_due_at=iso_ms(stored.cursor_ms) if shows_due else None,
            last_due_at=iso_ms(stored.last_due_ms),
            last_outcome=stored.last_outcome,
            last_job_id=stored.last_job_id,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            origin=stored.origin,
        )


def utc(ms: int) -> str:
    """A due time as ISO 8601 UTC."""
    text = iso_ms(ms)
    assert text is not None
    return text
