"""A bug in the job pool's own bookkeeping fails that job, never the pool or the process.

Real state store (sqlite on disk), real settings, real pool and job type; the bug is simulated:
the store's ``transition`` raises an unexpected RuntimeError once, for the move to running (a
stand-in for defects like the "cannot move from running to running" that once ended the sidecar).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from msgspec import Struct

from sidecar.jobs.pool import JobPool
from sidecar.jobs.store import JOBS_SCHEMA, JobStore
from sidecar.jobs.types import JobContext, JobType
from sidecar.settings.store import SettingsStore
from sidecar.state.store import StateDB

pytestmark = pytest.mark.anyio


class Empty(Struct, forbid_unknown_fields=True):
    """No payload."""


async def _ok(context: JobContext, payload: Empty) -> str:
    return "done"


async def test_a_worker_bug_fails_the_job_and_the_pool_keeps_serving(tmp_path: Path) -> None:
    settings = SettingsStore(tmp_path)
    await settings.load()
    state = StateDB(tmp_path / "state.sqlite3")
    await state.open([JOBS_SCHEMA])
    store = JobStore(state)
    real_transition = store.transition
    broken = {"left": 1}

    async def transition(job_id: str, status: str, **fields: Any) -> Any:
        if status == "running" and broken["left"]:
            broken["left"] -= 1
            raise RuntimeError("simulated bookkeeping bug")
        return await real_transition(job_id, status, **fields)

    store.transition = transition  # type: ignore[method-assign]
    notes: list[tuple[str, Any]] = []

    async def notify(method: str, params: Any) -> None:
        notes.append((method, params))

    services = SimpleNamespace(settings=settings, notify=notify)
    pool = JobPool(store, {"ok": JobType(name="ok", payload=Empty, run=_ok)}, services)  # type: ignore[arg-type]
    try:
        async with anyio.create_task_group() as tg:
            await pool.start(tg)
            first = await pool.submit("ok", {}, None)
            second = await pool.submit("ok", {}, None)
            with anyio.fail_after(10):
                while True:
                    a, b = await store.get(first.job_id), await store.get(second.job_id)
                    assert a is not None and b is not None
                    if a.status not in ("queued", "running") and b.status not in ("queued", "running"):
                        break
                    await anyio.sleep(0.02)
            assert a.status == "failed" and a.error is not None and a.error["kind"] == "internal", a
            assert b.status == "succeeded" and b.result == "done", b
            failed = [n for m, n in notes if m == "job.status" and n.job_id == first.job_id and n.status == "failed"]
            assert failed, "the host was not told the job failed"
            tg.cancel_scope.cancel()
    finally:
        await state.close()
