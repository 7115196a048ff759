"""Guard fd 1 and fd 0, and move bytes through them without blocking the loop.

At startup the protocol takes private duplicates of stdin and stdout; fd 1
is then pointed at stderr and fd 0 at the null device. From then on
``print()``, logging, a C extension's ``printf`` and any child process write
to stderr, and no child can read (steal) the host's requests.

Reading and writing use non-blocking fds and ``anyio.wait_readable`` /
``wait_writable`` on POSIX: no thread hand-off per message. Where that is not
available (Windows, or an fd the selector refuses) a worker thread reads or
writes whole chunks instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Final

import anyio
import anyio.lowlevel
import anyio.to_thread

READ_CHUNK: Final = 64 * 1024
_POSIX: Final = os.name == "posix"


@dataclass(frozen=True)
class ProtocolFds:
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

    async def read(self) -> bytes:
        """Return the next chunk (at most READ_CHUNK bytes), waiting without blocking the loop."""
        if not self._nonblocking:
            return await anyio.to_thread.run_sync(os.read, self._fd, READ_CHUNK, abandon_on_cancel=True)
        while True:
            try:
                data = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                try:
                    await anyio.wait_readable(self._fd)
                except OSError:
                    # The selector refuses this kind of fd: fall back to a reader thread.
                    os.set_blocking(self._fd, True)
                    self._nonblocking = False
                    return await self.read()
                continue
            if len(data) == READ_CHUNK:
                # Maybe more is waiting (or stdin is a regular file, which never
                # blocks): let other tasks run between full chunks.
                await anyio.lowlevel.checkpoint()
            return data


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
