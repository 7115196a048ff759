//! The Tauri commands: thin adapters from the frontend to the supervisor.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sidecar_host::{LogLine, SidecarStatus};
use tauri::State;

use crate::error::CommandError;
use crate::ShellState;

/// Longest per-call timeout the frontend may ask for.
const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Call a sidecar method: `invoke("sidecar_call", {method, params, timeoutMs})`.
///
/// Returns the JSON-RPC result; an error answer becomes a `CommandError`
/// with `kind: "rpc_error"` and the sidecar's `code` and `data`.
#[tauri::command]
pub async fn sidecar_call(
    state: State<'_, ShellState>,
    method: String,
    params: Option<Value>,
    timeout_ms: Option<u64>,
) -> Result<Value, CommandError> {
    if method.trim().is_empty() {
        return Err(CommandError::shell("invalid_argument", "method must not be empty"));
    }
    let supervisor = state.supervisor.clone();
    let result = match timeout_ms {
        Some(ms) => {
            supervisor.call_with_timeout(&method, params, Duration::from_millis(ms).min(MAX_CALL_TIMEOUT)).await
        }
        None => supervisor.call(&method, params).await,
    };
    result.map_err(CommandError::from)
}

/// `sidecar_status`'s answer: the supervisor's status plus the last log lines.
#[derive(Debug, Serialize)]
pub struct StatusView {
    /// State (with reasons), pids, restarts, heartbeat, log file.
    #[serde(flatten)]
    pub status: SidecarStatus,
    /// The last log lines (so a window that opens late shows them too).
    pub recent_logs: Vec<LogLine>,
}

/// The supervisor's status: state (with reasons), pids, restarts, heartbeat, log file, recent logs.
#[tauri::command]
pub fn sidecar_status(state: State<'_, ShellState>) -> StatusView {
    let recent_logs = state.recent_logs.lock().expect("recent logs").iter().cloned().collect();
    StatusView { status: state.supervisor.status(), recent_logs }
}

/// Stop the sidecar gracefully and start a new one; the new state arrives as events.
#[tauri::command]
pub async fn sidecar_restart(state: State<'_, ShellState>) -> Result<(), CommandError> {
    let supervisor = state.supervisor.clone();
    supervisor.restart().await.map_err(CommandError::from)
}

/// Where the logs are.
#[derive(Debug, Serialize)]
pub struct LogsPath {
    /// The folder holding both logs (show this to users).
    pub dir: String,
    /// The host's log: the sidecar's stderr plus the supervisor's messages.
    pub host_log: Option<String>,
    /// The sidecar's own rotating log file.
    pub sidecar_log: String,
}

/// The logs folder and files (seed 000 phase 3: tell users where the logs are).
#[tauri::command]
pub fn sidecar_logs_path(state: State<'_, ShellState>) -> LogsPath {
    LogsPath {
        dir: state.logs_dir.display().to_string(),
        host_log: state.supervisor.log_path().map(|p| p.display().to_string()),
        sidecar_log: state.logs_dir.join("sidecar.log").display().to_string(),
    }
}
