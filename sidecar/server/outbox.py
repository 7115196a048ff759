"""The one writer: every stdout line goes through here, so frames never interleave.

Producers ``await outbox.send(line)``; the stream is bounded, so a host that
stops reading stdout makes producers wait (the pipe fills, then this buffer),
and nothing is dropped: when the host reads again everything arrives in order.
"""

from __future__ import annotations

from typing import Final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sidecar.server.stdio import FdWriter

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
        self.frames_written = 0
        #: Set when the writer has written (or given up on) everything and returned.
        self.finished = anyio.Event()

    async def send(self, line: bytes) -> None:
        """Queue one complete ``\\n``-terminated line; waits while the queue is full."""
        if self.broken:
            return  # the host closed stdout: there is nobody to tell
        await self._send.send(line)

    def close(self) -> None:
        """No more lines: the writer finishes what is queued, then returns."""
        self._send.close()

    @property
    def queued(self) -> int:
        """Lines waiting to be written."""
        return self._receive.statistics().current_buffer_used

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
                self.frames_written += len(batch)
