//! One error type for everything the host can report, each case with a
//! message that says what happened and what to look at.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::ErrorObject;

/// How a process ended, as a host reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
    /// Not known (the platform reported neither).
    Unknown,
}

impl ExitStatus {
    /// From the standard library's status.
    pub fn from_std(status: std::process::ExitStatus) -> Self {
        if let Some(code) = status.code() {
            return ExitStatus::Code(code);
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = status.signal() {
                return ExitStatus::Signal(signal);
            }
        }
        ExitStatus::Unknown
    }

    /// The protocol's convention: the code, or minus the signal number.
    pub fn as_i32(self) -> Option<i32> {
        match self {
            ExitStatus::Code(code) => Some(code),
            ExitStatus::Signal(signal) => Some(-signal),
            ExitStatus::Unknown => None,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit status {code}"),
            ExitStatus::Signal(signal) => write!(f, "killed by signal {signal}"),
            ExitStatus::Unknown => f.write_str("unknown exit status"),
        }
    }
}

/// Stderr lines a message shows (the newest): the end of a traceback, still readable in one dialog.
const STDERR_LINES_SHOWN: usize = 10;
/// Stdout lines a message shows (the oldest): the first lines say what printed instead of READY.
const STDOUT_LINES_SHOWN: usize = 10;

fn tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        return "(no stderr)".to_owned();
    }
    let from = lines.len().saturating_sub(STDERR_LINES_SHOWN);
    lines[from..].join("\n  ")
}

fn seen_text(lines: &[String]) -> String {
    if lines.is_empty() {
        return "none".to_owned();
    }
    let shown: Vec<String> = lines.iter().take(STDOUT_LINES_SHOWN).map(|l| format!("{l:?}")).collect();
    let more = if lines.len() > STDOUT_LINES_SHOWN {
        format!(" (and {} more)", lines.len() - STDOUT_LINES_SHOWN)
    } else {
        String::new()
    };
    format!("[{}]{more}", shown.join(", "))
}

fn opt_status(status: &Option<ExitStatus>) -> String {
    status.map(|s| s.to_string()).unwrap_or_else(|| "status not yet known".to_owned())
}

/// Everything that can go wrong between the host and the sidecar.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sidecar executable does not exist or cannot be run.
    #[error("sidecar binary not found or not executable: {} ({reason}); build it or fix the path (externalBin files are named <name>-<target-triple> and sit beside the app executable)", path.display())]
    BinaryNotFound {
        /// The path that was tried.
        path: PathBuf,
        /// Why it cannot be run.
        reason: String,
    },
    /// Spawning failed for another reason.
    #[error("could not start the sidecar {}: {reason}", path.display())]
    SpawnFailed {
        /// The program.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The process ended before printing READY.
    #[error(
        "sidecar exited ({}) before READY; stdout lines seen: {}; stderr tail:\n  {}",
        opt_status(status),
        seen_text(lines_seen),
        tail_text(stderr_tail)
    )]
    ExitedBeforeReady {
        /// Its exit status.
        status: Option<ExitStatus>,
        /// Its last stderr lines.
        stderr_tail: Vec<String>,
        /// The stdout lines it printed.
        lines_seen: Vec<String>,
    },
    /// No READY within the timeout (the process was then stopped).
    #[error("sidecar printed no READY within {timeout:?}; stdout lines seen instead: {}; last stderr line: {:?}", seen_text(lines_seen), stderr_tail.last().map(String::as_str).unwrap_or("(none)"))]
    ReadyTimeout {
        /// How long the host waited.
        timeout: Duration,
        /// The stdout lines printed instead.
        lines_seen: Vec<String>,
        /// The last stderr lines.
        stderr_tail: Vec<String>,
    },
    /// The sidecar answered a call with a JSON-RPC error.
    #[error("{method} failed: {} {} (kind={})", error.code, error.message, error.kind().unwrap_or("none"))]
    Rpc {
        /// The method called.
        method: String,
        /// The error object it answered with.
        error: ErrorObject,
    },
    /// No answer within the call's timeout (the request may still be running).
    #[error("{method}: no answer within {timeout:?}")]
    CallTimeout {
        /// The method called.
        method: String,
        /// The timeout in force.
        timeout: Duration,
    },
    /// The sidecar is gone: every pending call fails with this.
    #[error("sidecar connection closed ({}) while {method} was pending; last stderr line: {:?}", opt_status(status), stderr_tail.last().map(String::as_str).unwrap_or("(none)"))]
    SidecarExited {
        /// The call that was pending (or the operation attempted).
        method: String,
        /// Its exit status if known.
        status: Option<ExitStatus>,
        /// Its last stderr lines.
        stderr_tail: Vec<String>,
    },
    /// A call was made while no sidecar is running (starting, restarting, stopped or failed).
    #[error("the sidecar is not running (state: {state}); wait for it to be ready or restart it")]
    NotRunning {
        /// The supervisor's state at the time.
        state: String,
    },
    /// The sidecar sent an answer that is not valid for this call.
    #[error("{method}: could not decode the result: {reason}")]
    BadResult {
        /// The method called.
        method: String,
        /// What was wrong.
        reason: String,
    },
    /// The sidecar was declared hung (no HEARTBEAT for too long).
    #[error("sidecar declared hung: no HEARTBEAT for {silent_for:?} (limit {limit:?}); it was killed")]
    Hung {
        /// How long it was silent.
        silent_for: Duration,
        /// The limit (interval x missed beats).
        limit: Duration,
    },
    /// Too many restarts in the restart window; the supervisor gave up.
    #[error("sidecar gave up after {restarts} restarts within {window:?}; last error: {last_error}")]
    RestartLimit {
        /// Restarts made within the window.
        restarts: u32,
        /// The window.
        window: Duration,
        /// The error that caused the last restart.
        last_error: String,
    },
    /// A host-only call could not be made as asked (nothing was sent).
    #[error("{method}: {reason}")]
    InvalidHostCall {
        /// The method.
        method: String,
        /// What was wrong.
        reason: String,
    },
    /// The supervisor has been stopped and takes no more commands.
    #[error("the sidecar supervisor has been shut down")]
    SupervisorGone,
    /// An I/O error talking to the process. The I/O error is its
    /// [`source`](std::error::Error::source), shared so that `Error` stays
    /// `Clone`: downcast the source to `Arc<std::io::Error>`.
    #[error("sidecar I/O error: {0}")]
    Io(#[source] Arc<std::io::Error>),
}

impl From<std::io::Error> for Error {
    /// [`Error::Io`] with `err` as its source.
    fn from(err: std::io::Error) -> Self {
        Error::Io(Arc::new(err))
    }
}

impl Error {
    /// A short stable name for the case (for UIs and logs that switch on it).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::BinaryNotFound { .. } => "binary_not_found",
            Error::SpawnFailed { .. } => "spawn_failed",
            Error::ExitedBeforeReady { .. } => "exited_before_ready",
            Error::ReadyTimeout { .. } => "ready_timeout",
            Error::Rpc { .. } => "rpc_error",
            Error::CallTimeout { .. } => "call_timeout",
            Error::SidecarExited { .. } => "sidecar_exited",
            Error::NotRunning { .. } => "not_running",
            Error::BadResult { .. } => "bad_result",
            Error::Hung { .. } => "hung",
            Error::RestartLimit { .. } => "restart_limit",
            Error::InvalidHostCall { .. } => "invalid_host_call",
            Error::SupervisorGone => "supervisor_gone",
            Error::Io(_) => "io",
        }
    }

    /// Whether starting again could help (false for a missing binary).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Error::BinaryNotFound { .. } | Error::SpawnFailed { .. } | Error::SupervisorGone)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_their_source_and_message() {
        let err = Error::from(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin closed"));
        assert_eq!(err.to_string(), "sidecar I/O error: stdin closed");
        assert_eq!(err.kind(), "io");
        let source = std::error::Error::source(&err).expect("a source");
        let io = source.downcast_ref::<Arc<std::io::Error>>().expect("the shared io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
        assert_eq!(source.to_string(), "stdin closed");
    }

    #[test]
    fn messages_show_the_last_stderr_lines_and_the_first_stdout_lines() {
        let lines: Vec<String> = (0..12).map(|i| format!("l{i}")).collect();
        let err = Error::ExitedBeforeReady {
            status: Some(ExitStatus::Code(1)),
            stderr_tail: lines.clone(),
            lines_seen: lines,
        };
        let text = err.to_string();
        assert!(text.contains("[\"l0\", ") && text.contains("\"l9\"] (and 2 more)"), "{text}");
        assert!(text.ends_with("l2\n  l3\n  l4\n  l5\n  l6\n  l7\n  l8\n  l9\n  l10\n  l11"), "{text}");
    }
}
