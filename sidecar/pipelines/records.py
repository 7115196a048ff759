"""The run ledger's records as hosts (and a later sync) see them."""

from typing import Any, Literal

from msgspec import Struct

RunStatus = Literal["pending", "running", "success", "failed", "skipped"]


class StepRecord(Struct):
    """index: 0-based position. name: the step. status: pending, running, success, failed, skipped.
    started_at, finished_at: ISO 8601 UTC. duration_ms: wall time. rows_affected: rows the step changed
    (for a SELECT: rows it returned). attempts: attempts made. error: {kind, message, class} on failure.
    """

    index: int
    name: str
    status: RunStatus
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    rows_affected: int | None
    attempts: int
    error: dict[str, Any] | None


class Transition(Struct):
    """step: the step index, null for the run itself. from_status: null when created. to_status. at: ISO 8601 UTC."""

    step: int | None
    from_status: str | None
    to_status: str
    at: str


class RunRecord(Struct):
    """A pipeline run as the ledger holds it (what a sync pushes, keyed by run_id)."""

    run_id: str
    job_id: str | None
    pipeline: str
    definition_sha256: str
    status: RunStatus
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    error: dict[str, Any] | None
    report_dir: str | None
    source: str | None
    steps: list[StepRecord]
    transitions: list[Transition]
