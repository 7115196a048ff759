"""The Python host client against the failure paths of the Milestone 0 checklist and a few after READY.

Missing binary, exit before READY, no READY, stray stdout, READY twice; then a
sidecar that hangs or crashes once it is ready.

The fixtures (tests/fixtures/bad_sidecars/) are tiny stand-in programs, not
the real sidecar: each misbehaves in exactly one way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import pytest

from sidecar_host import (
    BinaryNotFound,
    CallTimeout,
    ExitedBeforeReady,
    ReadyTimeout,
    SidecarClient,
    SidecarExited,
    StopTimeouts,
)
from tests.support import running_sidecar, wait_gone

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_sidecars"
QUICK_STOP = StopTimeouts(shutdown_request=0.5, stdin_close=0.5, sigterm=0.5, sigkill=2)


def fixture(name: str) -> list[str]:
    return [sys.executable, str(FIXTURES / f"{name}.py")]


@pytest.mark.anyio
async def test_missing_binary_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "binaries" / "sidecar-x86_64-unknown-linux-gnu"
    with pytest.raises(BinaryNotFound) as caught:
        async with SidecarClient.spawn([str(missing)]):
            pass
    assert str(missing) in str(caught.value)


@pytest.mark.anyio
async def test_non_executable_binary(tmp_path: Path) -> None:
    plain = tmp_path / "sidecar"
    plain.write_text("#!/bin/sh\n")
    with pytest.raises(BinaryNotFound) as caught:
        async with SidecarClient.spawn([str(plain)]):
            pass
    assert "not executable" in str(caught.value)


@pytest.mark.anyio
async def test_exit_before_ready_reports_status_and_stderr() -> None:
    started = time.monotonic()
    with pytest.raises(ExitedBeforeReady) as caught:
        async with SidecarClient.spawn(fixture("exits_before_ready"), ready_timeout=10):
            pass
    assert time.monotonic() - started < 5, "did not notice the exit before the READY timeout"
    error = caught.value
    assert error.status == 7
    assert any("permission denied" in line for line in error.stderr_tail)
    assert error.lines_seen[0].startswith("BOOT ")
    assert "status 7" in str(error) and "permission denied" in str(error)


@pytest.mark.anyio
async def test_garbage_and_no_ready_times_out_listing_the_lines() -> None:
    started = time.monotonic()
    with pytest.raises(ReadyTimeout) as caught:
        async with SidecarClient.spawn(fixture("garbage_no_ready"), ready_timeout=1.5, stop_on_exit=False):
            pass
    elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 5
    assert caught.value.lines_seen == ["Hello from a stray debug print", "Loading models..."]
    assert "1.5s" in str(caught.value) and "Hello from a stray debug print" in str(caught.value)


@pytest.mark.anyio
async def test_ready_timeout_leaves_no_process() -> None:
    pids: list[int] = []

    async def spawn() -> None:
        async with SidecarClient.spawn(fixture("garbage_no_ready"), ready_timeout=1.0) as client:
            pids.append(client.pid)

    with pytest.raises(ReadyTimeout):
        await spawn()
    # The client never handed out the pid, so find the fixture by its command line.
    import psutil

    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if "garbage_no_ready.py" in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


@pytest.mark.anyio
async def test_duplicate_ready_is_a_violation() -> None:
    async with SidecarClient.spawn(fixture("ready_twice")) as client:
        assert (await client.call("system.ping"))["pong"] is True
    assert [v.kind for v in client.violations] == ["duplicate_ready"]


@pytest.mark.anyio
async def test_hang_after_ready_is_stopped_by_sigkill() -> None:
    async with SidecarClient.spawn(fixture("hang_after_ready"), stop_on_exit=False) as client:
        pid = client.pid
        result = await client.stop(QUICK_STOP)
    assert result.step == "sigkill"
    assert result.shutdown_reason is None
    assert result.exit_status == -9
    assert wait_gone([pid], 1) == []


@pytest.mark.anyio
async def test_crash_after_ready_fails_the_pending_call() -> None:
    async with SidecarClient.spawn(fixture("crash_after_ready")) as client:
        with anyio.fail_after(5), pytest.raises(SidecarExited) as caught:
            await client.call("system.ping")
    assert caught.value.status == 3
    assert "segfault simulated" in str(caught.value) or any("segfault" in l for l in caught.value.stderr_tail)


@pytest.mark.anyio
async def test_a_timed_out_call_is_cancelled_in_the_sidecar(data_dir: Path) -> None:
    """As the Rust host does: on a call's timeout the client sends rpc.cancel for its id, so the work stops."""
    async with running_sidecar(data_dir) as sidecar:
        request_id = sidecar.next_request_id
        with pytest.raises(CallTimeout):
            await sidecar.call("test.sleep", {"seconds": 30}, timeout=0.3)
        with anyio.fail_after(5):
            while (status := await sidecar.call("system.status"))["inflight"]:
                await anyio.sleep(0.02)
        assert all(entry["id"] != request_id for entry in status["inflight"])
        late = await sidecar.unmatched.receive()  # the cancelled request's own answer, after the client gave up
        assert late.value["id"] == request_id and late.value["error"]["data"]["kind"] == "cancelled"
    assert sidecar.violations == []
