"""Guard fd 1 and fd 0, and move bytes through them without blocking the loop.

At startup the protocol takes private duplicates of stdin and stdout; fd 1
is then pointed at stderr and fd 0 at the null device. From then on
``print()``, logging, a C extension's ``printf`` and any child process write
to stderr, and no child can read (steal) the host's requests.

Reading and writing use non-blocking fds on POSIX: no thread hand-off per
message. Stdin stays registered with the asyncio selector while it is being
waited for (``anyio.wait_readable`` registers and unregisters on every call,
which cost ~13 us of a ~45 us ping round trip); other event loops use
``anyio.wait_readable``. Where non-blocking I/O is not available (Windows, or
an fd the selector refuses) a worker thread reads or writes whole chunks.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Final

import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec

READ_CHUNK: Final = 64 * 1024
#: How long an empty stdin is polled before the reader sleeps in the event loop's
#: selector. A host that talks in request/answer bursts sends its next frame a
#: few tens of microseconds after reading an answer; catching it while still
#: awake saves a sleep and a cross-CPU wake-up, which on a 2-vCPU VM took a ping
#: from ~75 us to ~23 us p50 (bench/rpc.py). It costs at most this much CPU per
#: read, and the poll backs off when it stops paying (see FdReader.read).
READ_SPIN_NS: Final = 50_000
#: After a poll that caught nothing, that many reads go without one (doubling
#: per miss up to 2**READ_SPIN_MAX_BACKOFF, back to 0 on a catch): an idle host
#: or a host sharing our CPU (which cannot send while we poll) stops paying.
READ_SPIN_MAX_BACKOFF: Final = 6
_POSIX: Final = os.name == "posix"


class ProtocolFds(msgspec.Struct, frozen=True):
    """The private descriptors the protocol owns.

    stdin: a duplicate of the original fd 0 (the host's requests).
    stdout: a duplicate of the original fd 1 (lifecycle lines and frames).
    """

    stdin: int
    stdout: int


def claim_stdio() -> ProtocolFds:
    """Take stdin/stdout for the protocol and neuter fds 0 and 1 for everyone else."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    proto_out = os.dup(1)  # os.dup makes non-inheritable copies: children never see them
    proto_in = os.dup(0)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return ProtocolFds(stdin=proto_in, stdout=proto_out)


def _set_nonblocking(fd: int) -> bool:
    if not _POSIX:
        return False
    try:
        os.set_blocking(fd, False)
    except OSError:
        return False
    return True


class FdReader:
    """Read chunks from an fd; ``b""`` means end of stream."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._nonblocking = _set_nonblocking(fd)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._registered = False
        self._waiter: asyncio.Future[None] | None = None
        self._spin_misses = 0  # polls in a row that caught nothing (capped)
        self._spin_skip = 0  # reads left to do without polling first

    async def read(self) -> bytes:
        """Return the next chunk (at most READ_CHUNK bytes), waiting without blocking the loop."""
        if not self._nonblocking:
            return await anyio.to_thread.run_sync(os.read, self._fd, READ_CHUNK, abandon_on_cancel=True)
        spin_until = 0
        if self._spin_skip:
            self._spin_skip -= 1
        else:
            spin_until = time.perf_counter_ns() + READ_SPIN_NS
        spun = False
        while True:
            try:
                data = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                if spin_until:
                    spun = True
                    if time.perf_counter_ns() < spin_until:
                        continue
                    # Nothing came while polling: poll less until a poll catches something.
                    self._spin_misses = min(self._spin_misses + 1, READ_SPIN_MAX_BACKOFF)
                    self._spin_skip = 1 << self._spin_misses
                    spin_until = 0
                    spun = False
                try:
                    await self._wait_readable()
                except OSError:
                    # The selector refuses this kind of fd: fall back to a reader thread.
                    self.close()
                    os.set_blocking(self._fd, True)
                    self._nonblocking = False
                    return await self.read()
                continue
            if spun:
                self._spin_misses = 0
            if len(data) == READ_CHUNK:
                # Maybe more is waiting (or stdin is a regular file, which never
                # blocks): let other tasks run between full chunks.
                await anyio.lowlevel.checkpoint()
            return data

    async def _wait_readable(self) -> None:
        loop = self._asyncio_loop()
        if loop is None:
            await anyio.wait_readable(self._fd)
            return
        waiter = self._waiter = loop.create_future()
        if not self._registered:
            loop.add_reader(self._fd, self._on_readable)
            self._registered = True
        try:
            await waiter
        finally:
            self._waiter = None

    def _asyncio_loop(self) -> asyncio.AbstractEventLoop | None:
        """The running asyncio loop if it can watch fds, else None (anyio's generic wait)."""
        if self._loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not asyncio (anyio on trio)
                return None
            if not isinstance(loop, asyncio.SelectorEventLoop):
                return None
            self._loop = loop
        return self._loop

    def _on_readable(self, /) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        elif self._loop is not None:
            # Nobody waits (a frame is being dispatched): stop watching, or a
            # readable fd would wake the loop on every turn until it is read.
            self._loop.remove_reader(self._fd)
            self._registered = False

    def close(self) -> None:
        """Stop watching the fd (the fd itself belongs to the caller)."""
        if self._registered and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._registered = False


class FdWriter:
    """Write whole buffers to an fd, waiting for room without blocking the loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._nonblocking = _set_nonblocking(fd)

    async def write_all(self, data: bytes) -> None:
        """Write every byte of ``data`` (raises BrokenPipeError when the reader is gone)."""
        view = memoryview(data)
        while view:
            if not self._nonblocking:
                written = await anyio.to_thread.run_sync(os.write, self._fd, view)
            else:
                try:
                    written = os.write(self._fd, view)
                except BlockingIOError:
                    await anyio.wait_writable(self._fd)
                    continue
            view = view[written:]

    def try_write(self, data: bytes) -> int | None:
        """One non-blocking write attempt: bytes written (0 if it would block), None if unsupported."""
        if not self._nonblocking:
            return None
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0


def restore_blocking(fds: ProtocolFds) -> None:
    """Give the descriptors back their blocking mode (they may be a shared terminal)."""
    if not _POSIX:
        return
    for fd in (fds.stdin, fds.stdout):
        try:
            os.set_blocking(fd, True)
        except OSError:
            pass
