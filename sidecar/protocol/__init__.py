"""The wire protocol, with no I/O: lifecycle lines, JSON-RPC 2.0 messages, framing.

Shared by the sidecar and by the Python host client; the Rust host
implements the same contract and is tested against the same vectors
(``tests/vectors/``).
"""

from sidecar.common.errors import ERROR_TABLE, ApplicationError, ErrorCode, RpcError
from sidecar.common.shutdown import SHUTDOWN_REASONS, ShutdownReason
from sidecar.protocol.codec import decode_element, decode_line, error_object
from sidecar.protocol.framing import DEFAULT_MAX_FRAME_BYTES, LineSplitter
from sidecar.protocol.lifecycle import (
    LIFECYCLE_TOKENS,
    LifecycleError,
    LifecycleLine,
    LifecycleToken,
    format_lifecycle,
    is_lifecycle_line,
    parse_lifecycle,
)
from sidecar.protocol.messages import (
    JSONRPC_VERSION,
    NULL_ID,
    Batch,
    ErrorObject,
    ErrorReply,
    ErrorResponse,
    Event,
    InvalidMessage,
    Message,
    Notification,
    OutgoingNotification,
    OutgoingRequest,
    OversizeFrame,
    Request,
    Response,
    SuccessResponse,
    encode_frame,
    raw_id_kind,
)

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "ERROR_TABLE",
    "JSONRPC_VERSION",
    "LIFECYCLE_TOKENS",
    "NULL_ID",
    "SHUTDOWN_REASONS",
    "ApplicationError",
    "Batch",
    "ErrorCode",
    "ErrorObject",
    "ErrorReply",
    "ErrorResponse",
    "Event",
    "InvalidMessage",
    "LifecycleError",
    "LifecycleLine",
    "LifecycleToken",
    "LineSplitter",
    "Message",
    "Notification",
    "OutgoingNotification",
    "OutgoingRequest",
    "OversizeFrame",
    "Request",
    "Response",
    "RpcError",
    "ShutdownReason",
    "SuccessResponse",
    "decode_element",
    "decode_line",
    "encode_frame",
    "error_object",
    "format_lifecycle",
    "is_lifecycle_line",
    "parse_lifecycle",
    "raw_id_kind",
]
