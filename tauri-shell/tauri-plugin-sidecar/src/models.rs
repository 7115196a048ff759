//! What the commands and events carry to the frontend (guest-js/index.ts has the same
//! shapes as TypeScript types).

use serde::Serialize;
use sidecar_host::{LogLine, SidecarStatus};

/// Event: the supervisor's state changed; payload [`sidecar_host::SidecarState`] (`{state, ...}`).
pub const EVENT_STATE: &str = "sidecar:state";
/// Event: a notification from the sidecar; payload [`NotificationPayload`] (`{method, params}`).
pub const EVENT_NOTIFICATION: &str = "sidecar:notification";
/// Event: a log line (the sidecar's stderr or a host message); payload [`LogLine`].
pub const EVENT_LOG: &str = "sidecar:log";

/// The `sidecar:notification` event's payload.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationPayload {
    /// The notification's method (`job.progress`, `schedule.fired`, an app's own).
    pub method: String,
    /// Its params (null when it had none).
    pub params: serde_json::Value,
}

/// `status`'s answer: the supervisor's status plus the last log lines.
#[derive(Debug, Serialize)]
pub struct StatusView {
    /// State (with reasons), pids, restarts, heartbeat, log file.
    #[serde(flatten)]
    pub status: SidecarStatus,
    /// The last log lines (so a window that opens late shows them too).
    pub recent_logs: Vec<LogLine>,
}

/// `logs_path`'s answer: where the logs are (tell users).
#[derive(Debug, Serialize)]
pub struct LogsPath {
    /// The folder holding both logs (`<data dir>/logs`).
    pub dir: String,
    /// The host's log: the sidecar's stderr plus the supervisor's messages (`None` when disabled).
    pub host_log: Option<String>,
    /// The sidecar's own rotating log file.
    pub sidecar_log: String,
}
