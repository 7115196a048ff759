"""A stop while the disk does not answer flushes, or while a worker thread is stuck (issue-log 0040).

The shutdown hooks close DuckDB and the state store, and both closes flush to
disk (DuckDB's CHECKPOINT, sqlite's checkpoint of its WAL). On a saturated disk
one flush took seconds, so a SIGTERM did not end the process within the hosts'
stop step. These tests stall every flush on purpose (an LD_PRELOAD shim, built
here) and check, by pid, that the process still ends within the step the hosts
give SIGTERM and ``system.shutdown``, with its SHUTDOWN line and status 0, and
that the next start finds what was written (the write-ahead logs replay).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from sidecar_host import RpcCallError, SidecarClient, SidecarExited
from sidecar_host.records import SHUTDOWN_REQUEST_TIMEOUT_S, SIGTERM_TIMEOUT_S
from tests.fixtures.engine.support import LONG_QUERY
from tests.support import REPO, running_sidecar, sidecar_args, sidecar_env, wait_gone

SHIM_SOURCE = REPO / "tests" / "fixtures" / "stall_sync" / "stall_sync.c"
#: Far longer than any stop step: a stop that waits for the flush cannot pass.
STALL_S = "60"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD shim: Linux only")


def ended_within_the_step(sidecar: SidecarClient, python_pid: int, status: int | None, reason: str, said: str) -> str:
    """The stop fitted the host's step: status 0, both pids gone, ``SHUTDOWN reason=<reason>``.
    ``said`` opens the message of a failed status; returns the stderr tail."""
    left = wait_gone([python_pid, sidecar.pid], 0.5)
    stderr = "\n".join(sidecar.stderr_tail(80))
    assert status == 0, f"{said} (status {status}); stderr:\n{stderr}"
    assert left == [], f"still alive: {left}"
    assert sidecar.shutdown is not None and sidecar.shutdown.get("reason") == reason
    return stderr


@pytest.fixture
def stall_shim(tmp_path: Path) -> Path:
    """The shim, compiled for this machine (skipped without a C compiler)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (cc/gcc) to build the fsync-stalling shim")
    target = tmp_path / "stall_sync.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(target), str(SHIM_SOURCE), "-ldl"], check=True)
    return target


@pytest.mark.anyio
@pytest.mark.parametrize("stop", ["sigterm", "shutdown_request"])
async def test_a_stop_does_not_wait_for_a_stalled_flush(
    data_dir: Path, tmp_path: Path, stall_shim: Path, stop: str
) -> None:
    flag = tmp_path / "stall-now"
    env = sidecar_env(LD_PRELOAD=str(stall_shim), STALL_SYNC_FLAG=str(flag), STALL_SYNC_SECONDS=STALL_S)
    async with SidecarClient.spawn(sidecar_args(data_dir), env=env, stop_on_exit=False) as sidecar:
        assert sidecar.boot is not None
        python_pid = int(sidecar.boot.get("pid"))
        # Opens DuckDB and the state store, and leaves both something to flush at close.
        await sidecar.call("db.query", {"sql": "CREATE TABLE kept AS SELECT 42 AS answer", "allow_write": True})
        await sidecar.call("jobs.list")
        flag.touch()  # from now on every fsync/fdatasync hangs for a minute
        if stop == "sigterm":
            sidecar.send_signal(signal.SIGTERM)
            step = SIGTERM_TIMEOUT_S
        else:
            await sidecar.call("system.shutdown")
            step = SHUTDOWN_REQUEST_TIMEOUT_S
        status = await sidecar.wait(step)
        reason = "signal" if stop == "sigterm" else "normal"
        stderr = ended_within_the_step(
            sidecar, python_pid, status, reason, f"not ended within the host's {step:g} s step"
        )
        assert "files not flushed at shutdown" in stderr

    flag.unlink()
    async with running_sidecar(data_dir) as again:  # no stall: what was written is there
        answer = await again.call("db.query", {"sql": "SELECT answer FROM kept"})
        assert answer["rows"] == [[42]]
        assert isinstance(await again.call("jobs.list"), dict)


@pytest.mark.anyio
async def test_a_stop_does_not_wait_for_a_log_write_that_hangs(
    data_dir: Path, tmp_path: Path, stall_shim: Path
) -> None:
    """The log writer thread blocked in a write to the log file (seen once in the launch soak:
    `exit` logged, then the process alive past 2 s): the exit must not wait for it."""
    flag = tmp_path / "stall-now"
    env = sidecar_env(
        LD_PRELOAD=str(stall_shim),
        STALL_SYNC_FLAG=str(flag),
        STALL_SYNC_SECONDS=STALL_S,
        STALL_WRITE_SUFFIX="/logs/sidecar.log",
    )
    async with SidecarClient.spawn(sidecar_args(data_dir), env=env, stop_on_exit=False) as sidecar:
        assert sidecar.boot is not None
        python_pid = int(sidecar.boot.get("pid"))
        await sidecar.call("system.ping")
        flag.touch()  # from now on a write to the log file hangs for a minute
        sidecar.send_signal(signal.SIGTERM)
        status = await sidecar.wait(SIGTERM_TIMEOUT_S)
        stderr = ended_within_the_step(
            sidecar, python_pid, status, "signal", "not ended within the host's SIGTERM step"
        )
        assert "log writer" in stderr


@pytest.mark.anyio
async def test_a_worker_thread_stuck_in_a_blocking_call_does_not_hold_the_exit(data_dir: Path) -> None:
    """A call abandoned at shutdown (a DuckDB statement, a stdin read on Windows) keeps its
    thread; the interpreter's exit used to join it, so the process lived on until the watchdog."""
    async with SidecarClient.spawn(sidecar_args(data_dir), env=sidecar_env(), stop_on_exit=False) as sidecar:
        assert sidecar.boot is not None
        python_pid = int(sidecar.boot.get("pid"))

        async def stuck() -> None:
            with contextlib.suppress(RpcCallError, SidecarExited):  # answered -32002 at shutdown
                await sidecar.call("test.block_thread", {"seconds": 60})

        async with anyio.create_task_group() as tg:
            tg.start_soon(stuck)
            with anyio.fail_after(10):
                while not (await sidecar.call("system.status"))["inflight"]:
                    await anyio.sleep(0.02)
            sent = time.monotonic()
            sidecar.send_signal(signal.SIGTERM)
            status = await sidecar.wait(SIGTERM_TIMEOUT_S)
        said = f"{time.monotonic() - sent:.1f} s after SIGTERM"
        stderr = ended_within_the_step(sidecar, python_pid, status, "signal", said)
        assert "without waiting for threads" in stderr


@pytest.mark.anyio
async def test_a_stop_while_a_job_runs_on_a_stalled_disk(data_dir: Path, tmp_path: Path, stall_shim: Path) -> None:
    """A running export when SIGTERM comes and every flush hangs: the job is interrupted and
    its bookkeeping written (or left to the next start's recovery), and the whole stop still
    fits the hosts' SIGTERM step. The next start finds the job ended, never still running."""
    flag = tmp_path / "stall-now"
    env = sidecar_env(LD_PRELOAD=str(stall_shim), STALL_SYNC_FLAG=str(flag), STALL_SYNC_SECONDS=STALL_S)
    async with SidecarClient.spawn(sidecar_args(data_dir), env=env, stop_on_exit=False) as sidecar:
        assert sidecar.boot is not None
        python_pid = int(sidecar.boot.get("pid"))
        await sidecar.call("db.query", {"sql": "CREATE TABLE kept AS SELECT 42 AS answer", "allow_write": True})
        job_id = (await sidecar.call("jobs.submit", {"type": "export", "payload": {"sql": LONG_QUERY}}))["job_id"]
        with anyio.fail_after(10):
            while (await sidecar.call("jobs.get", {"job_id": job_id}))["status"] != "running":
                await anyio.sleep(0.02)
        flag.touch()  # from now on every fsync/fdatasync hangs for a minute
        sent = time.monotonic()
        sidecar.send_signal(signal.SIGTERM)
        status = await sidecar.wait(SIGTERM_TIMEOUT_S)
        ended_within_the_step(sidecar, python_pid, status, "signal", f"{time.monotonic() - sent:.1f} s after SIGTERM")

    flag.unlink()
    async with running_sidecar(data_dir) as again:
        record = await again.call("jobs.get", {"job_id": job_id})
        assert record["status"] in ("failed", "canceled"), record
        assert record["error"]["kind"] in ("interrupted", "canceled"), record
        assert (await again.call("db.query", {"sql": "SELECT answer FROM kept"}))["rows"] == [[42]]
