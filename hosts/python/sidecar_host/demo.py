"""``python -m sidecar_host.demo``: start a sidecar, talk to it, stop it, print what happened.

Host-side only (uses :mod:`sidecar_host`). By default it runs the sidecar
from source; ``--binary PATH`` runs a built one instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import anyio

from sidecar_host import SidecarClient


async def _demo(command: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="sidecar-demo-") as data_dir:
        full = [*command, "--data-dir", data_dir, "--heartbeat-interval", "1"]
        print(f"$ {' '.join(full)}")
        async with SidecarClient.spawn(full) as sidecar:
            assert sidecar.boot is not None and sidecar.ready_at is not None and sidecar.boot_at is not None
            print(f"BOOT   after {1000 * (sidecar.boot_at - sidecar.spawned_at):7.1f} ms  {sidecar.boot.fields}")
            print(f"READY  after {1000 * (sidecar.ready_at - sidecar.spawned_at):7.1f} ms")
            started = time.perf_counter()
            pong = await sidecar.call("system.ping")
            print(f"system.ping    -> {pong}  ({1000 * (time.perf_counter() - started):.2f} ms round trip)")
            status = await sidecar.call("system.status")
            print(f"system.status  -> pid {status['pid']}, protocol {status['protocol']}, paths {status['paths']}")
            doc = await sidecar.call("rpc.discover")
            print(f"rpc.discover   -> {len(doc['methods'])} methods: {', '.join(m['name'] for m in doc['methods'])}")
            rounds = 1000
            started = time.perf_counter()
            for _ in range(rounds):
                await sidecar.call("system.ping")
            per_call = (time.perf_counter() - started) / rounds * 1e6
            print(f"{rounds} sequential pings: {per_call:.0f} us each on average (client included)")
        result = sidecar.stop_result
        assert result is not None
        print(f"stopped by {result.step}: exit status {result.exit_status}, SHUTDOWN reason={result.shutdown_reason}")
        if sidecar.violations:
            print(f"PROTOCOL VIOLATIONS: {sidecar.violations}")
            return 1
        print("stdout carried only protocol lines")
    return 0


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m sidecar_host.demo", description=__doc__)
    parser.add_argument("--binary", help="a built sidecar binary (default: python -m sidecar)")
    args = parser.parse_args()
    command = [args.binary] if args.binary else [sys.executable, "-m", "sidecar"]
    return anyio.run(_demo, command)


if __name__ == "__main__":
    sys.exit(main())
