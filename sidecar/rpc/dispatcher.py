"""Dispatch decoded events to handlers and turn outcomes into response frames.

One :class:`Session` per process. Requests run concurrently in their own
tasks (inline methods answer at once in the reader), each under its own
CancelScope kept in the in-flight table so ``rpc.cancel`` and shutdown can
stop it and still send it an answer. The number of requests in progress is
bounded: when it is reached the reader stops reading stdin (back-pressure),
so memory never grows with what the host sends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import msgspec
from anyio.abc import TaskGroup

from sidecar.protocol import (
    NULL_ID,
    Batch,
    ErrorCode,
    ErrorObject,
    ErrorReply,
    ErrorResponse,
    Event,
    InvalidMessage,
    Message,
    Notification,
    OutgoingNotification,
    OversizeFrame,
    Request,
    Response,
    RpcError,
    SuccessResponse,
    encode_frame,
    error_object,
)
from sidecar.protocol.messages import Raw
from sidecar.transport.outbox import Outbox
from sidecar.rpc.registry import MethodSpec, Registry

log = logging.getLogger("sidecar.session")

#: Batches processed at once; each element still takes an in-flight slot.
MAX_CONCURRENT_BATCHES: Final = 16
_decode_id = msgspec.json.Decoder().decode


@dataclass(eq=False)
class InFlight:
    """A request being handled.

    id_key: the decoded id (the key rpc.cancel looks up).
    method: the method name.
    started: monotonic start time.
    scope: the CancelScope the handler runs in.
    cancel_code: the error the request gets if its scope is cancelled.
    """

    id_key: Any
    method: str
    started: float
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    cancel_code: ErrorCode = ErrorCode.REQUEST_CANCELLED

    def cancel(self, code: ErrorCode) -> None:
        """Stop the handler; it answers with ``code``."""
        self.cancel_code = code
        self.scope.cancel()


class RequestContext:
    """What a handler gets besides its params.

    session: the session (server state, notifications, shutdown).
    method: the method being handled.
    request_id: the decoded id, or None for a notification.
    """

    __slots__ = ("method", "request_id", "session")

    def __init__(self, session: Session, method: str, request_id: Any) -> None:
        self.session = session
        self.method = method
        self.request_id = request_id

    async def notify(self, method: str, params: Any = msgspec.UNSET) -> None:
        """Send a server-to-host notification (waits if stdout is backed up)."""
        await self.session.notify(method, params)


class Session:
    """Per-process dispatch state: the registry, the in-flight table, the outbox."""

    def __init__(
        self,
        registry: Registry,
        outbox: Outbox,
        *,
        max_inflight: int,
        request_shutdown: Callable[[str], None],
        state: dict[str, Any] | None = None,
    ) -> None:
        self.registry = registry
        self.outbox = outbox
        self.request_shutdown = request_shutdown
        #: Application state handlers share (config, paths, engine, ...).
        self.state: dict[str, Any] = state if state is not None else {}
        self.inflight: dict[Any, InFlight] = {}
        self.started = time.monotonic()
        self._slots = anyio.Semaphore(max_inflight)
        self._batch_slots = anyio.Semaphore(MAX_CONCURRENT_BATCHES)
        self._idle = anyio.Event()
        self._idle.set()
        self._running = 0
        self.accepting = True

    # ------------------------------------------------------------ intake

    async def handle(self, event: Event | OversizeFrame, tg: TaskGroup) -> None:
        """Route one decoded line. Waits (back-pressure) when all slots are busy."""
        if isinstance(event, Request):
            spec = self.registry.get(event.method)
            if spec is None or not spec.is_async:
                # Answered on the spot: no task, no slot (the fast path for pings).
                await self.outbox.send(encode_frame(self._answer_now(event, spec)))
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
            await self.outbox.send(encode_frame(ErrorResponse("2.0", event.id, event.error)))
        elif isinstance(event, OversizeFrame):
            log.warning("oversize frame discarded", extra={"ctx": {"size": event.size, "limit": event.limit}})
            error = error_object(
                ErrorCode.FRAME_TOO_LARGE,
                f"Frame of {event.size} bytes exceeds the {event.limit}-byte limit",
                size=event.size,
                limit=event.limit,
            )
            await self.outbox.send(encode_frame(ErrorResponse("2.0", NULL_ID, error)))
        elif isinstance(event, (Response, ErrorReply)):
            log.warning("host sent a response but the sidecar made no requests; ignored")

    async def notify(self, method: str, params: Any = msgspec.UNSET) -> None:
        """Send a notification frame to the host."""
        await self.outbox.send(encode_frame(OutgoingNotification("2.0", method, params)))

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

    def cancel_all(self, code: ErrorCode) -> int:
        """Cancel every in-flight request (each answers with ``code``); returns how many."""
        entries = list(self.inflight.values())
        for entry in entries:
            entry.cancel(code)
        return len(entries)

    def cancel_request(self, id_key: Any) -> bool:
        """Cancel one in-flight request by its id; False if none is running."""
        entry = self.inflight.get(id_key)
        if entry is None:
            return False
        entry.cancel(ErrorCode.REQUEST_CANCELLED)
        return True

    # ------------------------------------------------------------ running

    def _answer_now(self, request: Request, spec: MethodSpec | None) -> SuccessResponse | ErrorResponse:
        """Answer an unknown method or an inline (plain ``def``) method without awaiting."""
        if spec is None:
            error = error_object(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {request.method}", method=request.method)
            return ErrorResponse("2.0", request.id, error)
        ctx = RequestContext(self, spec.name, None)
        try:
            params = spec.decode_params(request.params)
            result = spec.handler(ctx, params) if spec.params_type else spec.handler(ctx)
        except RpcError as exc:
            return ErrorResponse("2.0", request.id, _error_from(exc))
        except Exception as exc:  # the JSON-RPC boundary: a handler bug becomes -32099
            return ErrorResponse("2.0", request.id, _unhandled(spec.name, exc))
        return SuccessResponse("2.0", request.id, result)

    async def _run_request_task(self, request: Request, spec: MethodSpec | None) -> None:
        try:
            frame = await self._answer(request, spec)
            await self.outbox.send(encode_frame(frame))
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

    async def _answer(self, request: Request, spec: MethodSpec | None) -> SuccessResponse | ErrorResponse:
        """Run one request to completion and build its response frame (never raises)."""
        if spec is None or not spec.is_async:
            return self._answer_now(request, spec)
        id_key = _id_key(request.id)
        if id_key in self.inflight:
            error = error_object(
                ErrorCode.INVALID_REQUEST, "A request with this id is already in flight", kind="duplicate_id"
            )
            return ErrorResponse("2.0", request.id, error)
        entry = InFlight(id_key, spec.name, time.monotonic())
        if not self.accepting:
            entry.cancel(ErrorCode.SHUTTING_DOWN)
        self.inflight[id_key] = entry
        ctx = RequestContext(self, spec.name, id_key)
        try:
            with entry.scope:
                params = spec.decode_params(request.params)
                result = await (spec.handler(ctx, params) if spec.params_type else spec.handler(ctx))
                return SuccessResponse("2.0", request.id, result)
            # Only reached when the scope swallowed a cancellation.
            return ErrorResponse("2.0", request.id, error_object(entry.cancel_code, method=spec.name))
        except RpcError as exc:
            return ErrorResponse("2.0", request.id, _error_from(exc))
        except Exception as exc:  # the JSON-RPC boundary: a handler bug becomes -32099
            return ErrorResponse("2.0", request.id, _unhandled(spec.name, exc))
        finally:
            del self.inflight[id_key]
            elapsed_ms = (time.monotonic() - entry.started) * 1000
            log.debug("request done", extra={"ctx": {"method": spec.name, "id": id_key, "ms": round(elapsed_ms, 3)}})

    async def _run_batch(self, batch: Batch) -> None:
        try:
            answers: list[SuccessResponse | ErrorResponse | None] = [None] * len(batch.items)

            async def run_element(index: int, item: Message) -> None:
                try:
                    answers[index] = await self._answer_element(item)
                finally:
                    self._slots.release()

            async with anyio.create_task_group() as tg:
                for index, item in enumerate(batch.items):
                    await self._slots.acquire()
                    tg.start_soon(run_element, index, item)
            frames = [answer for answer in answers if answer is not None]
            if frames:  # a batch of notifications gets no output at all
                await self.outbox.send(encode_frame(frames))
        finally:
            self._batch_slots.release()
            self._task_finished()

    async def _answer_element(self, item: Message) -> SuccessResponse | ErrorResponse | None:
        if isinstance(item, Request):
            return await self._answer(item, self.registry.get(item.method))
        if isinstance(item, Notification):
            await self._execute_notification(item)
            return None
        if isinstance(item, InvalidMessage):
            return ErrorResponse("2.0", item.id, item.error)
        return None  # responses inside a batch from the host: nothing to answer


def _id_key(raw: Raw) -> Any:
    """The id as a value, for the in-flight table (``"1"`` and ``1`` stay distinct)."""
    return _decode_id(raw)


def _error_from(exc: RpcError) -> ErrorObject:
    data = {"kind": exc.kind, **exc.data}
    return ErrorObject(exc.code, exc.message, data)


def _unhandled(method: str, exc: Exception) -> ErrorObject:
    log.error(
        "handler raised", exc_info=exc, extra={"ctx": {"method": method, "exception": type(exc).__name__}}
    )
    return error_object(
        ErrorCode.UNHANDLED_EXCEPTION,
        f"{method} failed: {type(exc).__name__}: {exc}",
        exception=type(exc).__name__,
    )
