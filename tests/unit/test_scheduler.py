"""The scheduler in-process: a real state store file, an injected clock, a stand-in job queue.

The clock is injected because libfaketime cannot serve here: it changes the clocks of a whole
process from outside, and this process is pytest itself. The stand-in clock plays what the
real-process test (tests/process/test_engine_schedules.py, under Debian's faketime) cannot
show on Linux: a suspend on a platform whose monotonic clock counts the sleep (Windows), a
process held up for a few seconds, and the wall clock set back. The job queue stand-in
writes the scheduler's firing through the same insert hook, in a real sqlite transaction,
so what survives a restart is what the store really holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar.common.errors import ErrorCode, RpcError
from sidecar.common.ids import new_uuid7
from sidecar.jobs.model import JobRecord
from sidecar.jobs.store import InsertHook
from sidecar.schedules.messages import CreateParams, JobSpec, Trigger, UpdateParams
from sidecar.schedules.scheduler import Scheduler
from sidecar.schedules.store import SCHEDULES_SCHEMA, ScheduleStore
from sidecar.state.store import StateDB, transaction

pytestmark = pytest.mark.anyio

START = 1_750_000_000.0  # a wall time (2025-06-15)


class FakeClock:
    """Wall and monotonic clocks the test moves by hand; sleep ends when the monotonic clock
    passes its deadline (or on a wake)."""

    def __init__(self) -> None:
        self.wall_s = START
        self.mono_s = 1000.0
        self.seen = self.mono_s  # the monotonic time the sleeper last looked at

    def wall(self) -> float:
        return self.wall_s

    def monotonic(self) -> float:
        return self.mono_s

    async def sleep(self, seconds: float, wake: anyio.Event) -> None:
        deadline = self.mono_s + seconds
        while True:
            self.seen = self.mono_s
            if self.mono_s >= deadline or wake.is_set():
                return
            await anyio.sleep(0.002)

    def advance(self, seconds: float) -> None:
        """Real time passes: both clocks move."""
        self.wall_s += seconds
        self.mono_s += seconds

    async def walk(self, seconds: int) -> None:
        """Real time passes second by second, the scheduler looking at every step (an
        ordinary running sidecar, never a jump)."""
        # and 10 ms more: the scheduler sleeps until just past a due time
        for step in [1.0] * seconds + [0.01]:
            self.advance(step)
            with anyio.fail_after(10):
                while self.seen < self.mono_s:
                    await anyio.sleep(0.002)

    def set_wall(self, seconds: float) -> None:
        """The wall clock alone moves (a suspend on Linux/macOS, or a manual change)."""
        self.wall_s += seconds


class FakeJobs:
    """The job pool as the scheduler sees it: validates, 'queues' by writing the hook, runs forever
    until :meth:`finish`."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        self.finished_observers: list[Callable[[JobRecord], None]] = []
        self.submitted: list[JobRecord] = []
        self.running: set[str] = set()
        self.refuse: RpcError | None = None

    def validate(self, type_name: str, payload: dict[str, Any]) -> None:
        if type_name not in ("noop", "pipeline.run"):
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                "unknown job type",
                data={"path": "$.type", "detail": "unknown job type", "known": ["noop"]},
            )
        if "bad" in payload:
            raise RpcError(ErrorCode.INVALID_PARAMS, "bad payload", data={"path": "$.payload.bad", "detail": "no"})

    async def submit(
        self, type_name: str, payload: dict[str, Any], run_id: str | None, *, also: InsertHook | None = None
    ) -> JobRecord:
        if self.refuse is not None:
            raise self.refuse
        record = JobRecord(
            job_id=new_uuid7(),
            type=type_name,
            status="queued",
            created_at="x",
            updated_at="x",
            progress=0.0,
            message=None,
            payload=payload,
            result=None,
            error=None,
        )

        def write(connection: Any) -> None:
            with transaction(connection):
                if also is not None:
                    also(connection, record)

        await self.db.run(write)
        self.submitted.append(record)
        self.running.add(record.job_id)
        return record

    def unfinished(self, job_id: str) -> bool:
        return job_id in self.running

    def finish(self, job_id: str) -> None:
        self.running.discard(job_id)
        for observer in self.finished_observers:
            observer(next(r for r in self.submitted if r.job_id == job_id))


class Harness:
    """A scheduler on a real state file, its notifications collected."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        self.path = path
        self.clock = clock
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.db = StateDB(path)
        self.jobs = FakeJobs(self.db)
        self.scheduler: Scheduler

    async def notify(self, method: str, params: Any) -> None:
        import msgspec

        self.notes.append((method, msgspec.to_builtins(params)))

    def of(self, method: str, reason: str | None = "any") -> list[dict[str, Any]]:
        return [p for m, p in self.notes if m == method and (reason == "any" or p.get("reason") == reason)]

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        with anyio.fail_after(10, shield=False):
            while not predicate():
                await anyio.sleep(0.005)
        assert predicate(), what

    async def create(self, **fields: Any) -> str:
        params = {"name": "s", "trigger": Trigger(every_s=10), "job": JobSpec(type="noop"), **fields}
        record = await self.scheduler.create(CreateParams(**params))
        return record.schedule_id


@contextlib.asynccontextmanager
async def harnesses(tmp_path: Path) -> AsyncIterator[Callable[[FakeClock], Awaitable[Harness]]]:
    """``await start(clock)`` -> a started Harness on ``tmp_path``'s state file; its scheduler runs
    in this block's task group (the test's own task), and is stopped at the end."""
    started: list[Harness] = []
    async with anyio.create_task_group() as tg:

        async def start(clock: FakeClock) -> Harness:
            harness = Harness(tmp_path / "state.sqlite3", clock)
            await harness.db.open([SCHEDULES_SCHEMA])
            harness.scheduler = Scheduler(ScheduleStore(harness.db), harness.jobs, harness.notify, clock)
            await harness.scheduler.start(tg)
            started.append(harness)
            return harness

        try:
            yield start
        finally:
            tg.cancel_scope.cancel()
    for harness in started:
        await harness.db.close()


async def kill(harness: Harness) -> None:
    """Stop a scheduler the way SIGKILL does for this purpose: nothing more is written."""
    harness.scheduler._scope.cancel()
    await harness.db.close()


# ---------------------------------------------------------------- firing


async def test_an_interval_schedule_fires_at_each_due_time(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        h: Harness = await running(clock)
        sid = await h.create()
        for n in range(1, 4):
            await clock.walk(10)
            await h.until(lambda n=n: len(h.of("schedule.fired")) == n, f"firing {n}")  # type: ignore[misc]
            h.jobs.finish(h.jobs.submitted[-1].job_id)  # else the next one is an overlap
        fired = h.of("schedule.fired")
        assert [f["count"] for f in fired] == [1, 1, 1] and all("reason" not in f for f in fired)
        assert [f["job_id"] for f in fired] == [r.job_id for r in h.jobs.submitted]
        record = h.scheduler.get(sid)
        assert record.last_outcome == "submitted" and record.last_job_id == h.jobs.submitted[-1].job_id
        history = await h.scheduler.history(sid, 10)
        assert [f.outcome for f in history] == ["submitted"] * 3
        assert [f.due_at for f in history] == [f["due_at"] for f in reversed(fired)]


async def test_a_process_held_up_a_few_seconds_fires_once_not_a_burst(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        h: Harness = await running(clock)
        await h.create(trigger=Trigger(every_s=1))
        clock.advance(4.5)  # the slice planned ~1 s ended 3.5 s late: within the jump tolerance
        await h.until(lambda: len(h.of("schedule.fired")) == 1, "one firing")
        await anyio.sleep(0.05)
        assert [f["count"] for f in h.of("schedule.fired")] == [4]
        assert h.of("schedule.skipped") == []


# ---------------------------------------------------------------- sleep and clock jumps


@pytest.mark.parametrize("platform", ["monotonic stops (Linux, macOS)", "monotonic counts the sleep (Windows)"])
async def test_a_suspend_is_one_skipped_record_reason_asleep(tmp_path: Path, platform: str) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        h: Harness = await running(clock)
        sid = await h.create(trigger=Trigger(every_s=60))
        if platform.startswith("monotonic stops"):
            clock.set_wall(8 * 3600)
            clock.advance(5)  # the slice ends on the monotonic clock after the machine woke
        else:
            clock.advance(8 * 3600)
        await h.until(lambda: len(h.of("schedule.skipped")) == 1, "the skip record")
        await anyio.sleep(0.05)
        (skipped,) = h.of("schedule.skipped")
        assert skipped["reason"] == "asleep" and skipped["count"] == 8 * 60
        assert h.of("schedule.fired") == [] and h.jobs.submitted == []
        record = h.scheduler.get(sid)
        assert record.last_outcome == "skipped"
        await clock.walk(60)  # then it carries on, on time
        await h.until(lambda: len(h.of("schedule.fired")) == 1, "the next firing")


async def test_a_clock_jump_forward_with_catch_up_runs_the_job_once(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        h: Harness = await running(clock)
        await h.create(trigger=Trigger(every_s=10), missed="catch_up")
        clock.set_wall(3600)
        clock.advance(5)
        await h.until(lambda: len(h.of("schedule.fired")) == 1, "the catch-up")
        await anyio.sleep(0.05)
        (caught_up,) = h.of("schedule.fired")
        assert (caught_up["outcome"], caught_up["reason"], caught_up["count"]) == ("caught_up", "asleep", 360)
        assert len(h.jobs.submitted) == 1


async def test_the_wall_clock_set_back_keeps_intervals_and_cron_wall_times(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        h: Harness = await running(clock)
        interval = await h.create(trigger=Trigger(every_s=10))
        daily = await h.create(trigger=Trigger(cron="0 0 * * *", timezone="UTC"))
        interval_due = h.scheduler.get(interval).next_due_at
        daily_due = h.scheduler.get(daily).next_due_at
        clock.advance(3)
        clock.set_wall(-3600)  # an hour back
        clock.advance(1)
        await h.until(lambda: h.scheduler.get(interval).next_due_at != interval_due, "the interval moved")
        moved = h.scheduler.get(interval).next_due_at
        assert moved is not None and interval_due is not None and moved < interval_due
        assert h.scheduler.get(daily).next_due_at == daily_due
        await clock.walk(6)  # 10 s after the creation, as the monotonic clock counts: due now
        await h.until(lambda: len(h.of("schedule.fired")) == 1, "the interval fires on its period")
        assert h.of("schedule.skipped") == []


# ---------------------------------------------------------------- offline: a restart


@pytest.mark.parametrize("missed", ["skip", "catch_up"])
async def test_due_times_while_no_sidecar_ran_are_one_record_at_the_next_start(tmp_path: Path, missed: str) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        first: Harness = await running(clock)
        sid = await first.create(trigger=Trigger(every_s=10), missed=missed)
        await clock.walk(10)
        await first.until(lambda: len(first.of("schedule.fired")) == 1, "an on-time firing")
        await kill(first)
        clock.advance(95)  # nine more due times while nothing runs
        second: Harness = await running(clock)
        # The start itself handled them, before any call.
        if missed == "skip":
            assert [(n["reason"], n["count"]) for n in second.of("schedule.skipped")] == [("offline", 9)]
            assert second.of("schedule.fired") == [] and second.jobs.submitted == []
        else:
            assert [(n["outcome"], n["reason"], n["count"]) for n in second.of("schedule.fired")] == [
                ("caught_up", "offline", 9)
            ]
            assert len(second.jobs.submitted) == 1 and second.of("schedule.skipped") == []
        history = await second.scheduler.history(sid, 10)
        assert [(f.outcome, f.count) for f in history] == [
            ("skipped" if missed == "skip" else "caught_up", 9),
            ("submitted", 1),
        ]
        assert len({f.due_at for f in history}) == 2, "a due time handled twice"


async def test_a_firing_whose_job_could_not_be_written_counts_as_offline_later(tmp_path: Path) -> None:
    """The job's transaction failed (a full disk): neither the job nor the firing was stored,
    so the next start finds the due time unhandled: once, never twice."""
    async with harnesses(tmp_path) as running:
        import sqlite3

        clock = FakeClock()
        first: Harness = await running(clock)
        await first.create(trigger=Trigger(every_s=10))

        async def broken(*args: Any, **kw: Any) -> JobRecord:
            raise sqlite3.OperationalError("database or disk is full")

        first.jobs.submit = broken  # type: ignore[method-assign]
        await clock.walk(10)
        await anyio.sleep(0.1)
        assert first.of("schedule.fired") == [] and first.of("schedule.skipped") == []
        await clock.walk(10)
        await anyio.sleep(0.1)
        await kill(first)
        second: Harness = await running(clock)
        assert [(n["reason"], n["count"]) for n in second.of("schedule.skipped")] == [("offline", 2)]


# ---------------------------------------------------------------- overlap, pause, run_now


async def test_overlap_skip_and_queue(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        h: Harness = await running(clock)
        skip = await h.create(trigger=Trigger(every_s=10))
        queue = await h.create(trigger=Trigger(every_s=10), overlap="queue")
        await clock.walk(10)
        await h.until(lambda: len(h.of("schedule.fired")) == 2, "both fire")
        first_jobs = {n["schedule_id"]: n["job_id"] for n in h.of("schedule.fired")}
        for _ in range(2):  # two due times while both jobs run
            await clock.walk(10)
            await anyio.sleep(0.05)
        await h.until(lambda: len(h.of("schedule.skipped", "overlap")) == 3, "skips")
        skipped_by = [n["schedule_id"] for n in h.of("schedule.skipped", "overlap")]
        assert skipped_by.count(skip) == 2 and skipped_by.count(queue) == 1  # the queue one waits once
        assert len(h.jobs.submitted) == 2
        h.jobs.finish(first_jobs[queue])  # the waiting firing goes at once, not at the next due time
        await h.until(lambda: len(h.jobs.submitted) == 3, "the waiting firing")
        queued = h.of("schedule.fired")[-1]
        assert queued["schedule_id"] == queue and queued["due_at"] < h.scheduler.get(queue).next_due_at  # type: ignore[operator]


async def test_pause_resume_and_run_now(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        h: Harness = await running(clock)
        sid = await h.create(trigger=Trigger(every_s=10))
        paused = await h.scheduler.set_enabled(sid, False)
        assert paused.enabled is False and paused.next_due_at is None
        for _ in range(3):
            await clock.walk(10)
            await anyio.sleep(0.02)
        assert h.of("schedule.fired") == []
        assert h.scheduler.figures().enabled == 0
        job = await h.scheduler.run_now(sid)  # also while paused
        assert h.of("schedule.fired") == [
            {
                "schedule_id": sid,
                "due_at": None,
                "job_id": job.job_id,
                "outcome": "submitted",
                "count": 0,
                "reason": "run_now",
            }
        ]
        resumed = await h.scheduler.set_enabled(sid, True)
        assert resumed.enabled and resumed.next_due_at is not None
        assert [(n["reason"], n["count"]) for n in h.of("schedule.skipped")] == [("paused", 3)]
        h.jobs.finish(job.job_id)
        await clock.walk(10)
        await h.until(lambda: len(h.of("schedule.fired")) == 2, "fires again")
        history = await h.scheduler.history(sid, 10)
        assert [(f.outcome, f.reason) for f in history] == [
            ("submitted", None),
            ("skipped", "paused"),
            ("submitted", "run_now"),
        ]


async def test_a_refused_job_is_a_skipped_firing_with_the_error(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        from sidecar.common.errors import ApplicationError

        clock = FakeClock()
        h: Harness = await running(clock)
        sid = await h.create()
        h.jobs.refuse = ApplicationError("queue_full", "the job queue is full", limit=1, queued=1)
        await clock.walk(10)
        await h.until(lambda: len(h.of("schedule.skipped")) == 1, "the skip")
        (note,) = h.of("schedule.skipped")
        assert note["reason"] == "error" and note["error"] == {"kind": "queue_full", "message": "the job queue is full"}
        (firing,) = await h.scheduler.history(sid, 10)
        assert firing.error == note["error"] and firing.job_id is None


# ---------------------------------------------------------------- changes and refusals


async def test_bad_jobs_are_refused_at_create_with_paths_under_job(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        h: Harness = await running(FakeClock())
        with pytest.raises(RpcError) as unknown:
            await h.create(job=JobSpec(type="vault.scan"))
        assert unknown.value.code == -32602 and unknown.value.data["path"] == "$.job.type"
        with pytest.raises(RpcError) as payload:
            await h.create(job=JobSpec(type="noop", payload={"bad": 1}))
        assert payload.value.data["path"] == "$.job.payload.bad"
        with pytest.raises(RpcError) as run_id:
            await h.create(job=JobSpec(type="pipeline.run", payload={"pipeline": "p.yaml", "run_id": new_uuid7()}))
        assert run_id.value.data["path"] == "$.job.payload.run_id"
        with pytest.raises(RpcError) as missing:
            h.scheduler.get(new_uuid7())
        assert missing.value.kind == "schedule_not_found"
        assert h.scheduler.records() == []


async def test_update_delete_and_a_durable_definition(tmp_path: Path) -> None:
    async with harnesses(tmp_path) as running:
        clock = FakeClock()
        first: Harness = await running(clock)
        sid = await first.create()
        gone = await first.create(name="gone")
        updated = await first.scheduler.update(
            UpdateParams(schedule_id=sid, name="nightly", trigger=Trigger(cron="0 3 * * *", timezone="Europe/Berlin"))
        )
        assert updated.trigger == Trigger(cron="0 3 * * *", timezone="Europe/Berlin") and updated.name == "nightly"
        assert updated.next_due_at == "2025-06-16T01:00:00.000Z"  # 03:00 CEST
        assert (await first.scheduler.delete(gone)).deleted is True
        with pytest.raises(RpcError):
            await first.scheduler.delete(gone)
        await kill(first)
        second: Harness = await running(clock)
        (record,) = second.scheduler.records()
        assert record == updated
        assert second.scheduler.figures().running is True
