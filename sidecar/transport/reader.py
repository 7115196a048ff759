"""The protocol stdin as a stream of frames: chunks -> lines (or oversize markers).

:class:`StdinFrames` is what the dispatcher iterates over. Shutdown stops it
only *between* reads (:meth:`StdinFrames.stop`), never in the middle of
dispatching a line, so an answer computed for a line already read
(``system.shutdown``'s own ``{"ok": true}`` among them) is never lost. At EOF
the last unterminated line (if any) is delivered, then the stream ends with
:attr:`StdinFrames.at_eof` set; after :meth:`stop` it ends with it unset.
"""

from __future__ import annotations

import logging
from collections import deque

import anyio

from sidecar.protocol import LineSplitter, OversizeFrame
from sidecar.transport.stdio import FdReader

log = logging.getLogger("sidecar.server")

Frame = bytes | OversizeFrame


class StdinFrames:
    """Frames read from the protocol stdin until EOF or :meth:`stop` (an async iterator)."""

    def __init__(self, fd: int, max_frame_bytes: int) -> None:
        self._reader = FdReader(fd)
        self._splitter = LineSplitter(max_frame_bytes)
        self._ready: deque[Frame] = deque()
        self._read_scope: anyio.CancelScope | None = None
        self._stopped = False
        #: True once the host closed stdin (rather than :meth:`stop` ending the stream).
        self.at_eof = False

    def stop(self) -> None:
        """Read no further; the frame being dispatched (if any) is finished first."""
        self._stopped = True
        if self._read_scope is not None:
            self._read_scope.cancel()

    def close(self) -> None:
        """Release the fd's event-loop registration (the fd itself stays open)."""
        self._reader.close()

    def __aiter__(self) -> StdinFrames:
        return self

    async def __anext__(self) -> Frame:
        while not self._ready:
            if self._stopped or self.at_eof:
                raise StopAsyncIteration
            await self._fill()
        return self._ready.popleft()

    async def _fill(self) -> None:
        with anyio.CancelScope() as self._read_scope:
            try:
                chunk = await self._reader.read()
            except OSError as exc:
                log.error("stdin read failed", extra={"ctx": {"error": str(exc)}})
                chunk = b""
        self._read_scope = None
        if self._stopped:
            return
        if not chunk:
            last = self._splitter.finish()
            if last is not None:
                self._ready.append(last)
            log.info("stdin closed")
            self.at_eof = True
            return
        self._ready.extend(self._splitter.feed(chunk))
