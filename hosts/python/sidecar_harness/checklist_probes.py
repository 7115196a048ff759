"""The checklist's live probes: the misbehaving fixtures and a real binary, started through the host client.

The fixtures (tests/fixtures/bad_sidecars/) each misbehave in exactly one way
(exit before READY, BOOT but never READY, stray stdout instead of READY, READY
twice); the missing binary is a path that does not exist. A probe reports which
exception the host client raised and how long it took: the evidence the
failure-path items quote.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from sidecar_harness.checklist_files import REPO
from sidecar_host import SidecarClient

FIXTURES = REPO / "tests" / "fixtures" / "bad_sidecars"


async def probe_fixture(name: str, ready_timeout: float) -> tuple[BaseException | None, float, Any]:
    command = [str(FIXTURES / f"{name}.py")] if name else [str(REPO / "dist" / "no-such-dir" / "sidecar")]
    started = time.monotonic()
    try:
        async with SidecarClient.spawn(command, ready_timeout=ready_timeout, stop_on_exit=False) as client:
            elapsed = time.monotonic() - started
            with anyio.move_on_after(2):  # an answer means every earlier stdout line was read
                await client.call("system.ping")
            return None, elapsed, client
    except Exception as exc:  # the probe's whole point is which exception it was
        return exc, time.monotonic() - started, None


async def probe_restart(binary: Path) -> tuple[bool, str]:
    """Start, stop, start again on the same data dir: the second start must be READY too."""
    with tempfile.TemporaryDirectory(prefix="checklist-restart-") as data_dir:
        readies = []
        for _ in range(2):
            async with SidecarClient.spawn(
                [str(binary), "--data-dir", data_dir, "--heartbeat-interval", "0"]
            ) as client:
                status = await client.call("system.status")
                assert client.ready_at is not None
                readies.append((client.ready_at - client.spawned_at) * 1000)
                if status["paths"]["data_dir"] != data_dir:
                    return (
                        False,
                        f"system.status reports data_dir {status['paths']['data_dir']!r}, launched with {data_dir!r}",
                    )
            if client.stop_result is None or client.stop_result.exit_status != 0:
                return False, f"stop ended with {client.stop_result}"
        return (
            True,
            f"two launches on one data dir, READY after {readies[0]:.0f} ms then {readies[1]:.0f} ms, both stopped with status 0",
        )
