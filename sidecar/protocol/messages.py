"""JSON-RPC 2.0 messages as msgspec Structs: the one schema for the wire.

Two families live here:

* outgoing frames (what an encoder writes): :class:`SuccessResponse`,
  :class:`ErrorResponse`, :class:`OutgoingRequest`, :class:`OutgoingNotification`;
* decoded events (what the decoder yields for one input line): :class:`Request`,
  :class:`Notification`, :class:`Response`, :class:`ErrorReply`,
  :class:`InvalidMessage`, :class:`Batch`, :class:`OversizeFrame`.

Ids travel as :class:`msgspec.Raw`: the exact bytes the peer sent, so a
response echoes ``12345678901234567890123`` or ``"a\\u0041"`` byte for byte.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

JSONRPC_VERSION: Literal["2.0"] = "2.0"
NULL_ID = Raw(b"null")


class ErrorObject(Struct, frozen=True):
    """The ``error`` member of an error response.

    code: the JSON-RPC error code (see :mod:`sidecar.protocol.errors`).
    message: a short human-readable sentence.
    data: structured detail; the sidecar always sends an object with ``kind``.
    """

    code: int
    message: str
    data: Any = UNSET


# ---------------------------------------------------------------- outgoing


class SuccessResponse(Struct, frozen=True):
    """A response carrying a result.

    jsonrpc: always "2.0".
    id: the request's id, echoed as the raw bytes received.
    result: any msgspec-encodable value.
    """

    jsonrpc: Literal["2.0"]
    id: Raw
    result: Any


class ErrorResponse(Struct, frozen=True):
    """A response carrying an error.

    jsonrpc: always "2.0".
    id: the request's id (raw), or ``null`` when it could not be determined.
    error: the error object.
    """

    jsonrpc: Literal["2.0"]
    id: Raw
    error: ErrorObject


class OutgoingRequest(Struct, frozen=True):
    """A request a host sends.

    jsonrpc: always "2.0".
    id: an integer or string chosen by the sender.
    method: the method name.
    params: an object or array; omitted when unset.
    """

    jsonrpc: Literal["2.0"]
    id: int | str
    method: str
    params: Any = UNSET


class OutgoingNotification(Struct, frozen=True):
    """A notification (no id, never answered), in either direction.

    jsonrpc: always "2.0".
    method: the notification name, e.g. ``job.progress``.
    params: an object or array; omitted when unset.
    """

    jsonrpc: Literal["2.0"]
    method: str
    params: Any = UNSET


# ----------------------------------------------------------- decoded events


class Request(Struct, frozen=True):
    """A call that expects an answer.

    id: raw JSON of the id (a string, a number or null).
    method: the method name.
    params: raw JSON of the params (an object or array), or None when absent/null.
    """

    id: Raw
    method: str
    params: Raw | None = None


class Notification(Struct, frozen=True):
    """A call that must never be answered.

    method: the method name.
    params: raw JSON of the params, or None when absent/null.
    """

    method: str
    params: Raw | None = None


class Response(Struct, frozen=True):
    """A successful answer (seen by hosts).

    id: raw JSON of the id it answers.
    result: raw JSON of the result.
    """

    id: Raw
    result: Raw


class ErrorReply(Struct, frozen=True):
    """An error answer (seen by hosts).

    id: raw JSON of the id it answers (``null`` when unknown).
    error: the error object.
    """

    id: Raw
    error: ErrorObject


class InvalidMessage(Struct, frozen=True):
    """A line (or batch element) the receiver must answer with an error.

    id: raw JSON of the id when it could be read, else ``null``.
    error: the error to send back (-32700, -32600, or -32003 for oversize).
    """

    id: Raw
    error: ErrorObject


class OversizeFrame(Struct, frozen=True):
    """A line longer than the frame cap; its bytes were discarded.

    size: how many bytes the line had (excluding the newline).
    limit: the cap in force.
    """

    size: int
    limit: int


Message: TypeAlias = Request | Notification | Response | ErrorReply | InvalidMessage


class Batch(Struct, frozen=True):
    """A JSON array of messages.

    items: one decoded event per element, in order.
    """

    items: tuple[Message, ...]


Event: TypeAlias = Message | Batch

# Built once at import time (msgspec's advice): encoding is the hot path.
_encoder = msgspec.json.Encoder()


def encode_frame(message: Any) -> bytes:
    """Encode one message (or a list of them, for a batch) as one ``\\n``-terminated line."""
    buf = bytearray()
    _encoder.encode_into(message, buf)
    buf += b"\n"
    return bytes(buf)


def raw_first_byte(raw: Raw) -> bytes:
    """The first byte of a raw JSON value, without copying the value."""
    return memoryview(raw)[:1].tobytes()


def raw_id_kind(raw: Raw) -> str:
    """Classify a raw JSON value by its first byte: string, number, null, bool, object, array."""
    first = raw_first_byte(raw)
    if first == b'"':
        return "string"
    if first and first in b"-0123456789":
        return "number"
    if first == b"n":
        return "null"
    if first in (b"t", b"f"):
        return "bool"
    if first == b"{":
        return "object"
    if first == b"[":
        return "array"
    return "unknown"


__all__ = [
    "JSONRPC_VERSION",
    "NULL_ID",
    "UNSET",
    "Batch",
    "ErrorObject",
    "ErrorReply",
    "ErrorResponse",
    "Event",
    "InvalidMessage",
    "Message",
    "Notification",
    "OutgoingNotification",
    "OutgoingRequest",
    "OversizeFrame",
    "Raw",
    "Request",
    "Response",
    "SuccessResponse",
    "UnsetType",
    "encode_frame",
    "raw_first_byte",
    "raw_id_kind",
]
