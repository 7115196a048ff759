"""The run ledger: every pipeline run, its steps, and each state transition.

Kept in the same sqlite3 file as the jobs (state.sqlite3; see
sidecar/jobs/store.py for why sqlite). Runs and steps move through
pending -> running -> success | failed | skipped (the table below); each move
is also appended to ``run_transitions`` with its time, so a later sync can
push a run and its history idempotently, keyed by run_id.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

import msgspec

from sidecar.common.clock import utc_now
from sidecar.pipelines.records import RunRecord, StepRecord, Transition
from sidecar.state.store import StateDB, transaction

#: status -> where it may go, for runs and steps alike.
RUN_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending": frozenset({"running", "skipped", "failed"}),
    "running": frozenset({"success", "failed"}),
    "success": frozenset(),
    "failed": frozenset(),
    "skipped": frozenset(),
}

LEDGER_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job_id TEXT,
    pipeline TEXT NOT NULL,
    definition_sha256 TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    source TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    duration_ms INTEGER,
    error_json TEXT,
    report_dir TEXT
);
CREATE TABLE IF NOT EXISTS run_steps (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    duration_ms INTEGER,
    rows_affected INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_json TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS run_transitions (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    step INTEGER,
    from_status TEXT,
    to_status TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_transitions_by_run ON run_transitions(run_id, seq);
"""

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class IllegalRunTransition(Exception):
    """A run or step move the table does not allow (a programming error)."""


class RunLedger:
    """Runs, steps and transitions on the shared :class:`StateDB`."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    async def create(
        self,
        run_id: str,
        job_id: str | None,
        pipeline: str,
        sha256: str,
        definition: dict[str, Any],
        source: str | None,
        step_names: list[str],
    ) -> None:
        """Record a new run (pending) and its steps (pending)."""
        await self.db.run(_create, run_id, job_id, pipeline, sha256, definition, source, step_names)

    async def exists(self, run_id: str) -> bool:
        """True if ``run_id`` is already in the ledger."""
        return await self.db.run(
            lambda c: c.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None
        )

    async def move_run(self, run_id: str, status: str, **fields: Any) -> None:
        """Transition the run (checked), setting ``fields`` (started_at, finished_at, duration_ms, error, report_dir, job_id)."""
        await self.db.run(_move, "runs", run_id, None, status, fields)

    async def move_step(self, run_id: str, index: int, status: str, **fields: Any) -> None:
        """Transition one step (checked)."""
        await self.db.run(_move, "run_steps", run_id, index, status, fields)

    async def set_run(self, run_id: str, **fields: Any) -> None:
        """Set run fields without a transition (report_dir, job_id)."""
        await self.db.run(_set, "runs", run_id, None, fields)

    async def set_step(self, run_id: str, index: int, **fields: Any) -> None:
        """Set step fields without a transition (attempts)."""
        await self.db.run(_set, "run_steps", run_id, index, fields)

    async def get(self, run_id: str) -> RunRecord | None:
        """The run with its steps and transitions, or None."""
        return await self.db.run(_get, run_id)

    async def list(self, status: str | None, limit: int) -> list[RunRecord]:
        """Newest first."""
        return await self.db.run(_list, status, limit)

    async def definition(self, run_id: str) -> dict[str, Any] | None:
        """The definition the run was created with."""
        return await self.db.run(_definition, run_id)


def _create(
    connection: sqlite3.Connection,
    run_id: str,
    job_id: str | None,
    pipeline: str,
    sha256: str,
    definition: dict[str, Any],
    source: str | None,
    step_names: list[str],
) -> None:
    now = utc_now()
    with transaction(connection):
        connection.execute(
            "INSERT INTO runs (run_id, job_id, pipeline, definition_sha256, definition_json, source, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (run_id, job_id, pipeline, sha256, _encode(definition), source, now, now),
        )
        connection.executemany(
            "INSERT INTO run_steps (run_id, idx, name, status) VALUES (?, ?, ?, 'pending')",
            [(run_id, index, name) for index, name in enumerate(step_names)],
        )
        connection.execute(
            "INSERT INTO run_transitions (run_id, step, from_status, to_status, at) VALUES (?, NULL, NULL, 'pending', ?)",
            (run_id, now),
        )


_JSON_FIELDS: Final = {"error": "error_json"}


def _assign(fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
    names, values = [], []
    for key, value in fields.items():
        column = _JSON_FIELDS.get(key, key)
        names.append(f"{column} = ?")
        values.append(_encode(value) if key in _JSON_FIELDS and value is not None else value)
    return names, values


def _where(table: str, index: int | None) -> str:
    return "run_id = ?" if table == "runs" else "run_id = ? AND idx = ?"


def _keys(run_id: str, index: int | None) -> tuple[Any, ...]:
    return (run_id,) if index is None else (run_id, index)


def _move(
    connection: sqlite3.Connection, table: str, run_id: str, index: int | None, status: str, fields: dict[str, Any]
) -> None:
    now = utc_now()
    with transaction(connection):
        row = connection.execute(
            f"SELECT status FROM {table} WHERE {_where(table, index)}", _keys(run_id, index)
        ).fetchone()
        if row is None:
            raise KeyError((run_id, index))
        if status not in RUN_TRANSITIONS[row[0]]:
            raise IllegalRunTransition(f"{table} {run_id}/{index}: {row[0]} -> {status}")
        names, values = _assign(fields)
        if table == "runs":
            names.append("updated_at = ?")
            values.append(now)
        connection.execute(
            f"UPDATE {table} SET {', '.join(['status = ?', *names])} WHERE {_where(table, index)}",
            (status, *values, *_keys(run_id, index)),
        )
        if table == "run_steps":
            connection.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", (now, run_id))
        connection.execute(
            "INSERT INTO run_transitions (run_id, step, from_status, to_status, at) VALUES (?, ?, ?, ?, ?)",
            (run_id, index, row[0], status, now),
        )


def _set(connection: sqlite3.Connection, table: str, run_id: str, index: int | None, fields: dict[str, Any]) -> None:
    names, values = _assign(fields)
    with transaction(connection):
        connection.execute(
            f"UPDATE {table} SET {', '.join(names)} WHERE {_where(table, index)}", (*values, *_keys(run_id, index))
        )


_RUN_COLUMNS: Final = (
    "run_id, job_id, pipeline, definition_sha256, status, created_at, updated_at, started_at, finished_at, "
    "duration_ms, error_json, report_dir, source"
)


def _get(connection: sqlite3.Connection, run_id: str) -> RunRecord | None:
    row = connection.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return _record(connection, row) if row else None


def _list(connection: sqlite3.Connection, status: str | None, limit: int) -> list[RunRecord]:
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = connection.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY created_at DESC, run_id DESC LIMIT ?", (*args, limit)
    ).fetchall()
    return [_record(connection, row) for row in rows]


def _record(connection: sqlite3.Connection, row: tuple[Any, ...]) -> RunRecord:
    (
        run_id,
        job_id,
        pipeline,
        sha,
        status,
        created,
        updated,
        started,
        finished,
        duration,
        error,
        report_dir,
        source,
    ) = row
    steps = [
        StepRecord(
            index=idx,
            name=name,
            status=st,
            started_at=sa,
            finished_at=fa,
            duration_ms=dm,
            rows_affected=ra,
            attempts=att,
            error=_decode(err) if err else None,
        )
        for idx, name, st, sa, fa, dm, ra, att, err in connection.execute(
            "SELECT idx, name, status, started_at, finished_at, duration_ms, rows_affected, attempts, error_json"
            " FROM run_steps WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )
    ]
    transitions = [
        Transition(step=step, from_status=fs, to_status=ts, at=at)
        for step, fs, ts, at in connection.execute(
            "SELECT step, from_status, to_status, at FROM run_transitions WHERE run_id = ? ORDER BY seq", (run_id,)
        )
    ]
    return RunRecord(
        run_id=run_id,
        job_id=job_id,
        pipeline=pipeline,
        definition_sha256=sha,
        status=status,
        created_at=created,
        updated_at=updated,
        started_at=started,
        finished_at=finished,
        duration_ms=duration,
        error=_decode(error) if error else None,
        report_dir=report_dir,
        source=source,
        steps=steps,
        transitions=transitions,
    )


def _definition(connection: sqlite3.Connection, run_id: str) -> dict[str, Any] | None:
    row = connection.execute("SELECT definition_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return _decode(row[0]) if row else None
