//! The Tauri commands: thin adapters from the frontend to the supervisor.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sidecar_host::policy::MethodRule;
use sidecar_host::{Grant, GrantMode, LogLine, SidecarState, SidecarStatus};
use tauri::ipc::{CommandScope, GlobalScope};
use tauri::{AppHandle, State, Webview, WebviewWindow};

use crate::access::shorten;
use crate::error::CommandError;
use crate::picker::Pick;
use crate::ShellState;

/// Longest method name quoted in a refusal's log line.
const LOGGED_METHOD_BYTES: usize = 160;

/// Longest per-call timeout the frontend may ask for.
const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Call a sidecar method: `invoke("sidecar_call", {method, params, timeoutMs})`.
///
/// Only the methods the calling window's capability grants are forwarded (the
/// scope of its `sidecar_call` permission: see `access.rs`); any other is refused
/// here, before it reaches the sidecar, with `kind: "forbidden_method"`, and the
/// refusal is written to the host log. Returns the JSON-RPC result; an error answer
/// becomes a `CommandError` with `kind: "rpc_error"` and the sidecar's `code` and `data`.
#[tauri::command]
pub async fn sidecar_call(
    webview: Webview,
    state: State<'_, ShellState>,
    scope: CommandScope<MethodRule>,
    global: GlobalScope<MethodRule>,
    method: String,
    params: Option<Value>,
    timeout_ms: Option<u64>,
) -> Result<Value, CommandError> {
    let supervisor = state.supervisor.clone();
    let permit = match state.gate.check(&supervisor, &scope, &global, &method).await {
        Ok(permit) => permit,
        Err(refusal) => {
            let shown = shorten(&method, LOGGED_METHOD_BYTES);
            let window = webview.label();
            let why = refusal.as_str();
            supervisor
                .log()
                .host(0, &format!("refused sidecar_call {shown:?} from webview {window:?}: {why} (forbidden_method)"));
            return Err(CommandError::forbidden_method(&shown, refusal));
        }
    };
    let params = permit.apply(params).map_err(|e| CommandError::shell("invalid_argument", format!("{method}: {e}")))?;
    let result = match timeout_ms {
        Some(ms) => {
            supervisor.call_with_timeout(&method, params, Duration::from_millis(ms).min(MAX_CALL_TIMEOUT)).await
        }
        None => supervisor.call(&method, params).await,
    };
    result.map_err(CommandError::from)
}

/// Let the user pick a data file in a native dialog and grant the engine read access
/// to it (`files.grant`, made by the host with its key). Resolves with the grant
/// (`{grant_id, path, mode: "read", kind: "file"}`; ingest it with `jobs.submit`), or
/// `null` when the user cancelled. The page never chooses the path.
#[tauri::command]
pub async fn pick_file_for_ingest(
    app: AppHandle,
    window: WebviewWindow,
    state: State<'_, ShellState>,
) -> Result<Option<Grant>, CommandError> {
    pick_and_grant(&app, &window, &state, Pick::IngestFile, GrantMode::Read).await
}

/// Let the user pick a folder in a native dialog and grant the engine write access to
/// it. Resolves with the grant (`{grant_id, path, mode: "write", kind: "folder"}`;
/// `db.export` may then write files inside `path`), or `null` when cancelled.
#[tauri::command]
pub async fn pick_export_folder(
    app: AppHandle,
    window: WebviewWindow,
    state: State<'_, ShellState>,
) -> Result<Option<Grant>, CommandError> {
    pick_and_grant(&app, &window, &state, Pick::ExportFolder, GrantMode::Write).await
}

async fn pick_and_grant(
    app: &AppHandle,
    window: &WebviewWindow,
    state: &ShellState,
    what: Pick,
    mode: GrantMode,
) -> Result<Option<Grant>, CommandError> {
    // No dialog for a grant that cannot be made: the user would pick for nothing.
    if !matches!(state.supervisor.state(), SidecarState::Ready { .. }) {
        let now = state.supervisor.state().describe();
        return Err(CommandError::from(sidecar_host::Error::NotRunning { state: now }));
    }
    let Ok(picked) = state.picker.pick(app, window, what).await else {
        return Err(CommandError::shell("dialog_open", "a file dialog is already open: answer it first"));
    };
    let Some(path) = picked else {
        return Ok(None); // the user cancelled
    };
    let grant = state.supervisor.grant_path(&path, mode).await.map_err(CommandError::from)?;
    Ok(Some(grant))
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
