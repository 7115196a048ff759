//! JSON-RPC 2.0 codec: one line in, one decoded event out; no I/O, no state.
//!
//! Ids, params and results travel as [`RawJson`]: the exact text the peer
//! sent, so an id such as `123456789012345678901234567890` or `"a\u0041"`
//! survives byte for byte. Nothing here panics or returns `Err` for bad
//! input: a malformed line becomes [`Message::Invalid`] carrying the error the
//! receiver would answer with (docs/PROTOCOL.md sections 3 and 4).

use serde::de::{Deserialize, Deserializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The exact JSON text of a value, as received.
pub type RawJson = Box<RawValue>;

/// JSON-RPC's standard and protocol-1 error codes.
pub mod codes {
    /// Not valid JSON or not valid UTF-8.
    pub const PARSE_ERROR: i64 = -32700;
    /// Valid JSON but not a valid request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Params do not match the method's types.
    pub const INVALID_PARAMS: i64 = -32602;
    /// A domain error raised by a method (`data.kind` names the case).
    pub const APPLICATION_ERROR: i64 = -32000;
    /// Cancelled by `rpc.cancel`.
    pub const CANCELLED: i64 = -32001;
    /// The sidecar stopped while the request was in flight.
    pub const SHUTTING_DOWN: i64 = -32002;
    /// The input line exceeded `--max-frame-bytes`.
    pub const FRAME_TOO_LARGE: i64 = -32003;
    /// A method's own time limit passed.
    pub const TIMEOUT: i64 = -32004;
}

/// The `error` member of an error response.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct ErrorObject {
    /// The JSON-RPC error code.
    pub code: i64,
    /// A short human-readable sentence (not for parsing).
    pub message: String,
    /// Structured detail; the sidecar always sends an object with `kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    fn local(code: i64, kind: &str, detail: impl Into<String>) -> Self {
        let message = match code {
            codes::PARSE_ERROR => "Parse error",
            _ => "Invalid Request",
        };
        ErrorObject {
            code,
            message: message.to_owned(),
            data: Some(serde_json::json!({"kind": kind, "detail": detail.into()})),
        }
    }

    /// `data.kind`, the stable machine-readable name of the error, if present.
    pub fn kind(&self) -> Option<&str> {
        self.data.as_ref()?.get("kind")?.as_str()
    }
}

/// One decoded message (a whole line, or one element of a batch).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Message {
    /// A call that expects an answer.
    Request {
        /// Raw JSON of the id (a string, a number or null).
        id: RawJson,
        /// The method name.
        method: String,
        /// Raw JSON of the params (object or array); `None` when absent or null.
        params: Option<RawJson>,
    },
    /// A call that must never be answered (from the sidecar: job progress, logs...).
    Notification {
        /// The method name, e.g. `job.progress`.
        method: String,
        /// Raw JSON of the params; `None` when absent or null.
        params: Option<RawJson>,
    },
    /// A successful answer.
    Response {
        /// Raw JSON of the id it answers.
        id: RawJson,
        /// Raw JSON of the result.
        result: RawJson,
    },
    /// An error answer.
    ErrorReply {
        /// Raw JSON of the id it answers (`null` when unknown).
        id: RawJson,
        /// The error object.
        error: ErrorObject,
    },
    /// Something the receiver must answer with an error (-32700 or -32600).
    Invalid {
        /// Raw JSON of the id when it could be read, else `null`.
        id: RawJson,
        /// The error to send back.
        error: ErrorObject,
    },
}

/// What one line decodes to.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// A blank line (only whitespace): ignored.
    Ignored,
    /// One message.
    Single(Message),
    /// A JSON array of messages, one per element, in order.
    Batch(Vec<Message>),
}

fn raw(text: &str) -> RawJson {
    RawValue::from_string(text.to_owned()).expect("literal JSON")
}

fn null() -> RawJson {
    raw("null")
}

/// Deserialize a member as its raw text, keeping `null` (an `Option` would eat it).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RawJson>, D::Error> {
    RawJson::deserialize(d).map(Some)
}

#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "present")]
    jsonrpc: Option<RawJson>,
    #[serde(default, deserialize_with = "present")]
    method: Option<RawJson>,
    #[serde(default, deserialize_with = "present")]
    params: Option<RawJson>,
    #[serde(default, deserialize_with = "present")]
    id: Option<RawJson>,
    #[serde(default, deserialize_with = "present")]
    result: Option<RawJson>,
    #[serde(default, deserialize_with = "present")]
    error: Option<RawJson>,
}

/// The JSON type of a raw value, judged by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// `"..."`
    String,
    /// `-1.5`, `0`, ...
    Number,
    /// `null`
    Null,
    /// `true` / `false`
    Bool,
    /// `{...}`
    Object,
    /// `[...]`
    Array,
}

/// Classify a raw JSON value by its first byte.
pub fn raw_kind(value: &RawValue) -> RawKind {
    match value.get().as_bytes().first() {
        Some(b'"') => RawKind::String,
        Some(b'-' | b'0'..=b'9') => RawKind::Number,
        Some(b'n') => RawKind::Null,
        Some(b'{') => RawKind::Object,
        Some(b'[') => RawKind::Array,
        _ => RawKind::Bool,
    }
}

/// `"jsonrpc": "2.0"` by value: an escaped spelling such as `"2\u002e0"` is "2.0" too.
fn is_version_2(raw: &RawValue) -> bool {
    raw.get() == "\"2.0\""
        || (raw_kind(raw) == RawKind::String && serde_json::from_str::<String>(raw.get()).is_ok_and(|v| v == "2.0"))
}

fn parse_error(detail: impl Into<String>) -> Message {
    Message::Invalid { id: null(), error: ErrorObject::local(codes::PARSE_ERROR, "parse_error", detail) }
}

fn invalid(id: RawJson, detail: impl Into<String>) -> Message {
    Message::Invalid { id, error: ErrorObject::local(codes::INVALID_REQUEST, "invalid_request", detail) }
}

fn strip_ws(mut line: &[u8]) -> &[u8] {
    const WS: &[u8] = b" \t\r\n";
    while let Some((first, rest)) = line.split_first() {
        if !WS.contains(first) {
            break;
        }
        line = rest;
    }
    while let Some((last, rest)) = line.split_last() {
        if !WS.contains(last) {
            break;
        }
        line = rest;
    }
    line
}

/// The deepest nesting of arrays and objects a frame may have (the message object or
/// batch array is level 1); deeper frames are a parse error before anything else is
/// read. The same number as the Python core's `MAX_NESTING_DEPTH` (docs/PROTOCOL.md).
pub const MAX_NESTING_DEPTH: usize = 128;

/// How deeply arrays and objects nest in `text` (JSON), ignoring brackets inside
/// strings; a lower bound for malformed text.
pub fn nesting_depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in text {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Turn one line (without its newline; a trailing `\r` is tolerated) into an event.
///
/// ```
/// use sidecar_host::protocol::{decode_line, Decoded, Message};
/// let event = decode_line(br#"{"jsonrpc":"2.0","id":7,"result":{"pong":true}}"#);
/// match event {
///     Decoded::Single(Message::Response { id, result }) => {
///         assert_eq!(id.get(), "7");
///         assert_eq!(result.get(), r#"{"pong":true}"#);
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
pub fn decode_line(line: &[u8]) -> Decoded {
    let stripped = strip_ws(line);
    if stripped.is_empty() {
        return Decoded::Ignored;
    }
    let text = match std::str::from_utf8(stripped) {
        Ok(text) => text,
        Err(err) => return Decoded::Single(parse_error(format!("invalid UTF-8 at byte {}", err.valid_up_to()))),
    };
    if matches!(stripped[0], b'[' | b'{') && nesting_depth(stripped) > MAX_NESTING_DEPTH {
        let error = ErrorObject {
            code: codes::PARSE_ERROR,
            message: "Parse error".to_owned(),
            data: Some(serde_json::json!({
                "kind": "parse_error",
                "detail": format!("nesting deeper than {MAX_NESTING_DEPTH} levels"),
                "max_depth": MAX_NESTING_DEPTH,
            })),
        };
        return Decoded::Single(Message::Invalid { id: null(), error });
    }
    match stripped[0] {
        b'[' => match serde_json::from_str::<Vec<RawJson>>(text) {
            Err(err) => Decoded::Single(parse_error(err.to_string())),
            Ok(elements) if elements.is_empty() => Decoded::Single(invalid(null(), "empty batch")),
            Ok(elements) => Decoded::Batch(elements.iter().map(|e| decode_element(e)).collect()),
        },
        b'{' => match serde_json::from_str::<Envelope>(text) {
            Ok(envelope) => Decoded::Single(from_envelope(envelope)),
            Err(err) if err.is_data() => Decoded::Single(invalid(null(), err.to_string())),
            Err(err) => Decoded::Single(parse_error(err.to_string())),
        },
        _ => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(err) => Decoded::Single(parse_error(err.to_string())),
            Ok(_) => Decoded::Single(invalid(null(), "a message must be a JSON object or array")),
        },
    }
}

/// Decode one element of a batch (already known to be valid JSON).
pub fn decode_element(element: &RawValue) -> Message {
    if raw_kind(element) != RawKind::Object {
        return invalid(null(), "a batch element must be a JSON object");
    }
    match serde_json::from_str::<Envelope>(element.get()) {
        Ok(envelope) => from_envelope(envelope),
        Err(err) => invalid(null(), err.to_string()),
    }
}

fn from_envelope(env: Envelope) -> Message {
    let Envelope { jsonrpc, method, params, id, result, error } = env;
    if let Some(id) = &id {
        if !matches!(raw_kind(id), RawKind::String | RawKind::Number | RawKind::Null) {
            return invalid(null(), "id must be a string, a number or null");
        }
    }
    let reply_id = || id.clone().unwrap_or_else(null);
    if !jsonrpc.as_deref().is_some_and(is_version_2) {
        return invalid(reply_id(), "jsonrpc must be exactly \"2.0\"");
    }
    let Some(method) = method else {
        return response_from(id, result, error);
    };
    if raw_kind(&method) != RawKind::String {
        return invalid(reply_id(), "method must be a string");
    }
    let method: String = match serde_json::from_str(method.get()) {
        Ok(name) => name,
        Err(err) => return invalid(reply_id(), err.to_string()),
    };
    let params = match params {
        None => None,
        Some(p) => match raw_kind(&p) {
            RawKind::Object | RawKind::Array => Some(p),
            RawKind::Null => None, // "params": null is treated as absent
            _ => return invalid(reply_id(), "params must be an object or an array"),
        },
    };
    match id {
        None => Message::Notification { method, params },
        Some(id) => Message::Request { id, method, params },
    }
}

fn response_from(id: Option<RawJson>, result: Option<RawJson>, error: Option<RawJson>) -> Message {
    let reply_id = id.clone().unwrap_or_else(null);
    match (id, result, error) {
        (Some(id), Some(result), None) => Message::Response { id, result },
        (Some(id), None, Some(error)) => match serde_json::from_str::<ErrorObject>(error.get()) {
            Ok(error) => Message::ErrorReply { id, error },
            Err(err) => invalid(reply_id, format!("malformed error object: {err}")),
        },
        _ => invalid(reply_id, "a message needs a method, or an id with exactly one of result/error"),
    }
}

#[derive(Serialize)]
struct OutgoingRequest<'a> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a Value>,
}

#[derive(Serialize)]
struct OutgoingNotification<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a Value>,
}

/// Encode a request as one `\n`-terminated line (`params: None` omits the member).
///
/// ```
/// let line = sidecar_host::protocol::encode_request(1, "system.ping", None);
/// assert_eq!(line, b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"system.ping\"}\n");
/// ```
pub fn encode_request(id: u64, method: &str, params: Option<&Value>) -> Vec<u8> {
    let params = params.filter(|p| !p.is_null());
    let mut out = serde_json::to_vec(&OutgoingRequest { jsonrpc: "2.0", id, method, params }).expect("serializable");
    out.push(b'\n');
    out
}

/// Encode a notification (no id, never answered) as one `\n`-terminated line.
pub fn encode_notification(method: &str, params: Option<&Value>) -> Vec<u8> {
    let params = params.filter(|p| !p.is_null());
    let mut out = serde_json::to_vec(&OutgoingNotification { jsonrpc: "2.0", method, params }).expect("serializable");
    out.push(b'\n');
    out
}
