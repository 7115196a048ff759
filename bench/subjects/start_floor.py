"""Reference point: the cheapest start of a Python stdio server like the sidecar (bench only).

It imports what any such server needs, msgspec and asyncio, starts an event loop, writes BOOT
and READY, and waits for stdin to close. Nothing else: no configuration, logs, data dir,
lock, parent watch, anyio or method surface. bench/startup.py times it beside the sidecar,
so the distance between the two is what the sidecar's own start costs on this machine at
that hour (issue 14, target 4 names a hello-world like this one as the floor).

    python bench/subjects/start_floor.py
"""

from __future__ import annotations

import asyncio
import os
import sys

import msgspec


async def serve() -> None:
    os.write(1, b"BOOT sidecar=start-floor pid=%d\n" % os.getpid())
    os.write(1, b"READY\n")
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    os.write(1, b"SHUTDOWN reason=normal\n")


if __name__ == "__main__":
    assert msgspec.json  # imported for its cost, as the sidecar's start imports it
    asyncio.run(serve())
