"""Job states, the one table of legal transitions, and the record hosts see."""

from typing import Any, Final, Literal

from msgspec import Struct

JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]

QUEUED: Final = "queued"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELED: Final = "canceled"

STATUSES: Final = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, CANCELED})

#: status -> the statuses it may move to. Nothing leaves a terminal state.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    QUEUED: frozenset({RUNNING, CANCELED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, CANCELED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    CANCELED: frozenset(),
}


class IllegalTransition(Exception):
    """A move the table does not allow (a programming error)."""


def check_transition(current: str, new: str) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> new`` is in the table."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"job cannot move from {current} to {new}")


def job_error(kind: str, message: str, failure_class: str | None = None, **data: Any) -> dict[str, Any]:
    """The ``error`` member of a job record: kind, message, class (source, permission, network,
    sql, interrupted; null when it does not apply), plus detail fields of the kind."""
    return {"kind": kind, "message": message, "class": failure_class, **data}


class JobRecord(Struct):
    """A job as jobs.get and jobs.list return it (the job fields the app's job API was designed with, plus bookkeeping).

    job_id: a UUIDv7. type: the job type. status: queued, running, succeeded, failed, canceled.
    created_at, updated_at: ISO 8601 UTC. progress: 0..1 (monotonic). message: the latest progress text.
    payload: what was submitted (secret references by name only). result: the type's result once succeeded.
    error: {kind, message, class, ...} once failed or canceled. run_id: the pipeline run, if any.
    attempts: attempts started so far. started_at, finished_at: ISO 8601 UTC, when known.
    retry_of: the job this one re-runs after an interruption, if any.
    """

    job_id: str
    type: str
    status: JobStatus
    created_at: str
    updated_at: str
    progress: float
    message: str | None
    payload: dict[str, Any]
    result: Any
    error: dict[str, Any] | None
    run_id: str | None = None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    retry_of: str | None = None
