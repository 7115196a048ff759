"""The server side of one JSON-RPC connection, with no I/O: the rules that need state.

What a single line cannot decide lives here: which ids are in flight (a
second request with the same id is refused), what a cancelled request
answers (``-32001`` for ``rpc.cancel``, ``-32002`` once shutdown began), how
a batch's answers are put back together (in order, notifications left out,
nothing at all for a batch of notifications), and what a request that
arrives while the connection stops answers.

The dispatcher (:mod:`sidecar.rpc.dispatcher`) owns the tasks and cancel
scopes; it asks this class what to answer. Tested with plain values, no
event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from sidecar.common.errors import ErrorCode, RpcError
from sidecar.protocol.codec import error_object
from sidecar.protocol.messages import (
    NULL_ID,
    ErrorObject,
    ErrorResponse,
    InvalidMessage,
    OversizeFrame,
    Raw,
    SuccessResponse,
)

log = logging.getLogger("sidecar.session")

Answer = SuccessResponse | ErrorResponse
_decode_id = msgspec.json.Decoder().decode


def id_key(raw: Raw) -> Any:
    """The id as a value, for the in-flight table (``"1"`` and ``1`` stay distinct)."""
    return _decode_id(raw)


class InFlight(msgspec.Struct, eq=False):
    """A request being handled.

    id_key: the decoded id (the key rpc.cancel looks up).
    method: the method name.
    started: when it started (the caller's clock, e.g. monotonic seconds).
    cancel_code: the error the request answers with if it is cancelled.
    on_cancel: what stops its handler (the dispatcher's cancel scope), if any.
    """

    id_key: Any
    method: str
    started: float
    cancel_code: ErrorCode = ErrorCode.REQUEST_CANCELLED
    on_cancel: Callable[[], None] | None = None

    def cancel(self, code: ErrorCode) -> None:
        """Stop the handler; it answers with ``code``."""
        self.cancel_code = code
        if self.on_cancel is not None:
            self.on_cancel()


class ServerConnection:
    """In-flight ids, cancellation and the answers they lead to, for one connection."""

    def __init__(self) -> None:
        self.inflight: dict[Any, InFlight] = {}
        #: False once shutdown began: a request that starts now is answered -32002.
        self.accepting = True

    # ------------------------------------------------------------ in flight

    def begin(
        self, request_id: Raw, method: str, started: float, on_cancel: Callable[[], None] | None = None
    ) -> InFlight | ErrorResponse:
        """Track a request that is about to run, or the answer that refuses it (a duplicate id).

        While the connection is not accepting, the entry comes back already
        cancelled with ``-32002``: the handler never runs and the request
        still gets its answer.
        """
        key = id_key(request_id)
        if key in self.inflight:
            error = error_object(
                ErrorCode.INVALID_REQUEST, "A request with this id is already in flight", kind="duplicate_id"
            )
            return ErrorResponse("2.0", request_id, error)
        entry = InFlight(key, method, started, on_cancel=on_cancel)
        if not self.accepting:
            entry.cancel(ErrorCode.SHUTTING_DOWN)
        self.inflight[key] = entry
        return entry

    def finish(self, entry: InFlight) -> None:
        """The request has been answered."""
        if self.inflight.get(entry.id_key) is entry:
            del self.inflight[entry.id_key]

    def cancel(self, key: Any) -> bool:
        """``rpc.cancel``: cancel one in-flight request by its id; False if none is running."""
        entry = self.inflight.get(key)
        if entry is None:
            return False
        entry.cancel(ErrorCode.REQUEST_CANCELLED)
        return True

    def stop_accepting(self) -> None:
        """Shutdown began: requests that start from now on are answered -32002."""
        self.accepting = False

    def cancel_all(self, code: ErrorCode = ErrorCode.SHUTTING_DOWN) -> int:
        """Cancel every in-flight request (each answers with ``code``); returns how many."""
        entries = list(self.inflight.values())
        for entry in entries:
            entry.cancel(code)
        return len(entries)

    def __iter__(self) -> Iterator[InFlight]:
        return iter(list(self.inflight.values()))

    # ------------------------------------------------------------ answers

    @staticmethod
    def success(request_id: Raw, result: Any) -> SuccessResponse:
        """The answer carrying ``result``."""
        return SuccessResponse("2.0", request_id, result)

    @staticmethod
    def cancelled(request_id: Raw, entry: InFlight) -> ErrorResponse:
        """The answer of a request whose handler was cancelled (-32001 or -32002)."""
        return ErrorResponse("2.0", request_id, error_object(entry.cancel_code, method=entry.method))

    @staticmethod
    def failed(request_id: Raw, exc: RpcError) -> ErrorResponse:
        """The answer for an :class:`RpcError` a handler raised: its code, message, kind and data."""
        return ErrorResponse("2.0", request_id, ErrorObject(exc.code, exc.message, {"kind": exc.kind, **exc.data}))

    @staticmethod
    def unhandled(request_id: Raw, method: str, exc: Exception) -> ErrorResponse:
        """The answer for a bug in a handler: -32099 naming the exception (its traceback goes to the log)."""
        log.error("handler raised", exc_info=exc, extra={"ctx": {"method": method, "exception": type(exc).__name__}})
        error = error_object(
            ErrorCode.UNHANDLED_EXCEPTION, f"{method} failed: {type(exc).__name__}: {exc}", exception=type(exc).__name__
        )
        return ErrorResponse("2.0", request_id, error)

    @staticmethod
    def method_not_found(request_id: Raw, method: str) -> ErrorResponse:
        """The answer for a method nobody registered."""
        error = error_object(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method}", method=method)
        return ErrorResponse("2.0", request_id, error)

    @staticmethod
    def invalid(message: InvalidMessage) -> ErrorResponse:
        """The answer for a line or batch element the decoder refused (-32700 / -32600)."""
        return ErrorResponse("2.0", message.id, message.error)

    @staticmethod
    def oversize(frame: OversizeFrame) -> ErrorResponse:
        """The answer for a line over the frame cap (-32003, id null: the id was never read)."""
        log.warning("oversize frame discarded", extra={"ctx": {"size": frame.size, "limit": frame.limit}})
        error = error_object(
            ErrorCode.FRAME_TOO_LARGE,
            f"Frame of {frame.size} bytes exceeds the {frame.limit}-byte limit",
            size=frame.size,
            limit=frame.limit,
        )
        return ErrorResponse("2.0", NULL_ID, error)


class BatchAnswers:
    """A batch's answers, put back in the order of its elements.

    Elements answer in any order (they run concurrently); notifications and
    responses inside a batch answer nothing. :meth:`frame` is the one array
    to send, or None when nothing is to be sent (JSON-RPC: a batch of only
    notifications gets no output at all).
    """

    def __init__(self, size: int) -> None:
        self._answers: list[Answer | None] = [None] * size

    def put(self, index: int, answer: Answer | None) -> None:
        """Record element ``index``'s answer (None: that element answers nothing)."""
        self._answers[index] = answer

    def frame(self) -> list[Answer] | None:
        """The answers in element order, or None if there are none."""
        answers = [answer for answer in self._answers if answer is not None]
        return answers or None
