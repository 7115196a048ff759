"""Dispatch frames to handlers and send what they answer: a generic JSON-RPC server over two streams.

:meth:`Dispatcher.serve` takes frames (complete lines, or
:class:`~sidecar.protocol.OversizeFrame` markers) from any async iterable
and sends every answer to a :class:`FrameSink`: the stdio transport
provides both for the real process, :mod:`sidecar.transport.memory` for
tests. The JSON-RPC rules that need state (in-flight ids, cancel codes,
batch answers, answers while stopping) are in
:class:`~sidecar.protocol.connection.ServerConnection`; this module owns
the tasks.

Requests run concurrently in their own tasks (inline methods answer at
once, in the reading task), each under its own CancelScope so ``rpc.cancel``
and shutdown can stop it and still send it an answer. The number of
requests in progress is bounded: when it is reached the dispatcher stops
pulling frames (back-pressure), so memory never grows with what the host
sends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, Callable
from typing import Any, Final, Generic, Protocol

import anyio
import msgspec
from anyio.abc import TaskGroup

from sidecar.common.errors import ErrorCode, RpcError
from sidecar.protocol import (
    Batch,
    ErrorReply,
    Event,
    InvalidMessage,
    Message,
    Notification,
    OutgoingNotification,
    OversizeFrame,
    Request,
    Response,
    decode_line,
    encode_frame,
)
from sidecar.protocol.connection import Answer, BatchAnswers, InFlight, ServerConnection
from sidecar.protocol.messages import Raw
from sidecar.rpc.context import RequestContext, StateT
from sidecar.rpc.registry import MethodSpec, Registry

log = logging.getLogger("sidecar.session")

#: Batches processed at once; each element still takes an in-flight slot.
MAX_CONCURRENT_BATCHES: Final = 16


class FrameSink(Protocol):
    """Where answers and notifications go: one complete ``\\n``-terminated line per call."""

    async def send(self, line: bytes, /) -> None:
        """Send one line; may wait (back-pressure), never drops it."""
        ...


#: Turns an exception a handler raised into the error to answer with, or None for a bug (-32099).
ErrorTranslator = Callable[[Exception], RpcError | None]


class Dispatcher(Generic[StateT]):
    """One connection's dispatch: the registry, the connection state, the sink, the application state.

    ``translate_error`` lets the application name the failures it knows that are not
    :class:`RpcError` (e.g. a full disk seen by a library); anything it returns None for
    is answered -32099 as a bug.
    """

    def __init__(
        self,
        registry: Registry,
        sink: FrameSink,
        app: StateT,
        *,
        max_inflight: int,
        translate_error: ErrorTranslator | None = None,
    ) -> None:
        self.registry = registry
        self._translate = translate_error
        self.sink = sink
        #: What handlers see as ``ctx.app``.
        self.app = app
        self.connection = ServerConnection()
        self._slots = anyio.Semaphore(max_inflight)
        self._batch_slots = anyio.Semaphore(MAX_CONCURRENT_BATCHES)
        self._idle = anyio.Event()
        self._idle.set()
        self._running = 0

    # ------------------------------------------------------------ intake

    async def serve(self, frames: AsyncIterable[bytes | OversizeFrame], work: TaskGroup) -> None:
        """Handle every frame until the stream ends; request handlers run in ``work``."""
        async for frame in frames:
            event = frame if isinstance(frame, OversizeFrame) else decode_line(frame)
            if event is not None:
                await self.handle(event, work)

    async def handle(self, event: Event | OversizeFrame, tg: TaskGroup) -> None:
        """Route one decoded line. Waits (back-pressure) when all slots are busy."""
        if isinstance(event, Request):
            spec = self.registry.get(event.method)
            if spec is None or not spec.is_async:
                # Answered on the spot: no task, no slot (the fast path for pings).
                await self.sink.send(_encode_answer(self._answer_now(event, spec)))
                return
            await self._slots.acquire()
            self._task_started()
            tg.start_soon(self._run_request_task, event, spec)
        elif isinstance(event, Notification):
            await self._slots.acquire()
            self._task_started()
            tg.start_soon(self._run_notification_task, event)
        elif isinstance(event, Batch):
            await self._batch_slots.acquire()
            self._task_started()
            tg.start_soon(self._run_batch, event)
        elif isinstance(event, InvalidMessage):
            await self.sink.send(encode_frame(ServerConnection.invalid(event)))
        elif isinstance(event, OversizeFrame):
            await self.sink.send(encode_frame(ServerConnection.oversize(event)))
        elif isinstance(event, (Response, ErrorReply)):
            log.warning("host sent a response but the sidecar made no requests; ignored")

    async def notify(self, method: str, params: Any = msgspec.UNSET) -> None:
        """Send a notification frame to the host."""
        await self.sink.send(encode_frame(OutgoingNotification("2.0", method, params)))

    # ------------------------------------------------------------ state

    def _task_started(self) -> None:
        self._running += 1
        self._idle = anyio.Event() if self._idle.is_set() else self._idle

    def _task_finished(self) -> None:
        self._running -= 1
        if self._running == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no request, notification or batch is being handled."""
        await self._idle.wait()

    def inflight(self) -> list[InFlight]:
        """The requests being handled right now."""
        return list(self.connection)

    def cancel_request(self, key: Any) -> bool:
        """Cancel one in-flight request by its (decoded) id; False if none is running."""
        return self.connection.cancel(key)

    def stop_accepting(self) -> None:
        """Shutdown began: requests that start from now on are answered -32002."""
        self.connection.stop_accepting()

    def cancel_all(self, code: ErrorCode = ErrorCode.SHUTTING_DOWN) -> int:
        """Cancel every in-flight request (each answers with ``code``); returns how many."""
        return self.connection.cancel_all(code)

    # ------------------------------------------------------------ running

    def _answer_now(self, request: Request, spec: MethodSpec | None) -> Answer:
        """Answer an unknown method or an inline (plain ``def``) method without awaiting."""
        if spec is None:
            return ServerConnection.method_not_found(request.id, request.method)
        ctx = RequestContext(self, spec.name, None)
        try:
            params = spec.decode_params(request.params)
            result = spec.handler(ctx, params) if spec.params_type else spec.handler(ctx)
        except RpcError as exc:
            return ServerConnection.failed(request.id, exc)
        except Exception as exc:  # the JSON-RPC boundary: a known failure keeps its kind, a bug becomes -32099
            return self._failure(request.id, spec.name, exc)
        return ServerConnection.success(request.id, result)

    def _failure(self, request_id: Raw, method: str, exc: Exception) -> Answer:
        known = self._translate(exc) if self._translate is not None else None
        if known is not None:
            return ServerConnection.failed(request_id, known)
        return ServerConnection.unhandled(request_id, method, exc)

    async def _run_request_task(self, request: Request, spec: MethodSpec | None) -> None:
        try:
            frame = await self._answer(request, spec)
            await self.sink.send(_encode_answer(frame))
        finally:
            self._slots.release()
            self._task_finished()

    async def _run_notification_task(self, note: Notification) -> None:
        try:
            await self._execute_notification(note)
        finally:
            self._slots.release()
            self._task_finished()

    async def _execute_notification(self, note: Notification) -> None:
        spec = self.registry.get(note.method)
        if spec is None:
            log.debug("notification for unknown method ignored", extra={"ctx": {"method": note.method}})
            return
        ctx = RequestContext(self, spec.name, None)
        try:
            params = spec.decode_params(note.params)
            outcome = spec.handler(ctx, params) if spec.params_type else spec.handler(ctx)
            if spec.is_async:
                await outcome
        except RpcError as exc:
            log.info("notification failed", extra={"ctx": {"method": note.method, "error": exc.message}})
        except Exception:  # never answered, so the log is the only place it can go
            log.exception("notification handler raised", extra={"ctx": {"method": note.method}})

    async def _answer(self, request: Request, spec: MethodSpec | None) -> Answer:
        """Run one request to completion and build its answer (never raises)."""
        if spec is None or not spec.is_async:
            return self._answer_now(request, spec)
        scope = anyio.CancelScope()
        entry = self.connection.begin(request.id, spec.name, time.monotonic(), scope.cancel)
        if not isinstance(entry, InFlight):
            return entry  # refused: the id is already in flight
        ctx = RequestContext(self, spec.name, entry.id_key)
        try:
            with scope:
                params = spec.decode_params(request.params)
                result = await (spec.handler(ctx, params) if spec.params_type else spec.handler(ctx))
                return ServerConnection.success(request.id, result)
            # Only reached when the scope swallowed a cancellation.
            return ServerConnection.cancelled(request.id, entry)
        except RpcError as exc:
            return ServerConnection.failed(request.id, exc)
        except Exception as exc:  # the JSON-RPC boundary: a known failure keeps its kind, a bug becomes -32099
            return self._failure(request.id, spec.name, exc)
        finally:
            self.connection.finish(entry)
            elapsed_ms = (time.monotonic() - entry.started) * 1000
            log.debug(
                "request done", extra={"ctx": {"method": spec.name, "id": entry.id_key, "ms": round(elapsed_ms, 3)}}
            )

    async def _run_batch(self, batch: Batch) -> None:
        try:
            answers = BatchAnswers(len(batch.items))

            async def run_element(index: int, item: Message) -> None:
                try:
                    answers.put(index, await self._answer_element(item))
                finally:
                    self._slots.release()

            async with anyio.create_task_group() as tg:
                for index, item in enumerate(batch.items):
                    await self._slots.acquire()
                    tg.start_soon(run_element, index, item)
            frame = answers.frame()
            if frame is not None:
                await self.sink.send(_encode_answer(frame))
        finally:
            self._batch_slots.release()
            self._task_finished()

    async def _answer_element(self, item: Message) -> Answer | None:
        if isinstance(item, Request):
            return await self._answer(item, self.registry.get(item.method))
        if isinstance(item, Notification):
            await self._execute_notification(item)
            return None
        if isinstance(item, InvalidMessage):
            return ServerConnection.invalid(item)
        return None  # responses inside a batch from the host: nothing to answer


#: What msgspec raises for a value it cannot encode.
_UNENCODABLE: Final = (TypeError, ValueError, OverflowError, RecursionError)


def _encode_answer(answer: Answer | list[Answer]) -> bytes:
    """The answer's frame. A result or error msgspec cannot encode (a handler bug) becomes a
    -32099 answer for that request, instead of an exception that would end the server."""
    try:
        return encode_frame(answer)
    except _UNENCODABLE:
        if isinstance(answer, list):
            return encode_frame([_encodable(item) for item in answer])
        return encode_frame(_encodable(answer))


def _encodable(answer: Answer) -> Answer:
    try:
        encode_frame(answer)
    except _UNENCODABLE as exc:
        return ServerConnection.unhandled(answer.id, "encoding the answer", exc)
    return answer
