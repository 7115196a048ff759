//! The host's view of one sidecar's stdout, without I/O.
//!
//! [`StdoutSession::on_line`] takes one stdout line (from a
//! [`LineSplitter`](super::LineSplitter)) and returns what it means for the
//! host: a lifecycle step, an answer, a notification, or a protocol
//! violation. It enforces the order the protocol promises: BOOT first, READY
//! exactly once, nothing after SHUTDOWN. Tested with plain lists of lines.

use super::framing::Line;
use super::jsonrpc::{decode_line, Decoded, ErrorObject, Message, RawJson};
use super::lifecycle::{is_lifecycle_line, parse_lifecycle, LifecycleLine, Token};

/// What one stdout line means to the host.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StdoutEvent {
    /// `BOOT ...`: the process is up; fields include `pid`, `version`, `protocol`.
    Boot(LifecycleLine),
    /// `READY`, the first one.
    Ready,
    /// `HEARTBEAT seq=N ...`.
    Heartbeat {
        /// The heartbeat's sequence number (0 if the line had none).
        seq: u64,
    },
    /// `SHUTDOWN reason=...`: the last line the sidecar writes.
    Shutdown {
        /// The reason given (`normal`, `signal`, `parent_exit`, `error`), or `unknown`.
        reason: String,
    },
    /// A successful answer to a request.
    Response {
        /// Raw JSON of the id.
        id: RawJson,
        /// Raw JSON of the result.
        result: RawJson,
    },
    /// An error answer to a request.
    ErrorReply {
        /// Raw JSON of the id (`null` when the sidecar could not read it).
        id: RawJson,
        /// The error object.
        error: ErrorObject,
    },
    /// A server-to-host notification.
    Notification {
        /// The notification's method, e.g. `job.progress`.
        method: String,
        /// Raw JSON of its params, if any.
        params: Option<RawJson>,
    },
    /// Something on stdout that breaks the contract.
    Violation(Violation),
}

/// The kinds of protocol violation a host can see on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    /// Neither a lifecycle line nor a JSON frame (a stray print), or an unusable frame.
    NonProtocolLine,
    /// Starts with a lifecycle token but breaks the grammar.
    MalformedLifecycle,
    /// A lifecycle line before BOOT, or a second BOOT.
    BootNotFirst,
    /// A second READY.
    DuplicateReady,
    /// Anything after SHUTDOWN.
    LineAfterShutdown,
    /// A line longer than the host's cap.
    Oversize,
}

/// One protocol violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What was wrong.
    pub kind: ViolationKind,
    /// The offending line (at most [`SHOWN_LINE_CHARS`] characters).
    pub line: String,
}

/// How much of an offending line is kept for messages.
pub const SHOWN_LINE_CHARS: usize = 500;

/// A line as text for messages and logs, truncated.
pub fn show_line(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    if text.chars().count() > SHOWN_LINE_CHARS {
        let cut: String = text.chars().take(SHOWN_LINE_CHARS).collect();
        format!("{cut}...")
    } else {
        text.into_owned()
    }
}

/// Tracks the lifecycle order of one sidecar's stdout.
#[derive(Debug, Default)]
pub struct StdoutSession {
    boot: Option<LifecycleLine>,
    ready: bool,
    shutdown: Option<String>,
    last_heartbeat: Option<u64>,
}

impl StdoutSession {
    /// A session that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The BOOT line, once seen.
    pub fn boot(&self) -> Option<&LifecycleLine> {
        self.boot.as_ref()
    }

    /// Whether READY was seen.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The SHUTDOWN reason, once seen.
    pub fn shutdown_reason(&self) -> Option<&str> {
        self.shutdown.as_deref()
    }

    /// The last HEARTBEAT's `seq`, once one was seen.
    pub fn last_heartbeat(&self) -> Option<u64> {
        self.last_heartbeat
    }

    /// Interpret one line from the splitter; returns zero or more events.
    pub fn on_line(&mut self, line: &Line) -> Vec<StdoutEvent> {
        let bytes = match line {
            Line::Complete(bytes) => bytes.as_slice(),
            Line::Oversize { size, limit } => {
                return vec![violation(
                    ViolationKind::Oversize,
                    format!("line of {size} bytes over the host's limit of {limit}"),
                )]
            }
        };
        let mut out = Vec::new();
        if self.shutdown.is_some() {
            out.push(violation(ViolationKind::LineAfterShutdown, show_line(bytes)));
        }
        match bytes.first() {
            Some(b'{' | b'[') => self.on_frame(bytes, &mut out),
            _ if is_lifecycle_line(bytes) => self.on_lifecycle(bytes, &mut out),
            _ => out.push(violation(ViolationKind::NonProtocolLine, show_line(bytes))),
        }
        out
    }

    fn on_lifecycle(&mut self, bytes: &[u8], out: &mut Vec<StdoutEvent>) {
        let parsed = match parse_lifecycle(bytes) {
            Ok(parsed) => parsed,
            Err(_) => return out.push(violation(ViolationKind::MalformedLifecycle, show_line(bytes))),
        };
        if parsed.token == Token::Boot {
            if self.boot.is_some() || self.ready {
                out.push(violation(ViolationKind::BootNotFirst, show_line(bytes)));
                self.boot = Some(parsed); // keep the latest, as the Python host does
            } else {
                self.boot = Some(parsed.clone());
                out.push(StdoutEvent::Boot(parsed));
            }
            return;
        }
        if self.boot.is_none() {
            out.push(violation(ViolationKind::BootNotFirst, show_line(bytes)));
        }
        match parsed.token {
            Token::Ready if self.ready => out.push(violation(ViolationKind::DuplicateReady, show_line(bytes))),
            Token::Ready => {
                self.ready = true;
                out.push(StdoutEvent::Ready);
            }
            Token::Heartbeat => {
                let seq = parsed.get("seq").and_then(|s| s.parse().ok()).unwrap_or(0);
                self.last_heartbeat = Some(seq);
                out.push(StdoutEvent::Heartbeat { seq });
            }
            Token::Shutdown => {
                let reason = parsed.get("reason").unwrap_or("unknown").to_owned();
                self.shutdown = Some(reason.clone());
                out.push(StdoutEvent::Shutdown { reason });
            }
            Token::Boot => unreachable!("handled above"),
        }
    }

    fn on_frame(&mut self, bytes: &[u8], out: &mut Vec<StdoutEvent>) {
        match decode_line(bytes) {
            Decoded::Ignored => {}
            Decoded::Single(message) => self.on_message(message, bytes, out),
            Decoded::Batch(items) => {
                for item in items {
                    self.on_message(item, bytes, out);
                }
            }
        }
    }

    fn on_message(&mut self, message: Message, bytes: &[u8], out: &mut Vec<StdoutEvent>) {
        match message {
            Message::Response { id, result } => out.push(StdoutEvent::Response { id, result }),
            Message::ErrorReply { id, error } => out.push(StdoutEvent::ErrorReply { id, error }),
            Message::Notification { method, params } => out.push(StdoutEvent::Notification { method, params }),
            Message::Request { .. } => out.push(violation(
                ViolationKind::NonProtocolLine,
                format!("sidecar sent a request: {}", show_line(bytes)),
            )),
            Message::Invalid { .. } => out.push(violation(ViolationKind::NonProtocolLine, show_line(bytes))),
        }
    }
}

fn violation(kind: ViolationKind, line: String) -> StdoutEvent {
    StdoutEvent::Violation(Violation { kind, line })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(session: &mut StdoutSession, lines: &[&str]) -> Vec<StdoutEvent> {
        lines.iter().flat_map(|l| session.on_line(&Line::Complete(l.as_bytes().to_vec()))).collect()
    }

    fn kinds(events: &[StdoutEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                StdoutEvent::Boot(_) => "boot".to_owned(),
                StdoutEvent::Ready => "ready".to_owned(),
                StdoutEvent::Heartbeat { seq } => format!("heartbeat {seq}"),
                StdoutEvent::Shutdown { reason } => format!("shutdown {reason}"),
                StdoutEvent::Response { id, .. } => format!("response {}", id.get()),
                StdoutEvent::ErrorReply { id, error } => format!("error {} {}", id.get(), error.code),
                StdoutEvent::Notification { method, .. } => format!("note {method}"),
                StdoutEvent::Violation(v) => format!("violation {:?}", v.kind),
            })
            .collect()
    }

    #[test]
    fn a_normal_life() {
        let mut s = StdoutSession::new();
        let events = feed(
            &mut s,
            &[
                "BOOT sidecar=sidecar version=0.1.0 protocol=1 pid=42",
                "READY",
                r#"{"jsonrpc":"2.0","id":1,"result":{"pong":true}}"#,
                r#"{"jsonrpc":"2.0","method":"job.progress","params":{"job_id":"j1"}}"#,
                "HEARTBEAT seq=1 uptime_ms=5000",
                r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"m","data":{"kind":"method_not_found"}}}"#,
                "SHUTDOWN reason=normal",
            ],
        );
        assert_eq!(
            kinds(&events),
            ["boot", "ready", "response 1", "note job.progress", "heartbeat 1", "error 2 -32601", "shutdown normal"]
        );
        assert_eq!(s.boot().unwrap().get("pid"), Some("42"));
        assert!(s.is_ready());
        assert_eq!(s.shutdown_reason(), Some("normal"));
    }

    #[test]
    fn order_violations_are_reported_not_fatal() {
        let mut s = StdoutSession::new();
        let events = feed(
            &mut s,
            &[
                "READY",
                "Hello from a stray print",
                "BOOT sidecar=x",
                "READY",
                "READY bad field",
                "SHUTDOWN reason=normal",
                "HEARTBEAT seq=9",
            ],
        );
        assert_eq!(
            kinds(&events),
            [
                "violation BootNotFirst",
                "ready",
                "violation NonProtocolLine",
                "violation BootNotFirst",
                "violation DuplicateReady",
                "violation MalformedLifecycle",
                "shutdown normal",
                "violation LineAfterShutdown",
                "heartbeat 9",
            ]
        );
    }

    #[test]
    fn batches_split_into_answers() {
        let mut s = StdoutSession::new();
        let events = feed(
            &mut s,
            &[
                r#"[{"jsonrpc":"2.0","id":1,"result":1},{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}]"#,
            ],
        );
        assert_eq!(kinds(&events), ["response 1", "error null -32600"]);
    }

    #[test]
    fn oversize_lines_are_violations() {
        let mut s = StdoutSession::new();
        let events = s.on_line(&Line::Oversize { size: 10, limit: 5 });
        assert_eq!(kinds(&events), ["violation Oversize"]);
    }
}
