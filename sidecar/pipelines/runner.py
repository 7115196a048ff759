"""Running one pipeline: steps in order, retries, the ledger, the report.

Each step goes pending -> running -> success | failed in the ledger (steps
after a failure: skipped), with timing, attempts and rows affected. A
failure is classified (source, permission, network, sql, interrupted); a
step with ``retries`` gets more attempts for source and network failures,
after the settings' backoff. Cancellation (jobs.cancel, shutdown) interrupts
the step's DuckDB statement and still records the run (failed, class
interrupted) and writes its report before the job ends. Every log record
carries run_id, job_id and step.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from msgspec import Struct

from sidecar.common.clock import utc_now
from sidecar.common.errors import RpcError
from sidecar.common.redaction import mask_secrets
from sidecar.database.errors import RETRYABLE_CLASSES, failure_class, is_duckdb_error, to_application_error
from sidecar.database.handle import QueryHandle
from sidecar.database.query import Rows
from sidecar.jobs.model import job_error
from sidecar.jobs.types import JobContext, JobEnvironment, JobFailed, RetryPolicy
from sidecar.pipelines.definition import Pipeline, secret_names, substitute_secrets
from sidecar.pipelines.ledger import RunLedger
from sidecar.pipelines.report import report_dir, write_report
from sidecar.pipelines.report_schema import (
    HTML_FILE,
    METADATA_FILE,
    SCHEMA,
    Generator,
    PipelineInfo,
    Preview,
    RunReport,
    StepReport,
)
from sidecar.pipelines.steps import StepOutcome, execute_step, preview_table_read_only

INFO = logging.INFO


class StepSummary(Struct):
    """name, status, rows_affected, duration_ms, attempts: the step's outcome."""

    name: str
    status: str
    rows_affected: int | None
    duration_ms: int | None
    attempts: int


class PipelineRunResult(Struct):
    """run_id: the run. status: success. steps: each step's outcome.
    report_path, metadata_path: the run's report files."""

    run_id: str
    status: str
    steps: list[StepSummary]
    report_path: str
    metadata_path: str


@dataclass
class _Run:
    context: JobContext
    ledger: RunLedger
    pipeline: Pipeline
    run_id: str
    source: str | None
    sha256: str
    preview: Rows | None = None
    preview_source: str | None = None
    preview_table: str | None = None
    error: dict[str, Any] | None = None
    current: int | None = None
    started: float = field(default_factory=time.monotonic)
    step_began: float = field(default_factory=time.monotonic)


def _error_of(exc: Exception) -> tuple[str, str]:
    """The kind and (secret-masked) message of a step's failure."""
    if is_duckdb_error(exc) or isinstance(exc, OSError):
        exc = to_application_error(exc)
    if isinstance(exc, RpcError):
        return exc.kind, mask_secrets(exc.message)
    return "unhandled_exception", mask_secrets(f"{type(exc).__name__}: {exc}")


async def run_pipeline(
    context: JobContext, ledger: RunLedger, pipeline: Pipeline, run_id: str, source: str | None, sha256: str
) -> PipelineRunResult:
    """Run every step and record it all; raises JobFailed when the run fails."""
    run = _Run(context, ledger, pipeline, run_id, source, sha256)
    context.log_fields["step"] = None
    await ledger.set_run(run_id, job_id=context.job_id)
    await ledger.move_run(run_id, "running", started_at=utc_now())
    context.log(INFO, "pipeline run started", pipeline=pipeline.name, steps=len(pipeline.steps))
    try:
        await _run_steps(run)
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            run.error = job_error(
                "interrupted",
                "the run was interrupted (canceled or shutting down)",
                "interrupted",
                step=_step_name(run),
                run_id=run_id,
            )
            await _close(run, "failed")
        raise
    if run.error is not None:
        await _close(run, "failed")
        raise JobFailed(run.error)
    paths = await _close(run, "success")
    record = await ledger.get(run_id)
    assert record is not None
    return PipelineRunResult(
        run_id=run_id,
        status="success",
        steps=[StepSummary(s.name, s.status, s.rows_affected, s.duration_ms, s.attempts) for s in record.steps],
        report_path=str(paths[0]),
        metadata_path=str(paths[1]),
    )


def _step_name(run: _Run) -> str | None:
    return run.pipeline.steps[run.current].name if run.current is not None else None


async def _run_steps(run: _Run) -> None:
    context, services = run.context, run.context.services
    try:
        secrets = {name: await services.secrets.get(name) for name in secret_names(run.pipeline)}
    except RpcError as exc:
        run.error = job_error(exc.kind, mask_secrets(exc.message), "permission", step=None, run_id=run.run_id)
        return
    preview_rows = services.settings.current.report_preview_rows
    handle = await services.database.handle(progress=True)
    try:
        steps = run.pipeline.steps
        for index, step in enumerate(steps):
            run.current = index
            context.log_fields["step"] = step.name
            outcome = await _run_step(run, handle, index, substitute_secrets(step.sql, secrets), preview_rows)
            if outcome is None:
                return
            if index == len(steps) - 1:
                if outcome.preview is not None and not run.pipeline.output:
                    run.preview, run.preview_source = outcome.preview, "step"
                else:
                    run.preview_table = run.pipeline.output or outcome.target
        run.current = None
        context.log_fields["step"] = None
        if run.preview is None and run.preview_table:
            try:
                run.preview = await handle.run(preview_table_read_only, run.preview_table, preview_rows)
                run.preview_source = "table"
            except Exception as exc:  # a preview is a courtesy: the run itself succeeded
                context.log(
                    logging.WARNING, "no preview of the output table", table=run.preview_table, error=_error_of(exc)[1]
                )
        context.progress.set(1.0, f"{len(steps)} of {len(steps)} steps done")
    finally:
        handle.close()


async def _run_step(run: _Run, handle: QueryHandle, index: int, sql: str, preview_rows: int) -> StepOutcome | None:
    context, ledger = run.context, run.ledger
    step = run.pipeline.steps[index]
    count = len(run.pipeline.steps)
    attempt = 1
    began = run.step_began = time.monotonic()
    await ledger.move_step(run.run_id, index, "running", started_at=utc_now(), attempts=1)
    context.log(INFO, "step started")
    context.progress.set(index / count, f"step {index + 1} of {count}: {step.name}")
    while True:
        try:
            with context.progress.source(lambda: (index + (handle.progress() or 0.0)) / count):
                outcome = await handle.run(execute_step, sql, preview_rows)
            break
        except Exception as exc:  # the step boundary: every failure is classified and recorded
            kind, message = _error_of(exc)
            klass = failure_class(kind)
            if klass in RETRYABLE_CLASSES and attempt <= step.retries:
                delay = RetryPolicy.delay_s(attempt, context.services.settings.current.jobs_retry_backoff_ms)
                context.log(logging.WARNING, "step failed; retrying", attempt=attempt, error_kind=kind, delay_s=delay)
                await anyio.sleep(delay)
                attempt += 1
                await ledger.set_step(run.run_id, index, attempts=attempt)
                continue
            run.error = job_error(kind, message, klass, step=step.name, run_id=run.run_id)
            context.log(logging.ERROR, "step failed", error_kind=kind, error_class=klass, error=message)
            return None
    took = int((time.monotonic() - began) * 1000)
    await ledger.move_step(
        run.run_id, index, "success", finished_at=utc_now(), duration_ms=took, rows_affected=outcome.rows_affected
    )
    context.log(INFO, "step succeeded", rows_affected=outcome.rows_affected, duration_ms=took)
    return outcome


async def _close(run: _Run, status: str) -> tuple[Any, Any]:
    """Settle every step and the run in the ledger, then write the report."""
    ledger = run.ledger
    record = await ledger.get(run.run_id)
    assert record is not None
    now = utc_now()
    for step in record.steps:
        if step.status == "running":
            took = int((time.monotonic() - run.step_began) * 1000)
            await ledger.move_step(run.run_id, step.index, "failed", finished_at=now, duration_ms=took, error=run.error)
        elif step.status == "pending":
            await ledger.move_step(run.run_id, step.index, "skipped")
    took = int((time.monotonic() - run.started) * 1000)
    await ledger.move_run(run.run_id, status, finished_at=now, duration_ms=took, error=run.error)
    run.context.log_fields["step"] = None
    paths = await write_run_report(
        run.context.services,
        run.ledger,
        run.run_id,
        run.pipeline,
        run.source,
        run.preview,
        run.preview_source,
        run.preview_table,
    )
    run.context.log(
        INFO if status == "success" else logging.ERROR, "pipeline run finished", status=status, duration_ms=took
    )
    return paths


async def write_run_report(
    services: JobEnvironment,
    ledger: RunLedger,
    run_id: str,
    pipeline: Pipeline,
    source: str | None,
    preview: Rows | None = None,
    preview_source: str | None = None,
    preview_table: str | None = None,
) -> tuple[Any, Any]:
    """Build the report from the ledger's record and write both files."""
    record = await ledger.get(run_id)
    assert record is not None
    report = RunReport(
        schema=SCHEMA,
        run_id=run_id,
        job_id=record.job_id,
        pipeline=PipelineInfo(
            name=pipeline.name,
            description=pipeline.description,
            definition_sha256=record.definition_sha256,
            source=source,
            output=pipeline.output,
        ),
        status=record.status,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        duration_ms=record.duration_ms,
        error=record.error,
        steps=[
            StepReport(
                index=s.index,
                name=s.name,
                status=s.status,
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_ms=s.duration_ms,
                rows_affected=s.rows_affected,
                attempts=s.attempts,
                error=s.error,
                sql=pipeline.steps[s.index].sql,
            )
            for s in record.steps
        ],
        preview=None
        if preview is None
        else Preview(
            source=preview_source or "step",
            table=preview_table if preview_source == "table" else None,
            columns=preview.columns,
            rows=preview.rows,
            row_count=len(preview.rows),
            truncated=preview.truncated,
        ),
        files={"report": HTML_FILE, "metadata": METADATA_FILE},
        generated_at=utc_now(),
        generator=Generator(name="sidecar", version=services.app_version, duckdb=services.database.duckdb_version),
    )
    folder = report_dir(services.paths.data_dir, run_id)
    paths = await anyio.to_thread.run_sync(write_report, folder, report)
    await ledger.set_run(run_id, report_dir=str(folder))
    return paths
