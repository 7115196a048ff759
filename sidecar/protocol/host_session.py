"""The host's side of one sidecar's stdio, without I/O (the Rust host's ``protocol/session.rs``, in Python).

:class:`StdoutSession` takes one stdout line (from a
:class:`~sidecar.protocol.LineSplitter`) and returns what it means for the
host: a lifecycle step, an answer, a notification, or a protocol violation.
It enforces the order the protocol promises: BOOT first, READY exactly
once, nothing after SHUTDOWN. :class:`CallTable` numbers the host's
requests and matches answers to them. Both are tested with plain lists of
lines; the host client (``sidecar_host``) puts the processes and pipes
around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from sidecar.protocol.codec import decode_line
from sidecar.protocol.lifecycle import LifecycleError, LifecycleLine, is_lifecycle_line, parse_lifecycle
from sidecar.protocol.messages import (
    Batch,
    ErrorReply,
    InvalidMessage,
    Message,
    Notification,
    OutgoingNotification,
    OutgoingRequest,
    OversizeFrame,
    Request,
    Response,
    encode_frame,
)

#: How much of an offending line is kept for messages.
SHOWN_LINE_CHARS: Final = 500

ViolationKind = Literal[
    "non_protocol_line", "malformed_lifecycle", "boot_not_first", "duplicate_ready", "line_after_shutdown", "oversize"
]

_decode = msgspec.json.decode


def show_line(line: bytes) -> str:
    """A line as text for messages and logs, truncated to :data:`SHOWN_LINE_CHARS` characters."""
    return line[:SHOWN_LINE_CHARS].decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Boot:
    """``BOOT ...``, the first one. line: its fields (``pid``, ``version``, ``protocol``, ...)."""

    line: LifecycleLine


@dataclass(frozen=True, slots=True)
class Ready:
    """``READY``, the first one."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """``HEARTBEAT seq=N ...``. line: its fields."""

    line: LifecycleLine


@dataclass(frozen=True, slots=True)
class Shutdown:
    """``SHUTDOWN reason=...``: the last line the sidecar writes. line: its fields."""

    line: LifecycleLine

    @property
    def reason(self) -> str:
        """The reason given, or ``unknown``."""
        return self.line.get("reason") or "unknown"


@dataclass(frozen=True, slots=True)
class Answer:
    """A response or error reply. message: the decoded answer. line: the line it came in
    (a batch line carries several)."""

    message: Response | ErrorReply
    line: bytes


@dataclass(frozen=True, slots=True)
class NoteReceived:
    """A server-to-host notification."""

    notification: Notification


@dataclass(frozen=True, slots=True)
class Violation:
    """Something on stdout that breaks the contract. kind: what. line: the offending line (shortened)."""

    kind: ViolationKind
    line: str


StdoutEvent = Boot | Ready | Heartbeat | Shutdown | Answer | NoteReceived | Violation


class StdoutSession:
    """Tracks the lifecycle order of one sidecar's stdout and classifies every line."""

    def __init__(self) -> None:
        #: The latest BOOT line (a second one is a violation but still recorded, as in the Rust host).
        self.boot: LifecycleLine | None = None
        self.ready = False
        self.shutdown: LifecycleLine | None = None

    def on_line(self, line: bytes | OversizeFrame) -> list[StdoutEvent]:
        """What one stdout line (without its newline) means, in order."""
        if isinstance(line, OversizeFrame):
            return [Violation("oversize", f"line of {line.size} bytes over the host's limit of {line.limit}")]
        out: list[StdoutEvent] = []
        if self.shutdown is not None:
            out.append(Violation("line_after_shutdown", show_line(line)))
        first = line[:1]
        if first in (b"{", b"["):
            self._on_frame(line, out)
        elif is_lifecycle_line(line):
            self._on_lifecycle(line, out)
        else:
            out.append(Violation("non_protocol_line", show_line(line)))
        return out

    def _on_lifecycle(self, line: bytes, out: list[StdoutEvent]) -> None:
        try:
            parsed = parse_lifecycle(line)
        except LifecycleError:
            out.append(Violation("malformed_lifecycle", show_line(line)))
            return
        if parsed.token == "BOOT":
            if self.boot is not None or self.ready:
                out.append(Violation("boot_not_first", show_line(line)))
                self.boot = parsed
            else:
                self.boot = parsed
                out.append(Boot(parsed))
            return
        if self.boot is None:
            out.append(Violation("boot_not_first", show_line(line)))
        if parsed.token == "READY":
            if self.ready:
                out.append(Violation("duplicate_ready", show_line(line)))
            else:
                self.ready = True
                out.append(Ready())
        elif parsed.token == "HEARTBEAT":
            out.append(Heartbeat(parsed))
        elif parsed.token == "SHUTDOWN":
            self.shutdown = parsed
            out.append(Shutdown(parsed))

    def _on_frame(self, line: bytes, out: list[StdoutEvent]) -> None:
        event = decode_line(line)
        if isinstance(event, Batch):
            for item in event.items:
                self._on_message(item, line, out)
        elif event is not None and not isinstance(event, OversizeFrame):
            self._on_message(event, line, out)

    @staticmethod
    def _on_message(message: Message, line: bytes, out: list[StdoutEvent]) -> None:
        if isinstance(message, (Response, ErrorReply)):
            out.append(Answer(message, line))
        elif isinstance(message, Notification):
            out.append(NoteReceived(message))
        elif isinstance(message, Request):
            out.append(Violation("non_protocol_line", "sidecar sent a request: " + show_line(line)))
        elif isinstance(message, InvalidMessage):
            out.append(Violation("non_protocol_line", show_line(line)))


class CallTable:
    """The host's outstanding calls: integer ids handed out in order, answers matched to them."""

    def __init__(self) -> None:
        self._next_id = 1
        self._pending: dict[int, str] = {}

    @property
    def next_id(self) -> int:
        """The id the next :meth:`start` will use."""
        return self._next_id

    def start(self, method: str, params: Any = msgspec.UNSET) -> tuple[int, bytes]:
        """Allocate an id for a call; returns it and the request frame to write."""
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = method
        return request_id, encode_frame(OutgoingRequest("2.0", request_id, method, params))

    def finish(self, request_id: int) -> None:
        """The call is over (answered, timed out or abandoned): a later answer to it is unmatched."""
        self._pending.pop(request_id, None)

    def match(self, answer: Response | ErrorReply) -> int | None:
        """The id of the pending call ``answer`` belongs to, or None (unknown, not ours, or already over)."""
        try:
            key = _decode(answer.id)
        except msgspec.DecodeError:
            return None
        if isinstance(key, bool) or not isinstance(key, int) or key not in self._pending:
            return None
        return key

    def pending(self) -> list[int]:
        """The ids still waiting for an answer."""
        return list(self._pending)

    @staticmethod
    def cancel_frame(request_id: int) -> bytes:
        """The ``rpc.cancel`` notification for a call the host gave up on (what the Rust host sends)."""
        return encode_frame(OutgoingNotification("2.0", "rpc.cancel", {"id": request_id}))

    @staticmethod
    def notification_frame(method: str, params: Any = msgspec.UNSET) -> bytes:
        """A notification frame (never answered)."""
        return encode_frame(OutgoingNotification("2.0", method, params))
