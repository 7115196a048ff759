"""The JSON-RPC error codes the sidecar uses, in one table.

Every error object carries ``data.kind``: a stable, snake_case name hosts
switch on (codes in the server range are shared by several kinds as the
engine grows; the kind is the precise key). docs/PROTOCOL.md mirrors this
table; a test keeps the two in step.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final


class ErrorCode(IntEnum):
    """Numeric JSON-RPC error codes."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    # Server errors: -32000..-32099.
    APPLICATION_ERROR = -32000
    REQUEST_CANCELLED = -32001
    SHUTTING_DOWN = -32002
    FRAME_TOO_LARGE = -32003
    REQUEST_TIMEOUT = -32004
    UNHANDLED_EXCEPTION = -32099


#: code -> (default kind, default message). The kind for the standard codes
#: is fixed; application errors (-32000) bring their own kind.
ERROR_TABLE: Final[dict[ErrorCode, tuple[str, str]]] = {
    ErrorCode.PARSE_ERROR: ("parse_error", "Parse error"),
    ErrorCode.INVALID_REQUEST: ("invalid_request", "Invalid Request"),
    ErrorCode.METHOD_NOT_FOUND: ("method_not_found", "Method not found"),
    ErrorCode.INVALID_PARAMS: ("invalid_params", "Invalid params"),
    ErrorCode.INTERNAL_ERROR: ("internal_error", "Internal error"),
    ErrorCode.APPLICATION_ERROR: ("application_error", "Application error"),
    ErrorCode.REQUEST_CANCELLED: ("cancelled", "Request cancelled"),
    ErrorCode.SHUTTING_DOWN: ("shutting_down", "Sidecar is shutting down"),
    ErrorCode.FRAME_TOO_LARGE: ("frame_too_large", "Frame too large"),
    ErrorCode.REQUEST_TIMEOUT: ("timeout", "Request timed out"),
    ErrorCode.UNHANDLED_EXCEPTION: ("unhandled_exception", "Unhandled exception in handler"),
}


class RpcError(Exception):
    """An error a handler raises to answer with a specific JSON-RPC error.

    ``kind`` is the stable machine-readable name placed in ``data.kind``;
    ``data`` holds extra JSON-serialisable detail merged into ``error.data``.
    """

    def __init__(
        self,
        code: ErrorCode | int,
        message: str | None = None,
        *,
        kind: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        if code in ErrorCode._value2member_map_:
            code = ErrorCode(code)
        default_kind, default_message = (
            ERROR_TABLE[code] if isinstance(code, ErrorCode) else ("application_error", "Error")
        )
        self.code = int(code)
        self.message = message or default_message
        self.kind = kind or default_kind
        self.data = data or {}
        super().__init__(self.message)


class ApplicationError(RpcError):
    """A domain error (-32000) with its own kind, e.g. ``sql_syntax``."""

    def __init__(self, kind: str, message: str, **data: Any) -> None:
        super().__init__(ErrorCode.APPLICATION_ERROR, message, kind=kind, data=data)
