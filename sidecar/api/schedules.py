"""``schedules.*``: recurring jobs; firings arrive as ``schedule.fired`` / ``schedule.skipped``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sidecar.api.context import Ctx
from sidecar.jobs.model import JobRecord
from sidecar.rpc.registry import Registry
from sidecar.schedules.messages import (
    CreateParams,
    DeleteResult,
    HistoryParams,
    HistoryResult,
    ListResult,
    ScheduleFiredNote,
    ScheduleIdParams,
    ScheduleRecord,
    ScheduleSkippedNote,
    UpdateParams,
)

if TYPE_CHECKING:  # the scheduler (sqlite, cronsim) loads with the engine, never before READY
    from sidecar.schedules.scheduler import Scheduler


async def _scheduler(ctx: Ctx) -> Scheduler:
    engine = await ctx.app.engine.with_state()
    return engine.scheduler


def register_schedules_methods(registry: Registry) -> None:
    """Add schedules.create, get, list, update, delete, pause, resume, run_now and history;
    declare schedule.fired and schedule.skipped."""
    registry.notification("schedule.fired", ScheduleFiredNote)
    registry.notification("schedule.skipped", ScheduleSkippedNote)

    @registry.method("schedules.create")
    async def schedules_create(ctx: Ctx, params: CreateParams) -> ScheduleRecord:
        """Create a schedule: a job (as jobs.submit takes it) submitted every N seconds or on a cron, in a time zone."""
        return await (await _scheduler(ctx)).create(params)

    @registry.method("schedules.get")
    async def schedules_get(ctx: Ctx, params: ScheduleIdParams) -> ScheduleRecord:
        """One schedule's record."""
        return (await _scheduler(ctx)).get(params.schedule_id)

    @registry.method("schedules.list")
    async def schedules_list(ctx: Ctx) -> ListResult:
        """Every schedule, oldest first."""
        return ListResult(schedules=(await _scheduler(ctx)).records())

    @registry.method("schedules.update")
    async def schedules_update(ctx: Ctx, params: UpdateParams) -> ScheduleRecord:
        """Change a schedule's name, trigger, job, policies or enabled flag."""
        return await (await _scheduler(ctx)).update(params)

    @registry.method("schedules.delete")
    async def schedules_delete(ctx: Ctx, params: ScheduleIdParams) -> DeleteResult:
        """Delete a schedule and its history; jobs it queued are left alone (a running one runs on)."""
        return await (await _scheduler(ctx)).delete(params.schedule_id)

    @registry.method("schedules.pause")
    async def schedules_pause(ctx: Ctx, params: ScheduleIdParams) -> ScheduleRecord:
        """Pause a schedule: it does not fire until resumed."""
        return await (await _scheduler(ctx)).set_enabled(params.schedule_id, False)

    @registry.method("schedules.resume")
    async def schedules_resume(ctx: Ctx, params: ScheduleIdParams) -> ScheduleRecord:
        """Resume a paused schedule; the due times it had while paused become one skipped firing."""
        return await (await _scheduler(ctx)).set_enabled(params.schedule_id, True)

    @registry.method("schedules.run_now")
    async def schedules_run_now(ctx: Ctx, params: ScheduleIdParams) -> JobRecord:
        """Submit the schedule's job now (paused or not, whatever its overlap policy); returns the job."""
        return await (await _scheduler(ctx)).run_now(params.schedule_id)

    @registry.method("schedules.history")
    async def schedules_history(ctx: Ctx, params: HistoryParams) -> HistoryResult:
        """A schedule's firings, newest first: due time, outcome, reason, job."""
        return HistoryResult(firings=await (await _scheduler(ctx)).history(params.schedule_id, params.limit))
