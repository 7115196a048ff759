"""Decode one input line into an event; no I/O, no state.

``decode_line`` is used by both ends: the sidecar feeds it stdin lines
(requests, notifications, batches), hosts feed it stdout JSON lines
(responses, notifications). Every malformed input becomes an
:class:`InvalidMessage` value carrying the error to send back; nothing here
raises for bad input.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Final

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from sidecar.common.errors import ERROR_TABLE, ErrorCode
from sidecar.protocol.messages import (
    NULL_ID,
    Batch,
    ErrorObject,
    ErrorReply,
    Event,
    InvalidMessage,
    Message,
    Notification,
    Request,
    Response,
    raw_first_byte,
    raw_id_kind,
)


class _Envelope(Struct):
    """Every member of a JSON-RPC object, undecoded, so validation is ours."""

    jsonrpc: Raw | UnsetType = UNSET
    method: Raw | UnsetType = UNSET
    params: Raw | UnsetType = UNSET
    id: Raw | UnsetType = UNSET
    result: Raw | UnsetType = UNSET
    error: Raw | UnsetType = UNSET


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_batch_decoder = msgspec.json.Decoder(list[Raw])
_any_decoder = msgspec.json.Decoder()
_str_decoder = msgspec.json.Decoder(str)
_error_decoder = msgspec.json.Decoder(ErrorObject)
_JSONRPC_2 = b'"2.0"'
_WHITESPACE = b" \t\r\n"

#: The deepest nesting of arrays and objects a frame may have; the message object (or batch
#: array) itself is level 1. Deeper frames are refused with -32700 before decoding: the
#: decoder recurses per level, and this keeps every frame far from Python's recursion limit.
#: The Rust host enforces the same number (docs/PROTOCOL.md section 4).
MAX_NESTING_DEPTH: Final = 128
_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP: Final = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def error_object(code: ErrorCode, message: str | None = None, **data: Any) -> ErrorObject:
    """Build an error object whose ``data`` always names the stable ``kind``."""
    kind, default_message = ERROR_TABLE[code]
    data.setdefault("kind", kind)
    return ErrorObject(int(code), message or default_message, data)


def _invalid(id_: Raw, reason: str) -> InvalidMessage:
    return InvalidMessage(id_, error_object(ErrorCode.INVALID_REQUEST, detail=reason))


def _parse_error(reason: str) -> InvalidMessage:
    return InvalidMessage(NULL_ID, error_object(ErrorCode.PARSE_ERROR, detail=reason))


def nesting_depth(text: bytes) -> int:
    """How deeply arrays and objects nest in ``text`` (JSON), ignoring brackets inside strings;
    or the number of ``[``/``{`` when that is at most :data:`MAX_NESTING_DEPTH` (the cheap case).

    A lower bound for malformed text. Linear: string contents go first (a split at the
    quotes, or a regular expression when there are escapes), then everything but brackets
    (``bytes.translate``), then a running sum.
    """
    openers = text.count(b"[") + text.count(b"{")
    if openers <= MAX_NESTING_DEPTH:
        return openers  # it cannot nest deeper than it has openers
    if b"\\" in text:
        outside = _JSON_STRING.sub(b'""', text)
    else:  # no escapes: every other quote-delimited piece is inside a string
        outside = b"".join(text.split(b'"')[0::2])
    brackets = outside.translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(_DEPTH_STEP[b] for b in brackets), default=0)


def decode_line(line: bytes) -> Event | None:
    """Turn one line (without its newline) into an event.

    Returns None for a blank line (only whitespace), which is ignored. A JSON
    array becomes a :class:`Batch` (an empty one is itself invalid); anything
    that is not valid UTF-8 JSON, or that nests deeper than
    :data:`MAX_NESTING_DEPTH`, becomes a -32700 :class:`InvalidMessage`.
    """
    stripped = line.strip(_WHITESPACE)
    if not stripped:
        return None
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _parse_error(f"invalid UTF-8 at byte {exc.start}")
    first = stripped[:1]
    if first in (b"[", b"{") and nesting_depth(stripped) > MAX_NESTING_DEPTH:
        return _too_deep()
    try:
        return _decode_checked(stripped, first)
    except RecursionError:  # a backstop: the depth check above should make this unreachable
        return _too_deep()


def _too_deep() -> InvalidMessage:
    return InvalidMessage(
        NULL_ID,
        error_object(
            ErrorCode.PARSE_ERROR,
            detail=f"nesting deeper than {MAX_NESTING_DEPTH} levels",
            max_depth=MAX_NESTING_DEPTH,
        ),
    )


def _decode_checked(stripped: bytes, first: bytes) -> Event:
    if first == b"[":
        try:
            elements = _batch_decoder.decode(stripped)
        except msgspec.DecodeError as exc:
            return _parse_error(str(exc))
        if not elements:
            return _invalid(NULL_ID, "empty batch")
        return Batch(tuple(decode_element(element) for element in elements))
    if first == b"{":
        try:
            envelope = _envelope_decoder.decode(stripped)
        except msgspec.DecodeError as exc:
            return _parse_error(str(exc))
        return _from_envelope(envelope)
    # A scalar: valid JSON but never a valid message; bad JSON is a parse error.
    try:
        _any_decoder.decode(stripped)
    except msgspec.DecodeError as exc:
        return _parse_error(str(exc))
    return _invalid(NULL_ID, "a message must be a JSON object or array")


def decode_element(raw: Raw) -> Message:
    """Decode one element of a batch (already known to be valid JSON)."""
    if raw_first_byte(raw) != b"{":
        return _invalid(NULL_ID, "a batch element must be a JSON object")
    return _from_envelope(_envelope_decoder.decode(raw))


def _from_envelope(env: _Envelope) -> Message:
    id_ = env.id
    if isinstance(id_, Raw) and raw_id_kind(id_) not in ("string", "number", "null"):
        return _invalid(NULL_ID, "id must be a string, a number or null")
    reply_id = id_ if isinstance(id_, Raw) else NULL_ID
    if not isinstance(env.jsonrpc, Raw) or not _is_version_2(env.jsonrpc):
        return _invalid(reply_id, 'jsonrpc must be exactly "2.0"')

    if not isinstance(env.method, Raw):
        return _response_from_envelope(env, reply_id)
    if raw_id_kind(env.method) != "string":
        return _invalid(reply_id, "method must be a string")
    method = _str_decoder.decode(env.method)

    params: Raw | None = None
    if isinstance(env.params, Raw):
        kind = raw_id_kind(env.params)
        if kind in ("object", "array"):
            params = env.params
        elif kind != "null":  # "params": null is treated as absent
            return _invalid(reply_id, "params must be an object or an array")
    if not isinstance(id_, Raw):
        return Notification(method, params)
    return Request(id_, method, params)


def _is_version_2(raw: Raw) -> bool:
    """``"jsonrpc": "2.0"`` by value: the common spelling is compared as bytes, an escaped
    one (``"2\\u002e0"``) is decoded first."""
    if bytes(raw) == _JSONRPC_2:
        return True
    if raw_id_kind(raw) != "string":
        return False
    return bool(_str_decoder.decode(raw) == "2.0")


def _response_from_envelope(env: _Envelope, reply_id: Raw) -> Message:
    result, error = env.result, env.error
    if not isinstance(env.id, Raw) or isinstance(result, Raw) == isinstance(error, Raw):
        return _invalid(reply_id, "a message needs a method, or an id with exactly one of result/error")
    if isinstance(result, Raw):
        return Response(env.id, result)
    assert isinstance(error, Raw)
    try:
        decoded = _error_decoder.decode(error)
    except msgspec.DecodeError as exc:
        return _invalid(reply_id, f"malformed error object: {exc}")
    return ErrorReply(env.id, decoded)
