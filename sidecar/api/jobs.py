"""``jobs.*``: submit, inspect and cancel jobs; progress arrives as notifications."""

from __future__ import annotations

from sidecar.api.context import Ctx
from sidecar.common.errors import ApplicationError
from sidecar.jobs.messages import (
    CancelResult,
    EventsParams,
    EventsResult,
    JobIdParams,
    JobProgressNote,
    JobStatusNote,
    ListParams,
    ListResult,
    SubmitParams,
    SubmitResult,
)
from sidecar.jobs.model import JobRecord
from sidecar.rpc.registry import Registry


def register_jobs_methods(registry: Registry) -> None:
    """Add jobs.submit, jobs.get, jobs.list, jobs.cancel and jobs.events, and declare job.status and job.progress."""
    registry.notification("job.status", JobStatusNote)
    registry.notification("job.progress", JobProgressNote)

    @registry.method("jobs.submit")
    async def jobs_submit(ctx: Ctx, params: SubmitParams) -> SubmitResult:
        """Queue a job (ingest, export, pipeline.run, maintenance.compact); progress arrives as notifications."""
        engine = await ctx.app.engine.with_state()
        assert engine.pool is not None
        record = await engine.pool.submit(params.type, params.payload, params.run_id)
        return SubmitResult(job_id=record.job_id, status=record.status, run_id=record.run_id)

    @registry.method("jobs.get")
    async def jobs_get(ctx: Ctx, params: JobIdParams) -> JobRecord:
        """One job's record."""
        engine = await ctx.app.engine.with_state()
        record = await engine.jobs.get(params.job_id)
        if record is None:
            raise ApplicationError("job_not_found", f"no job with id {params.job_id}", job_id=params.job_id)
        return engine.pool.current(record)

    @registry.method("jobs.list")
    async def jobs_list(ctx: Ctx, params: ListParams) -> ListResult:
        """Jobs, newest first, optionally filtered by status and type."""
        engine = await ctx.app.engine.with_state()
        records = await engine.jobs.list(params.status, params.type, params.limit)
        return ListResult(jobs=[engine.pool.current(record) for record in records])

    @registry.method("jobs.cancel")
    async def jobs_cancel(ctx: Ctx, params: JobIdParams) -> CancelResult:
        """Cancel a queued or running job (its query is interrupted); answers once it has stopped."""
        engine = await ctx.app.engine.with_state()
        assert engine.pool is not None
        record, canceled = await engine.pool.cancel(params.job_id)
        return CancelResult(job=record, canceled=canceled)

    @registry.method("jobs.events")
    async def jobs_events(ctx: Ctx, params: EventsParams) -> EventsResult:
        """A job's event log: transitions and retries, oldest first."""
        engine = await ctx.app.engine.with_state()
        if await engine.jobs.get(params.job_id) is None:
            raise ApplicationError("job_not_found", f"no job with id {params.job_id}", job_id=params.job_id)
        events = await engine.jobs.events(params.job_id, params.limit)
        return EventsResult(events=events)
