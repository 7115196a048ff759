"""One job's attempts: the retry loop and how an attempt's exception becomes the job's error.

A runner's exception is the job's failure (this is the job boundary): known
errors keep their kind, anything else becomes ``unhandled_exception`` with
the traceback in the log. Secret values are masked in every message.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, Final

import anyio
import msgspec

from sidecar.common.errors import ErrorCode, RpcError
from sidecar.common.redaction import mask_secrets
from sidecar.database.errors import failure_class, is_duckdb_error, to_application_error
from sidecar.jobs.model import job_error
from sidecar.jobs.store import JobStore
from sidecar.jobs.types import JobContext, JobFailed, JobType, RetryPolicy

#: What writing the job store can raise when the disk or the file fails (not a bug).
BOOKKEEPING_ERRORS: Final = (sqlite3.Error, OSError)


async def run_attempts(job_type: JobType, context: JobContext, payload: Any, backoff_ms: int, store: JobStore) -> Any:
    """Run the job, with another attempt after each retryable failure (the type's policy, the
    settings' backoff); every attempt's failure is recorded in the job's event log.
    Raises :class:`JobFailed` with the last error when no attempt is left."""
    policy: RetryPolicy = job_type.retry
    while True:
        try:
            return await job_type.run(context, payload)
        except Exception as exc:  # the job boundary: every failure becomes the job's error
            error = as_job_error(exc, context)
        if not policy.should_retry(context.attempt, error["kind"]):
            raise JobFailed({**error, "attempts": context.attempt})
        delay = policy.delay_s(context.attempt, backoff_ms)
        context.log(
            logging.WARNING,
            "job attempt failed; retrying",
            attempt=context.attempt,
            error_kind=error["kind"],
            delay_s=delay,
        )
        try:  # the event log is secondary: a store that cannot be written must not end the job here
            await store.add_event(
                context.job_id,
                "warn",
                f"attempt {context.attempt} failed ({error['kind']}): {error['message']}",
                {"attempt": context.attempt, "error_kind": error["kind"], "retry_in_s": delay},
            )
        except BOOKKEEPING_ERRORS as exc:
            context.log(logging.WARNING, "retry event not recorded", error=str(exc))
        context.progress.set(message=f"attempt {context.attempt} failed ({error['kind']}); retrying in {delay:g} s")
        await anyio.sleep(delay)
        context.attempt += 1
        try:
            await store.update(context.job_id, attempts=context.attempt)
        except BOOKKEEPING_ERRORS as exc:
            context.log(logging.WARNING, "attempt count not recorded", error=str(exc))


def payload_error(exc: msgspec.ValidationError) -> RpcError:
    """A payload that does not match its job type: -32602 with the path inside ``payload``."""
    text = str(exc)
    path = "$"
    if " - at `" in text:
        text, _, tail = text.partition(" - at `")
        path = tail.rstrip("`")
    return RpcError(
        ErrorCode.INVALID_PARAMS,
        f"Invalid params: payload: {text}",
        data={"path": path.replace("$", "$.payload", 1), "detail": text},
    )


def as_job_error(exc: Exception, context: JobContext) -> dict[str, Any]:
    """The job record's error member for an attempt's exception (known errors keep their kind)."""
    if isinstance(exc, JobFailed):
        return exc.error
    if is_duckdb_error(exc) or isinstance(exc, OSError):
        exc = to_application_error(exc)
    if isinstance(exc, RpcError):
        return job_error(exc.kind, mask_secrets(exc.message), failure_class(exc.kind), **mask_secrets(exc.data))
    context.log(logging.ERROR, "job raised an unexpected exception", exc_info=exc, exception=type(exc).__name__)
    return job_error(
        "unhandled_exception", mask_secrets(f"{type(exc).__name__}: {exc}"), None, exception=type(exc).__name__
    )
