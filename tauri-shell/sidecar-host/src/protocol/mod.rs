//! The wire protocol without I/O (docs/PROTOCOL.md): a line splitter with a
//! size cap, the lifecycle-line grammar, the JSON-RPC 2.0 codec, and the
//! host's stdout session that puts them together. Every function here takes
//! bytes and returns values; the shared vectors in `tests/vectors/` pin them
//! down (see `tests/vectors.rs`).

mod framing;
mod jsonrpc;
mod lifecycle;
mod session;

pub use framing::{Line, LineSplitter};
pub use jsonrpc::{
    codes, decode_element, decode_line, encode_notification, encode_request, raw_kind, Decoded, ErrorObject, Message,
    RawJson, RawKind,
};
pub use lifecycle::{format_lifecycle, is_lifecycle_line, parse_lifecycle, LifecycleError, LifecycleLine, Token};
pub use session::{show_line, StdoutEvent, StdoutSession, Violation, ViolationKind, SHOWN_LINE_CHARS};

/// The protocol version this host speaks (BOOT's `protocol=` field).
pub const PROTOCOL_VERSION: u32 = 1;

/// The sidecar's default frame cap (`--max-frame-bytes`): 16 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
