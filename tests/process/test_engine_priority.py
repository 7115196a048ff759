"""DuckDB's threads run at a lower priority than the protocol thread (Linux), in the real process.

Read from /proc/<pid>/task/*/stat (the nice value is field 19): after the engine
opened the database and ran a query, the main thread (the event loop) keeps the
process's nice value and every thread that ran DuckDB has the engine's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import pytest

from sidecar.database.thread_priority import ENGINE_NICE
from tests.fixtures.engine.support import collecting
from tests.support import running_sidecar

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature"),
]

SCHED_IDLE = 5
LONG_QUERY = "SELECT count(*) FROM range(1000000000000) t(i) WHERE i % 7 = 3"


def thread_nice(pid: int, field: int = 16) -> dict[int, int]:
    """tid -> nice value (or another numeric field of /proc stat) of every thread of ``pid``."""
    values = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended while we looked
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": field 3 is fields[0]
        values[int(task.name)] = int(fields[field])  # field 19: nice; field 41: scheduling policy
    return values


async def test_engine_threads_are_niced_and_the_loop_is_not(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        pid = (await sidecar.call("system.status"))["pid"]  # the Python process (behind a onefile bootstrap too)
        before = thread_nice(pid)
        assert set(before.values()) == {before[pid]}, "a thread was lowered before the engine started"
        await sidecar.call("db.query", {"sql": "SELECT 42"})
        job = (await sidecar.call("jobs.submit", {"type": "export", "payload": {"sql": LONG_QUERY}}))["job_id"]
        await notes.status(job, "running")
        await notes.wait(
            lambda n: n.method == "job.progress" and n.params["job_id"] == job and n.params["progress"] > 0
        )
        during = thread_nice(pid)
        policies = thread_nice(pid, field=38)
        await sidecar.call("jobs.cancel", {"job_id": job})
        await notes.status(job, "canceled")
        deadline = time.monotonic() + 5
        after_job = thread_nice(pid, field=38)
        while SCHED_IDLE in after_job.values() and time.monotonic() < deadline:  # the thread is ending
            await anyio.sleep(0.05)
            after_job = thread_nice(pid, field=38)
        # A query right after the job: requests never run on an idle-class thread.
        await sidecar.call("db.query", {"sql": "SELECT 43"})
    loop_nice = before[pid]
    assert during[pid] == loop_nice, "the event loop's thread must keep its priority"
    lowered = {tid for tid, nice in during.items() if nice == max(loop_nice, ENGINE_NICE)}
    # DuckDB's own threads (started when the database opened) and the worker running the job.
    assert len(lowered) >= 2, f"expected DuckDB's threads at nice {ENGINE_NICE}: {during}"
    assert pid not in lowered or loop_nice >= ENGINE_NICE
    # The job's own thread runs under SCHED_IDLE (policy 5); the loop keeps SCHED_OTHER (0).
    assert policies[pid] == 0 and SCHED_IDLE in policies.values(), f"no idle-class job thread: {policies}"
    assert SCHED_IDLE not in after_job.values(), f"the job's idle-class thread outlived the job: {after_job}"
