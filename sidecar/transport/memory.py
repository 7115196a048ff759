"""An in-memory transport: the dispatcher served inside one process, for tests and embedding.

The host end writes bytes exactly as a host would write them to stdin
(they are split into frames by the same :class:`~sidecar.protocol.LineSplitter`
and cap the stdio transport uses) and reads the lines the server sent.
The server end is what :meth:`sidecar.rpc.dispatcher.Dispatcher.serve` takes:
an async iterable of frames and a sink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sidecar.protocol import DEFAULT_MAX_FRAME_BYTES, LineSplitter, OversizeFrame

#: Frames buffered in each direction before the writer waits (bounded, like the pipes).
MEMORY_BUFFER_FRAMES: Final = 256


class MemorySink:
    """The server's output: each line goes to the host end's receive stream."""

    def __init__(self, send: MemoryObjectSendStream[bytes]) -> None:
        self._send = send

    async def send(self, line: bytes, /) -> None:
        """Queue one line for the host (waits while the host end's buffer is full)."""
        await self._send.send(line)

    def close(self) -> None:
        """No more output: the host end's :meth:`HostEnd.receive_line` raises EndOfStream when drained."""
        self._send.close()


class HostEnd:
    """The host's side: write request bytes, read answer lines."""

    def __init__(
        self,
        frames: MemoryObjectSendStream[bytes | OversizeFrame],
        lines: MemoryObjectReceiveStream[bytes],
        max_frame_bytes: int,
    ) -> None:
        self._frames = frames
        self._lines = lines
        self._splitter = LineSplitter(max_frame_bytes)

    async def send(self, data: bytes) -> None:
        """Write bytes as a host writes to stdin (add the newline yourself)."""
        for frame in self._splitter.feed(data):
            await self._frames.send(frame)

    async def close(self) -> None:
        """Close "stdin": a last unterminated line is delivered, then the server's frames end."""
        last = self._splitter.finish()
        if last is not None:
            await self._frames.send(last)
        self._frames.close()

    async def receive_line(self) -> bytes:
        """The next line the server sent (with its ``\\n``); raises anyio.EndOfStream after the sink closed."""
        return await self._lines.receive()


@dataclass(frozen=True)
class ServerEnd:
    """What the dispatcher serves: ``frames`` to iterate over, ``sink`` to answer into."""

    frames: MemoryObjectReceiveStream[bytes | OversizeFrame]
    sink: MemorySink


def memory_transport(
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, buffer: int = MEMORY_BUFFER_FRAMES
) -> tuple[HostEnd, ServerEnd]:
    """A connected pair of ends."""
    frame_send, frame_receive = anyio.create_memory_object_stream[bytes | OversizeFrame](buffer)
    line_send, line_receive = anyio.create_memory_object_stream[bytes](buffer)
    return HostEnd(frame_send, line_receive, max_frame_bytes), ServerEnd(frame_receive, MemorySink(line_send))
