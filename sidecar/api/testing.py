"""Methods that exist only for the test suite.

Registered only when ``SIDECAR_TEST_METHODS=1`` is set (never in a normal
run): they let tests provoke what production code must survive, such as a
handler that prints, writes to fd 1 from C, or starts a chatty child.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from typing import Any

import anyio
import anyio.to_thread
from msgspec import Struct

from sidecar.api.context import Ctx
from sidecar.rpc.registry import Registry

ENV_FLAG = "SIDECAR_TEST_METHODS"


class EchoParams(Struct):
    """value: anything; it comes back unchanged."""

    value: Any = None


class SleepParams(Struct):
    """seconds: how long to sleep (cancellable)."""

    seconds: float


class NotifyParams(Struct):
    """count: notifications to send before answering. size: bytes of padding in each."""

    count: int = 1
    size: int = 0


class TextParams(Struct):
    """text: what to write."""

    text: str = "stray output"


class ChildResult(Struct):
    """exit_code: the child's status. read_stdin: whether the child found data on its inherited stdin."""

    exit_code: int
    read_stdin: bool


class GcState(Struct):
    """enabled: the cyclic collector is on. frozen: objects in its permanent generation."""

    enabled: bool
    frozen: int


class SimulatedCrash(BaseException):
    """Not an Exception, so no handler boundary catches it: it ends the server."""


def register_test_methods(registry: Registry) -> None:
    """Add the ``test.*`` methods."""

    @registry.method("test.echo")
    async def echo(ctx: Ctx, params: EchoParams) -> Any:
        """Return ``value``."""
        return params.value

    @registry.method("test.sleep")
    async def sleep(ctx: Ctx, params: SleepParams) -> bool:
        """Sleep, then return true; cancellable by rpc.cancel."""
        await anyio.sleep(params.seconds)
        return True

    @registry.method("test.notify")
    async def notify(ctx: Ctx, params: NotifyParams) -> int:
        """Send ``count`` ``test.note`` notifications, then return the count."""
        for seq in range(params.count):
            await ctx.notify("test.note", {"seq": seq, "pad": "x" * params.size})
        return params.count

    @registry.method("test.print")
    def print_(ctx: Ctx, params: TextParams) -> bool:
        """Call print(): the text must land on stderr, never on the protocol stdout."""
        print(params.text, flush=True)
        sys.stdout.write(params.text + "\n")
        sys.stdout.flush()
        return True

    @registry.method("test.write_fd1")
    def write_fd1(ctx: Ctx, params: TextParams) -> bool:
        """os.write() to fd 1 directly."""
        os.write(1, (params.text + "\n").encode())
        return True

    @registry.method("test.c_printf")
    def c_printf(ctx: Ctx, params: TextParams) -> bool:
        """printf() from C through ctypes, then fflush(NULL)."""
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.printf(b"%s\n", (params.text).encode())
        libc.fflush(None)
        return True

    @registry.method("test.child_stdout")
    async def child_stdout(ctx: Ctx, params: TextParams) -> ChildResult:
        """Start a child that writes to its stdout and reads its stdin (which must be empty)."""
        code = await anyio.to_thread.run_sync(_run_child, params.text)
        return ChildResult(exit_code=code, read_stdin=code == 9)

    @registry.method("test.raise")
    async def raise_(ctx: Ctx) -> bool:
        """Raise an unexpected exception (becomes -32099 with data.kind unhandled_exception)."""
        raise ValueError("boom from test.raise")

    @registry.method("test.crash")
    async def crash(ctx: Ctx) -> bool:
        """Raise past the JSON-RPC boundary, as a bug in the server itself would: a fatal error."""
        raise SimulatedCrash("test.crash")

    @registry.method("test.gc")
    async def gc_state(ctx: Ctx) -> GcState:
        """The garbage collector's state: off during the start, on (with the start frozen) after."""
        import gc

        return GcState(enabled=gc.isenabled(), frozen=gc.get_freeze_count())

    @registry.method("test.block")
    async def block(ctx: Ctx, params: SleepParams) -> bool:
        """Block the event loop itself for ``seconds`` (a bug, simulated) to test watchdogs."""
        import time

        time.sleep(params.seconds)
        return True

    @registry.method("test.block_thread")
    async def block_thread(ctx: Ctx, params: SleepParams) -> bool:
        """Block a worker thread for ``seconds``, abandoned on cancel (as a DuckDB call or a
        stdin read that does not return): the thread keeps running after the request ends."""
        import time

        await anyio.to_thread.run_sync(time.sleep, params.seconds, abandon_on_cancel=True)
        return True


def _run_child(text: str) -> int:
    # Deliberately no stdin/stdout arguments: the child inherits fds 0 and 1 as they are.
    # A shell, not sys.executable: in a packaged build that is the sidecar binary itself.
    script = 'printf "%s\\n" "$1"; n=$(cat | wc -c); echo "child read $n bytes" >&2; exit $((n > 0 ? 9 : 0))'
    proc = subprocess.run(["/bin/sh", "-c", script, "sh", text], check=False)
    return proc.returncode
