//! Lifecycle lines: `TOKEN( key=value)*`, one per stdout line.
//!
//! The grammar (docs/PROTOCOL.md section 2): `TOKEN` is one of BOOT, READY,
//! HEARTBEAT, SHUTDOWN; a key matches `[A-Za-z_][A-Za-z0-9_]*`; a value is one
//! or more printable ASCII characters other than space (`=` allowed). Unknown
//! keys are kept, never rejected.

use std::fmt;

/// The four lifecycle tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    /// First line: the process is up (`sidecar`, `version`, `protocol`, `pid`).
    Boot,
    /// Exactly once: requests are served from now on.
    Ready,
    /// Every `--heartbeat-interval` seconds (`seq`, `uptime_ms`).
    Heartbeat,
    /// The very last line (`reason`).
    Shutdown,
}

impl Token {
    /// The token as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Token::Boot => "BOOT",
            Token::Ready => "READY",
            Token::Heartbeat => "HEARTBEAT",
            Token::Shutdown => "SHUTDOWN",
        }
    }

    /// Parse a wire token (exact, upper case).
    pub fn from_wire(s: &str) -> Option<Token> {
        match s {
            "BOOT" => Some(Token::Boot),
            "READY" => Some(Token::Ready),
            "HEARTBEAT" => Some(Token::Heartbeat),
            "SHUTDOWN" => Some(Token::Shutdown),
            _ => None,
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A line that claims to be a lifecycle line but breaks the grammar
/// (or a field an encoder refuses to write).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LifecycleError(pub String);

/// One parsed lifecycle line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleLine {
    /// BOOT, READY, HEARTBEAT or SHUTDOWN.
    pub token: Token,
    /// The `key=value` pairs in the order they appeared.
    pub fields: Vec<(String, String)>,
}

impl LifecycleLine {
    /// The value of `key`, if the line carries it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Cheap test: does this stdout line start with a lifecycle token?
pub fn is_lifecycle_line(line: &[u8]) -> bool {
    let head = line.split(|&b| b == b' ').next().unwrap_or(b"");
    let head = head.strip_suffix(b"\n").unwrap_or(head);
    let head = head.strip_suffix(b"\r").unwrap_or(head);
    std::str::from_utf8(head).ok().and_then(Token::from_wire).is_some()
}

/// Parse one lifecycle line (a trailing `\n` or `\r\n` is trimmed).
///
/// ```
/// use sidecar_host::protocol::{parse_lifecycle, Token};
/// let line = parse_lifecycle(b"HEARTBEAT seq=3 uptime_ms=15012").unwrap();
/// assert_eq!(line.token, Token::Heartbeat);
/// assert_eq!(line.get("seq"), Some("3"));
/// ```
pub fn parse_lifecycle(line: &[u8]) -> Result<LifecycleLine, LifecycleError> {
    if !line.is_ascii() {
        return Err(LifecycleError("lifecycle lines are ASCII".into()));
    }
    let text = std::str::from_utf8(line).expect("ASCII is UTF-8");
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let mut parts = text.split(' ');
    let head = parts.next().unwrap_or("");
    let token = Token::from_wire(head).ok_or_else(|| LifecycleError(format!("unknown lifecycle token {head:?}")))?;
    let mut fields = Vec::new();
    for pair in parts {
        let (key, value) =
            pair.split_once('=').ok_or_else(|| LifecycleError(format!("malformed lifecycle field {pair:?}")))?;
        if !valid_key(key) || !valid_value(value) {
            return Err(LifecycleError(format!("malformed lifecycle field {pair:?}")));
        }
        fields.push((key.to_owned(), value.to_owned()));
    }
    Ok(LifecycleLine { token, fields })
}

/// Encode one lifecycle line, `\n`-terminated.
///
/// A token outside the four, a bad key, or a value that would break the
/// grammar (empty, whitespace, non-ASCII) is refused rather than written.
pub fn format_lifecycle(token: &str, fields: &[(&str, &str)]) -> Result<String, LifecycleError> {
    let token = Token::from_wire(token).ok_or_else(|| LifecycleError(format!("unknown lifecycle token {token:?}")))?;
    let mut out = String::from(token.as_str());
    for (key, value) in fields {
        if !valid_key(key) {
            return Err(LifecycleError(format!("bad lifecycle key {key:?}")));
        }
        if !valid_value(value) {
            return Err(LifecycleError(format!("bad lifecycle value for {key}: {value:?}")));
        }
        out.push(' ');
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out.push('\n');
    Ok(out)
}
