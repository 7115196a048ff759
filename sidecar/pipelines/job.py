"""The ``pipeline.run`` job type: payload, submit-time preparation, abandonment."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import msgspec
from msgspec import Struct

from sidecar.common.errors import ApplicationError, ErrorCode, RpcError
from sidecar.common.ids import new_uuid7, parse_uuid
from sidecar.files.access import FileAccess
from sidecar.jobs.model import JobRecord, job_error
from sidecar.jobs.types import JobContext, JobEnvironment, JobType, RetryPolicy
from sidecar.pipelines.definition import Pipeline, fingerprint, load_file
from sidecar.pipelines.ledger import RunLedger
from sidecar.pipelines.runner import PipelineRunResult, run_pipeline, write_run_report


class PipelineRunPayload(Struct, forbid_unknown_fields=True):
    """pipeline: the definition (an object) or the path of a .json/.yaml/.yml file holding it (in the
    data dir's imports/ or exports/ folder, or a path the host granted for reading; relative: imports/).
    run_id: the run's UUID (default: jobs.submit's run_id, else a new UUIDv7); a run id is used once.
    source: set by the sidecar: the file the definition came from (the stored payload holds the
    definition itself, so a run can be replayed even if the file changes).
    """

    pipeline: Pipeline | str
    run_id: str | None = None
    source: str | None = None


def _load_checked(access: FileAccess, path: str) -> Pipeline:
    """Load a pipeline file the engine may read (imports/, exports/ or a read grant; relative: imports/)."""
    return load_file(str(access.readable(path)))


async def prepare(
    ledger: RunLedger, access: FileAccess, payload: PipelineRunPayload, run_id: str | None, job_id: str
) -> tuple[dict[str, Any], str]:
    """Load the definition, settle the run id, record a pending run in the ledger."""
    chosen = payload.run_id or run_id
    if payload.run_id and run_id and parse_uuid(payload.run_id) != parse_uuid(run_id):
        raise RpcError(
            ErrorCode.INVALID_PARAMS,
            "run_id differs between params and payload",
            data={"path": "$.run_id", "detail": "conflicting run ids"},
        )
    if chosen is None:
        chosen = new_uuid7()
    else:
        normal = parse_uuid(chosen)
        if normal is None:
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                f"run_id {chosen!r} is not a UUID",
                data={"path": "$.run_id", "detail": "not a UUID"},
            )
        chosen = normal
    if await ledger.exists(chosen):
        raise ApplicationError("run_exists", f"run {chosen} already exists: a run id is used once", run_id=chosen)
    if isinstance(payload.pipeline, str):
        source: str | None = payload.pipeline
        pipeline = await anyio.to_thread.run_sync(_load_checked, access, payload.pipeline)
    else:
        source, pipeline = payload.source, payload.pipeline
    definition = msgspec.to_builtins(pipeline)
    await ledger.create(
        chosen, job_id, pipeline.name, fingerprint(pipeline), definition, source, [step.name for step in pipeline.steps]
    )
    return {"pipeline": definition, "run_id": chosen, "source": source}, chosen


async def run(ledger: RunLedger, context: JobContext, payload: PipelineRunPayload) -> PipelineRunResult:
    """Run the pipeline the payload holds (prepare made it an inline definition)."""
    pipeline = payload.pipeline
    if isinstance(pipeline, str):
        pipeline = await anyio.to_thread.run_sync(_load_checked, context.services.files, pipeline)
    assert payload.run_id is not None
    return await run_pipeline(context, ledger, pipeline, payload.run_id, payload.source, fingerprint(pipeline))


async def abandon(ledger: RunLedger, services: JobEnvironment, record: JobRecord, reason: str) -> None:
    """Close the run of a job canceled while queued (skipped) or found interrupted at start-up (failed)."""
    run_id = record.payload.get("run_id")
    if not run_id:
        return
    run_record = await ledger.get(run_id)
    if run_record is None or run_record.status in ("success", "failed", "skipped"):
        return
    pipeline = msgspec.convert(record.payload["pipeline"], Pipeline)
    now = record.updated_at
    error = None
    if reason == "canceled" and run_record.status == "pending":
        for step in run_record.steps:
            await ledger.move_step(run_id, step.index, "skipped")
        await ledger.move_run(run_id, "skipped", finished_at=now)
    else:
        running = next((s for s in run_record.steps if s.status == "running"), None)
        error = job_error(
            "interrupted",
            "the sidecar stopped while this run was in progress",
            "interrupted",
            step=running.name if running else None,
            run_id=run_id,
        )
        for step in run_record.steps:
            if step.status == "running":
                await ledger.move_step(run_id, step.index, "failed", finished_at=now, error=error)
            elif step.status == "pending":
                await ledger.move_step(run_id, step.index, "skipped")
        await ledger.move_run(run_id, "failed", finished_at=now, error=error)
    await write_run_report(services, ledger, run_id, pipeline, record.payload.get("source"))


def pipeline_run_job(ledger: RunLedger) -> JobType:
    """The ``pipeline.run`` job type, recording its runs in ``ledger``."""

    async def prepare_run(
        services: JobEnvironment, payload: Any, run_id: str | None, job_id: str
    ) -> tuple[dict[str, Any], str | None]:
        return await prepare(ledger, services.files, payload, run_id, job_id)

    async def run_job(context: JobContext, payload: Any) -> PipelineRunResult:
        return await run(ledger, context, payload)

    async def abandon_run(services: JobEnvironment, record: JobRecord, reason: str) -> None:
        await abandon(ledger, services, record, reason)

    return JobType(
        name="pipeline.run",
        payload=PipelineRunPayload,
        run=run_job,
        retry=RetryPolicy(max_attempts=1),  # steps carry their own retries
        idempotent=False,
        summary="run a pipeline definition's SQL steps in order, with a run ledger entry and a report",
        prepare=prepare_run,
        abandon=abandon_run,
    )
