"""Durable job records and their event log, in the engine's state store (:mod:`sidecar.state`)."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import msgspec

from sidecar.common.clock import utc_now
from sidecar.jobs.messages import JobEvent
from sidecar.jobs.model import STATUSES, JobRecord, check_transition
from sidecar.state.store import StateDB, transaction

T = TypeVar("T")

JOBS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT,
    payload_json TEXT NOT NULL,
    result_json TEXT,
    error_json TEXT,
    run_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    retry_of TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, seq);
CREATE INDEX IF NOT EXISTS jobs_by_type ON jobs(type, seq);
CREATE TABLE IF NOT EXISTS job_events (
    event_id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    created_at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    meta_json TEXT
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events(job_id, event_id);
"""

_COLUMNS: Final = (
    "job_id, type, status, created_at, updated_at, progress, message, payload_json, result_json, "
    "error_json, run_id, attempts, started_at, finished_at, retry_of"
)
_encode = msgspec.json.encode
_decode = msgspec.json.decode

#: Extra writes that belong to a job's insertion: ``hook(connection, record)`` runs inside the
#: same sqlite transaction (a schedule records its firing with the job it queued: both or neither).
InsertHook = Callable[[sqlite3.Connection, JobRecord], None]


class JobStore:
    """Jobs and job events on a :class:`StateDB`."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    async def insert(self, record: JobRecord, also: InsertHook | None = None) -> None:
        """Store a new job (status queued); ``also`` writes in the same transaction."""
        await self.db.run(_insert, record, also)

    async def transition(self, job_id: str, status: str, **fields: Any) -> JobRecord:
        """Move a job to ``status`` (checked against the transition table), setting ``fields``."""
        return await self.db.run(_transition, job_id, status, fields)

    async def update(self, job_id: str, **fields: Any) -> None:
        """Set fields without a transition (progress, message, attempts)."""
        await self.db.run(_update, job_id, fields)

    async def get(self, job_id: str) -> JobRecord | None:
        """One job, or None."""
        return await self.db.run(_get, job_id)

    async def list(self, status: str | None, job_type: str | None, limit: int) -> list[JobRecord]:
        """Newest first, filtered."""
        return await self.db.run(_list, status, job_type, limit)

    async def ids_with_status(self, status: str) -> builtins.list[str]:
        """Job ids in ``status``, oldest first."""
        return await self.db.run(_ids_with_status, status)

    async def counts(self) -> dict[str, int]:
        """How many jobs are in each status (all statuses present)."""
        return await self.db.run(_counts)

    async def add_event(self, job_id: str, level: str, message: str, meta: dict[str, Any] | None = None) -> None:
        """Append to the job's event log."""
        await self.db.run(_add_event, job_id, level, message, meta)

    async def events(self, job_id: str, limit: int) -> builtins.list[JobEvent]:
        """The job's events, oldest first."""
        return await self.db.run(_events, job_id, limit)


def _row_to_record(row: Sequence[Any]) -> JobRecord:
    (
        job_id,
        job_type,
        status,
        created,
        updated,
        progress,
        message,
        payload,
        result,
        error,
        run_id,
        attempts,
        started,
        finished,
        retry_of,
    ) = row
    return JobRecord(
        job_id=job_id,
        type=job_type,
        status=status,
        created_at=created,
        updated_at=updated,
        progress=float(progress),
        message=message,
        payload=_decode(payload),
        result=_decode(result) if result is not None else None,
        error=_decode(error) if error is not None else None,
        run_id=run_id,
        attempts=int(attempts),
        started_at=started,
        finished_at=finished,
        retry_of=retry_of,
    )


def _insert(connection: sqlite3.Connection, record: JobRecord, also: InsertHook | None) -> None:
    with transaction(connection):
        seq = connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM jobs").fetchone()[0]
        connection.execute(
            f"INSERT INTO jobs ({_COLUMNS}, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.job_id,
                record.type,
                record.status,
                record.created_at,
                record.updated_at,
                record.progress,
                record.message,
                _encode(record.payload),
                None,
                None,
                record.run_id,
                record.attempts,
                None,
                None,
                record.retry_of,
                seq,
            ),
        )
        _event(connection, record.job_id, "info", f"status {record.status}", {"status": record.status})
        if also is not None:
            also(connection, record)


_FIELD_COLUMNS: Final = {
    "progress": ("progress", None),
    "message": ("message", None),
    "result": ("result_json", _encode),
    "error": ("error_json", _encode),
    "attempts": ("attempts", None),
    "started_at": ("started_at", None),
    "finished_at": ("finished_at", None),
    "run_id": ("run_id", None),
}


def _assignments(fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
    names, values = [], []
    for key, value in fields.items():
        column, encode = _FIELD_COLUMNS[key]
        names.append(f"{column} = ?")
        values.append(encode(value) if encode is not None and value is not None else value)
    return names, values


def _transition(connection: sqlite3.Connection, job_id: str, status: str, fields: dict[str, Any]) -> JobRecord:
    with transaction(connection):
        row = connection.execute("SELECT status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        check_transition(row[0], status)
        names, values = _assignments(fields)
        now = utc_now()
        connection.execute(
            f"UPDATE jobs SET {', '.join(['status = ?', 'updated_at = ?', *names])} WHERE job_id = ?",
            (status, now, *values, job_id),
        )
        meta = {"status": status, "previous": row[0]}
        if fields.get("error"):
            meta["error_kind"] = fields["error"].get("kind")
        _event(connection, job_id, "error" if status == "failed" else "info", f"status {status}", meta)
        record = _get(connection, job_id)
        assert record is not None  # the row was updated in this same transaction
        return record


def _update(connection: sqlite3.Connection, job_id: str, fields: dict[str, Any]) -> None:
    names, values = _assignments(fields)
    with transaction(connection):
        connection.execute(
            f"UPDATE jobs SET {', '.join(['updated_at = ?', *names])} WHERE job_id = ?", (utc_now(), *values, job_id)
        )


def _get(connection: sqlite3.Connection, job_id: str) -> JobRecord | None:
    row = connection.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    return _row_to_record(row) if row else None


def _list(connection: sqlite3.Connection, status: str | None, job_type: str | None, limit: int) -> list[JobRecord]:
    clauses, args = [], []
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    if job_type is not None:
        clauses.append("type = ?")
        args.append(job_type)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = connection.execute(f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY seq DESC LIMIT ?", (*args, limit))
    return [_row_to_record(row) for row in rows]


def _ids_with_status(connection: sqlite3.Connection, status: str) -> list[str]:
    return [row[0] for row in connection.execute("SELECT job_id FROM jobs WHERE status = ? ORDER BY seq", (status,))]


def _counts(connection: sqlite3.Connection) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in connection.execute("SELECT status, count(*) FROM jobs GROUP BY status"):
        counts[status] = int(count)
    return counts


def _event(connection: sqlite3.Connection, job_id: str, level: str, message: str, meta: dict[str, Any] | None) -> None:
    connection.execute(
        "INSERT INTO job_events (job_id, created_at, level, message, meta_json) VALUES (?, ?, ?, ?, ?)",
        (job_id, utc_now(), level, message, _encode(meta) if meta is not None else None),
    )


def _add_event(
    connection: sqlite3.Connection, job_id: str, level: str, message: str, meta: dict[str, Any] | None
) -> None:
    with transaction(connection):
        _event(connection, job_id, level, message, meta)


def _events(connection: sqlite3.Connection, job_id: str, limit: int) -> list[JobEvent]:
    rows = connection.execute(
        "SELECT event_id, created_at, level, message, meta_json FROM job_events WHERE job_id = ? ORDER BY event_id LIMIT ?",
        (job_id, limit),
    )
    return [
        JobEvent(event_id=e, created_at=c, level=lvl, message=m, meta=_decode(meta) if meta else None)
        for e, c, lvl, m, meta in rows
    ]
