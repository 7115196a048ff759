"""The stdin reader task: chunks -> lines -> events -> the session.

Shutdown stops it only *between* reads (:meth:`StdinReader.stop`), never in
the middle of dispatching a line, so an answer computed for a line already
read (``system.shutdown``'s own ``{"ok": true}`` among them) is never lost.
"""

from __future__ import annotations

import logging

import anyio
import anyio.abc

from sidecar.protocol import LineSplitter, OversizeFrame, decode_line
from sidecar.rpc.dispatcher import Session
from sidecar.transport.stdio import FdReader

log = logging.getLogger("sidecar.server")


class StdinReader:
    """Reads the protocol stdin until EOF or :meth:`stop`."""

    def __init__(self, fd: int, max_frame_bytes: int, session: Session, work: anyio.abc.TaskGroup) -> None:
        self._reader = FdReader(fd)
        self._splitter = LineSplitter(max_frame_bytes)
        self._session = session
        self._work = work
        self._read_scope: anyio.CancelScope | None = None
        self._stopped = False
        #: Set when the task has returned.
        self.done = anyio.Event()

    def stop(self) -> None:
        """Read no further; the line being dispatched (if any) is finished first."""
        self._stopped = True
        if self._read_scope is not None:
            self._read_scope.cancel()

    async def run(self) -> None:
        """The task body: returns at EOF (after requesting a normal shutdown) or when stopped."""
        try:
            await self._loop()
        finally:
            self._reader.close()
            self.done.set()

    async def _loop(self) -> None:
        while not self._stopped:
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
                    await self._dispatch(last)
                log.info("stdin closed")
                self._session.request_shutdown("normal")
                return
            for line in self._splitter.feed(chunk):
                await self._dispatch(line)

    async def _dispatch(self, line: bytes | OversizeFrame) -> None:
        event = line if isinstance(line, OversizeFrame) else decode_line(line)
        if event is not None:
            await self._session.handle(event, self._work)
