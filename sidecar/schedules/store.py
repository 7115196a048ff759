"""Schedules and their firing history, durable in the engine's state store (:mod:`sidecar.state`).

A firing is written in **one** sqlite transaction with the schedule's new state (its next
unhandled due time, ``cursor_ms``) and, when it queues a job, with that job's row (through
the job store's insert hook). A SIGKILL at any moment therefore leaves either all of it or
none of it: never a job without its firing, nor a firing whose due time comes round again
at the next start (a double firing). Due times are integer milliseconds since the epoch;
the record shows them as ISO 8601 UTC.

Each schedule keeps its latest ``HISTORY_KEEP`` firings; older ones are pruned in the same
transaction that adds one, so the history is bounded however often a schedule fires.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Any, Final

import msgspec

from sidecar.common.clock import utc_iso, utc_now
from sidecar.jobs.model import JobRecord
from sidecar.jobs.store import InsertHook
from sidecar.schedules.messages import Firing, JobSpec, Missed, Origin, Outcome, Overlap, Reason, Trigger
from sidecar.schedules.plan import Waiting
from sidecar.state.store import StateDB, transaction

#: Firings kept per schedule.
HISTORY_KEEP: Final = 1000

SCHEDULES_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS schedules (
    schedule_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    trigger_json TEXT NOT NULL,
    job_json TEXT NOT NULL,
    missed TEXT NOT NULL,
    overlap TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    origin TEXT NOT NULL DEFAULT 'local',
    anchor_ms INTEGER NOT NULL,
    cursor_ms INTEGER,
    waiting_json TEXT,
    last_due_ms INTEGER,
    last_outcome TEXT,
    last_job_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_firings (
    firing_id INTEGER PRIMARY KEY,
    schedule_id TEXT NOT NULL REFERENCES schedules(schedule_id) ON DELETE CASCADE,
    due_ms INTEGER,
    first_due_ms INTEGER,
    fired_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    count INTEGER NOT NULL,
    job_id TEXT,
    error_json TEXT
);
CREATE INDEX IF NOT EXISTS schedule_firings_by_schedule ON schedule_firings(schedule_id, firing_id);
"""

_COLUMNS: Final = (
    "schedule_id, name, trigger_json, job_json, missed, overlap, enabled, origin, anchor_ms, cursor_ms, "
    "waiting_json, last_due_ms, last_outcome, last_job_id, created_at, updated_at"
)
_encode = msgspec.json.encode


@dataclass(frozen=True)
class StoredSchedule:
    """One row of ``schedules``: the record's fields plus the scheduler's state.

    anchor_ms: when the trigger was set (interval triggers count from it). cursor_ms: the next
    due time not yet handled (None: never due again). waiting: a firing that waits for the
    previous job (overlap queue). last_due_ms: the due time of the latest firing.
    """

    schedule_id: str
    name: str
    trigger: Trigger
    job: JobSpec
    missed: Missed
    overlap: Overlap
    enabled: bool
    origin: Origin
    anchor_ms: int
    cursor_ms: int | None
    waiting: Waiting | None
    last_due_ms: int | None
    last_outcome: Outcome | None
    last_job_id: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class NewFiring:
    """A firing to record (the store adds its id and the time it was recorded)."""

    due_ms: int | None
    first_ms: int | None
    outcome: Outcome
    reason: Reason | None
    count: int
    job_id: str | None = None
    error: dict[str, Any] | None = None


def iso_ms(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC (None stays None)."""
    return None if ms is None else utc_iso(ms / 1000)


class ScheduleStore:
    """Schedules and firings on a :class:`StateDB` (one worker thread at a time)."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    async def load(self) -> list[StoredSchedule]:
        """Every schedule, oldest first."""
        return await self.db.run(_load)

    async def insert(self, schedule: StoredSchedule) -> None:
        """Store a new schedule."""
        await self.db.run(_insert, schedule)

    async def save(self, schedule: StoredSchedule, firing: NewFiring | None = None) -> None:
        """Write a schedule's new state, with the firing that led to it (one transaction)."""
        await self.db.run(_save_with_firing, schedule, firing)

    async def delete(self, schedule_id: str) -> None:
        """Remove a schedule and its history (its jobs are not touched)."""
        await self.db.run(_delete, schedule_id)

    async def history(self, schedule_id: str, limit: int) -> list[Firing]:
        """The latest firings, newest first."""
        return await self.db.run(_history, schedule_id, limit)


def firing_hook(schedule: StoredSchedule, firing: NewFiring) -> InsertHook:
    """The job store's insert hook that records ``firing`` and the schedule's new state in the
    job's own transaction, both with the job's id (known only there)."""

    def write(connection: sqlite3.Connection, record: JobRecord) -> None:
        _write(connection, replace(schedule, last_job_id=record.job_id), replace(firing, job_id=record.job_id))

    return write


# ---------------------------------------------------------------- sqlite, in the worker thread


def _row(row: tuple[Any, ...]) -> StoredSchedule:
    (
        sid,
        name,
        trigger,
        job,
        missed,
        overlap,
        enabled,
        origin,
        anchor,
        cursor,
        waiting,
        last_due,
        outcome,
        job_id,
        created,
        updated,
    ) = row
    return StoredSchedule(
        schedule_id=sid,
        name=name,
        trigger=msgspec.json.decode(trigger, type=Trigger),
        job=msgspec.json.decode(job, type=JobSpec),
        missed=missed,
        overlap=overlap,
        enabled=bool(enabled),
        origin=origin,
        anchor_ms=int(anchor),
        cursor_ms=None if cursor is None else int(cursor),
        waiting=None if waiting is None else msgspec.json.decode(waiting, type=Waiting),
        last_due_ms=None if last_due is None else int(last_due),
        last_outcome=outcome,
        last_job_id=job_id,
        created_at=created,
        updated_at=updated,
    )


def _values(schedule: StoredSchedule) -> tuple[Any, ...]:
    return (
        schedule.schedule_id,
        schedule.name,
        _encode(schedule.trigger),
        _encode(schedule.job),
        schedule.missed,
        schedule.overlap,
        int(schedule.enabled),
        schedule.origin,
        schedule.anchor_ms,
        schedule.cursor_ms,
        None if schedule.waiting is None else _encode(schedule.waiting),
        schedule.last_due_ms,
        schedule.last_outcome,
        schedule.last_job_id,
        schedule.created_at,
        schedule.updated_at,
    )


def _load(connection: sqlite3.Connection) -> list[StoredSchedule]:
    return [_row(row) for row in connection.execute(f"SELECT {_COLUMNS} FROM schedules ORDER BY seq")]


def _insert(connection: sqlite3.Connection, schedule: StoredSchedule) -> None:
    with transaction(connection):
        seq = connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM schedules").fetchone()[0]
        marks = ", ".join("?" * (len(_COLUMNS.split(",")) + 1))
        connection.execute(f"INSERT INTO schedules ({_COLUMNS}, seq) VALUES ({marks})", (*_values(schedule), seq))


def _save_with_firing(connection: sqlite3.Connection, schedule: StoredSchedule, firing: NewFiring | None) -> None:
    with transaction(connection):
        _write(connection, schedule, firing)


def _write(connection: sqlite3.Connection, schedule: StoredSchedule, firing: NewFiring | None) -> None:
    """The schedule's state and its firing (no transaction of its own: the caller's holds both)."""
    names = [name.strip() for name in _COLUMNS.split(",")][1:]
    assignments = ", ".join(f"{name} = ?" for name in names)
    values = _values(schedule)
    updated = connection.execute(
        f"UPDATE schedules SET {assignments} WHERE schedule_id = ?", (*values[1:], schedule.schedule_id)
    )
    if updated.rowcount == 0 or firing is None:
        return  # deleted meanwhile (its firing goes with it), or a change without a firing
    connection.execute(
        "INSERT INTO schedule_firings (schedule_id, due_ms, first_due_ms, fired_at, outcome, reason, count, job_id,"
        " error_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            schedule.schedule_id,
            firing.due_ms,
            firing.first_ms,
            utc_now(),
            firing.outcome,
            firing.reason,
            firing.count,
            firing.job_id,
            None if firing.error is None else _encode(firing.error),
        ),
    )
    connection.execute(
        "DELETE FROM schedule_firings WHERE schedule_id = ? AND firing_id <= ("
        " SELECT firing_id FROM schedule_firings WHERE schedule_id = ? ORDER BY firing_id DESC LIMIT 1 OFFSET ?)",
        (schedule.schedule_id, schedule.schedule_id, HISTORY_KEEP),
    )


def _delete(connection: sqlite3.Connection, schedule_id: str) -> None:
    with transaction(connection):
        connection.execute("DELETE FROM schedule_firings WHERE schedule_id = ?", (schedule_id,))
        connection.execute("DELETE FROM schedules WHERE schedule_id = ?", (schedule_id,))


def _history(connection: sqlite3.Connection, schedule_id: str, limit: int) -> list[Firing]:
    rows = connection.execute(
        "SELECT firing_id, due_ms, first_due_ms, fired_at, outcome, reason, count, job_id, error_json"
        " FROM schedule_firings WHERE schedule_id = ? ORDER BY firing_id DESC LIMIT ?",
        (schedule_id, limit),
    )
    return [
        Firing(
            firing_id=int(firing_id),
            schedule_id=schedule_id,
            due_at=iso_ms(due),
            first_due_at=iso_ms(first),
            fired_at=fired,
            outcome=outcome,
            reason=reason,
            count=int(count),
            job_id=job_id,
            error=None if error is None else msgspec.json.decode(error),
        )
        for firing_id, due, first, fired, outcome, reason, count, job_id, error in rows
    ]
