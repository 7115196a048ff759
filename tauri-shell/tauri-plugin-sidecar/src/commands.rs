//! The plugin's commands: `plugin:sidecar|call`, `|status`, `|restart`, `|logs_path`.
//! (The `AppHandle` argument of some only tells the command macro which runtime `R` is.)
//! Each one needs its permission in the window's capability (`sidecar:allow-call` with a
//! scope naming the methods, `sidecar:allow-status`, ...); thin adapters to [`Sidecar`].

use std::time::Duration;

use serde_json::Value;
use sidecar_host::policy::MethodRule;
use tauri::ipc::{CommandScope, GlobalScope, InvokeResponseBody, Response};
use tauri::{AppHandle, Runtime, State, Webview};

use crate::error::{Error, Result};
use crate::models::{LogsPath, StatusView};
use crate::scope::shorten;
use crate::Sidecar;

/// Longest method name quoted in a refusal's log line.
const LOGGED_METHOD_BYTES: usize = 160;

/// Longest per-call timeout the frontend may ask for.
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Call a sidecar method: `invoke("plugin:sidecar|call", {method, params, timeoutMs})`.
///
/// Only the methods the calling window's capability grants are forwarded (the scope of
/// its `sidecar:allow-call` permission: `scope.rs`); any other is refused here, before it
/// reaches the sidecar, with `kind: "forbidden_method"`, and the refusal is written to the
/// host log. The answer is the sidecar's result as the JSON text it sent (host key
/// masked), handed to the webview without decoding and re-encoding it (issue 14: that hop
/// cost more than the engine). An error answer is an [`Error`] with `kind: "rpc_error"`
/// and the sidecar's `code` and `data`.
#[tauri::command]
pub(crate) async fn call<R: Runtime>(
    webview: Webview<R>,
    sidecar: State<'_, Sidecar<R>>,
    scope: CommandScope<MethodRule>,
    global: GlobalScope<MethodRule>,
    method: String,
    params: Option<Value>,
    timeout_ms: Option<u64>,
) -> Result<Response> {
    let supervisor = sidecar.supervisor();
    let permit = match sidecar.gate.check(supervisor, &scope, &global, &method).await {
        Ok(permit) => permit,
        Err(refusal) => {
            let shown = shorten(&method, LOGGED_METHOD_BYTES);
            let window = webview.label();
            let why = refusal.as_str();
            supervisor
                .log()
                .host(0, &format!("refused sidecar call {shown:?} from webview {window:?}: {why} (forbidden_method)"));
            return Err(Error::forbidden_method(&shown, refusal));
        }
    };
    let params = permit.apply(params).map_err(|e| Error::new("invalid_argument", format!("{method}: {e}")))?;
    let timeout = timeout_ms.map(|ms| Duration::from_millis(ms).min(MAX_CALL_TIMEOUT));
    let raw = sidecar.call_raw(&method, params, timeout).await?;
    Ok(Response::new(InvokeResponseBody::Json(String::from(Box::<str>::from(raw)))))
}

/// The supervisor's status: state (with reasons), pids, restarts, heartbeat, log file, recent logs.
#[tauri::command]
pub(crate) fn status<R: Runtime>(_app: AppHandle<R>, sidecar: State<'_, Sidecar<R>>) -> StatusView {
    sidecar.status()
}

/// Stop the sidecar gracefully and start a new one; the new state arrives as events.
#[tauri::command]
pub(crate) async fn restart<R: Runtime>(_app: AppHandle<R>, sidecar: State<'_, Sidecar<R>>) -> Result<()> {
    sidecar.restart().await
}

/// The logs folder and files.
#[tauri::command]
pub(crate) fn logs_path<R: Runtime>(_app: AppHandle<R>, sidecar: State<'_, Sidecar<R>>) -> LogsPath {
    sidecar.logs_path()
}
