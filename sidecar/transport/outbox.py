"""The one writer: every stdout line goes through here, so frames never interleave.

Producers ``await outbox.send(line)``; the stream is bounded, so a host that
stops reading stdout makes producers wait (the pipe fills, then this buffer),
and nothing is dropped: when the host reads again everything arrives in order.
"""

from __future__ import annotations

from typing import Final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sidecar.transport.stdio import FdWriter

#: Frames buffered between producers and the writer before producers wait.
OUTBOX_FRAMES: Final = 256
#: Frames coalesced into one write() when several are waiting.
COALESCE_FRAMES: Final = 128
COALESCE_BYTES: Final = 1 << 20


class Outbox:
    """A bounded queue of complete lines in front of the protocol stdout fd."""

    def __init__(self, writer: FdWriter, max_frames: int = OUTBOX_FRAMES) -> None:
        self._writer = writer
        send, receive = anyio.create_memory_object_stream[bytes](max_frames)
        self._send: MemoryObjectSendStream[bytes] = send
        self._receive: MemoryObjectReceiveStream[bytes] = receive
        self.broken = False
        self._unwritten = 0  # lines handed to the queue and not yet written
        #: Set when the writer has written (or given up on) everything and returned.
        self.finished = anyio.Event()

    async def send(self, line: bytes) -> None:
        """Write one complete ``\\n``-terminated line, or queue it; waits while the queue is full.

        Fast path: when no earlier line is still unwritten, the line is written
        at once (no task switch, no copy into the queue); whatever the pipe did
        not take is queued, so order is always kept.
        """
        if self.broken:
            return  # the host closed stdout: there is nobody to tell
        if self._unwritten == 0:
            try:
                written = self._writer.try_write(line)
            except (BrokenPipeError, ConnectionResetError):
                self.broken = True
                return
            if written is not None:
                if written == len(line):
                    return
                line = line[written:]
        # Counted before the hand-off: the writer may receive the line straight from
        # this call, and until it is written no later line may take the fast path.
        # (If this send is cancelled the count stays high: slower, never out of order.)
        self._unwritten += 1
        await self._send.send(line)

    def close(self) -> None:
        """No more lines: the writer finishes what is queued, then returns."""
        self._send.close()

    async def run(self) -> None:
        """The writer task: drain the queue to the fd until closed."""
        try:
            await self._drain()
        finally:
            self.finished.set()

    async def _drain(self) -> None:
        async with self._receive:
            async for line in self._receive:
                batch = [line]
                size = len(line)
                while len(batch) < COALESCE_FRAMES and size < COALESCE_BYTES:
                    try:
                        more = self._receive.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                    batch.append(more)
                    size += len(more)
                try:
                    await self._writer.write_all(b"".join(batch))
                except (BrokenPipeError, ConnectionResetError):
                    self.broken = True
                    # Keep draining so producers never block on a dead pipe.
                    continue
                finally:
                    self._unwritten -= len(batch)
