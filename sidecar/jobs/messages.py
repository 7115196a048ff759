"""Params and results of the ``jobs.*`` methods, and the two job notifications."""

from typing import Annotated, Any

from msgspec import Meta, Struct

from sidecar.jobs.model import JobRecord, JobStatus

JobId = Annotated[str, Meta(min_length=1, max_length=64)]


class SubmitParams(Struct, forbid_unknown_fields=True):
    """type: ingest, export, pipeline.run or maintenance.compact. payload: the type's payload (see each type).
    run_id: for pipeline.run, the run's UUID (also accepted in the payload); a new UUIDv7 when absent.
    """

    type: Annotated[str, Meta(min_length=1)]
    payload: dict[str, Any] = {}
    run_id: str | None = None


class SubmitResult(Struct):
    """job_id: the new job's UUIDv7. status: queued. run_id: the pipeline run id, for pipeline.run."""

    job_id: str
    status: JobStatus
    run_id: str | None = None


class JobIdParams(Struct, forbid_unknown_fields=True):
    """job_id: the job."""

    job_id: JobId


class ListParams(Struct, forbid_unknown_fields=True):
    """status, type: filters. limit: most records returned, newest first (default 100, at most 1000)."""

    status: JobStatus | None = None
    type: str | None = None
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100


class ListResult(Struct):
    """jobs: matching records, newest first."""

    jobs: list[JobRecord]


class CancelResult(Struct):
    """job: the record after the cancel (status canceled when it took effect).
    canceled: false when the job had already finished.
    """

    job: JobRecord
    canceled: bool


class EventsParams(Struct, forbid_unknown_fields=True):
    """job_id: the job. limit: most events, oldest first (default 200)."""

    job_id: JobId
    limit: Annotated[int, Meta(ge=1, le=10_000)] = 200


class JobEvent(Struct):
    """event_id: increasing. created_at: ISO 8601 UTC. level: info, warn or error. message: text. meta: detail."""

    event_id: int
    created_at: str
    level: str
    message: str
    meta: dict[str, Any] | None


class EventsResult(Struct):
    """events: the job's event log (transitions, retries), oldest first."""

    events: list[JobEvent]


class JobStatusNote(Struct, omit_defaults=True):
    """``job.status`` notification, sent on every transition.

    job_id, type, status: the job and its new status. previous: the status it left (absent when new).
    progress, message: as in the record. error: on failed/canceled. result: on succeeded.
    run_id: pipeline run. attempts: attempts so far. updated_at: ISO 8601 UTC.
    recovered: true when the transition was made at start-up for a job a previous process left running.
    requeued_as: the id of the new job queued to re-run an interrupted idempotent job.
    """

    job_id: str
    type: str
    status: JobStatus
    updated_at: str
    progress: float
    previous: JobStatus | None = None
    message: str | None = None
    error: dict[str, Any] | None = None
    result: Any = None
    run_id: str | None = None
    attempts: int = 0
    recovered: bool = False
    requeued_as: str | None = None


class JobProgressNote(Struct):
    """``job.progress`` notification: progress 0..1 (never decreasing), message, at most 10 a second per job."""

    job_id: str
    progress: float
    message: str | None


def status_note(
    record: JobRecord, previous: JobStatus | None, recovered: bool = False, requeued_as: str | None = None
) -> JobStatusNote:
    """The ``job.status`` notification for ``record``, which just left ``previous``."""
    return JobStatusNote(
        job_id=record.job_id,
        type=record.type,
        status=record.status,
        updated_at=record.updated_at,
        progress=record.progress,
        previous=previous,
        message=record.message,
        error=record.error,
        result=record.result,
        run_id=record.run_id,
        attempts=record.attempts,
        recovered=recovered,
        requeued_as=requeued_as,
    )
