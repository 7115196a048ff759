//! What a running sidecar delivers to its owner on the bounded channel that
//! [`SidecarProcess::spawn`](super::SidecarProcess::spawn) returns.

use serde_json::Value;

use crate::error::ExitStatus;

/// Something a running sidecar sent that the owner must handle.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProcessEvent {
    /// A server-to-host notification (job progress, job status, log events...).
    Notification {
        /// The method, e.g. `job.progress`.
        method: String,
        /// Its params (`Null` when absent).
        params: Value,
    },
    /// The process is gone; always the last event.
    Terminated {
        /// How it ended.
        status: Option<ExitStatus>,
        /// The reason on its SHUTDOWN line, if it printed one.
        shutdown_reason: Option<String>,
    },
}
