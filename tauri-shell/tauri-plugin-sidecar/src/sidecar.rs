//! [`Sidecar`]: the plugin's state, one per app, reached from Rust with `app.sidecar()`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sidecar_host::protocol::RawJson;
use sidecar_host::{Grant, GrantMode, LogLine, StopReport, Supervisor};
use tauri::{AppHandle, Runtime};

use crate::error::Result;
use crate::models::{LogsPath, StatusView};
use crate::scope::Gate;

/// Log lines kept for a window that subscribes late (`status().recent_logs`).
pub const RECENT_LOG_LINES: usize = 300;

/// The running sidecar of this app, its supervisor and what the commands share.
///
/// Calls from Rust go straight to the supervisor: they are not gated (the host's own code
/// is trusted; only webviews are confined to their capability's methods).
pub struct Sidecar<R: Runtime> {
    pub(crate) app: AppHandle<R>,
    pub(crate) supervisor: Supervisor,
    pub(crate) data_dir: PathBuf,
    pub(crate) logs_dir: PathBuf,
    pub(crate) recent_logs: Arc<Mutex<VecDeque<LogLine>>>,
    pub(crate) gate: Gate,
    pub(crate) stopping: AtomicBool,
    pub(crate) stopped: Arc<AtomicBool>,
}

impl<R: Runtime> Sidecar<R> {
    /// The supervisor (state, events, host-only calls, grants, the host log).
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// The sidecar's `--data-dir`.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Call `method` with the default timeout; the decoded result.
    pub async fn call(&self, method: &str, params: Option<Value>) -> Result<Value> {
        Ok(self.supervisor.call(method, params).await?)
    }

    /// Call `method` (timeout `None`: the configured default) and get the result's JSON
    /// text undecoded, host key masked: for passing it on as it is.
    pub async fn call_raw(&self, method: &str, params: Option<Value>, timeout: Option<Duration>) -> Result<RawJson> {
        let timeout = timeout.unwrap_or_else(|| self.supervisor.call_timeout());
        Ok(self.supervisor.call_raw(method, params, timeout).await?)
    }

    /// Call a host-only method (the supervisor adds the per-launch host key). Never
    /// forward a webview's method or params here.
    pub async fn call_host(&self, method: &str, params: Option<Value>) -> Result<Value> {
        Ok(self.supervisor.call_host(method, params).await?)
    }

    /// Let the engine read (`Read`) or write into (`Write`) `path` (`files.grant` with the
    /// host key); made again after a restart. For a path the user picked.
    pub async fn grant_path(&self, path: impl AsRef<Path>, mode: GrantMode) -> Result<Grant> {
        Ok(self.supervisor.grant_path(path, mode).await?)
    }

    /// Revoke a grant; true if the sidecar had it.
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<bool> {
        Ok(self.supervisor.revoke_grant(grant_id).await?)
    }

    /// The status plus the recent log lines.
    pub fn status(&self) -> StatusView {
        let recent_logs = self.recent_logs.lock().expect("recent logs").iter().cloned().collect();
        StatusView { status: self.supervisor.status(), recent_logs }
    }

    /// Stop gracefully and start a new process; returns once the old one is gone.
    pub async fn restart(&self) -> Result<()> {
        Ok(self.supervisor.restart().await?)
    }

    /// Where the logs are.
    pub fn logs_path(&self) -> LogsPath {
        LogsPath {
            dir: self.logs_dir.display().to_string(),
            host_log: self.supervisor.log_path().map(|p| p.display().to_string()),
            sidecar_log: self.logs_dir.join("sidecar.log").display().to_string(),
        }
    }

    /// Stop the sidecar for good (the graceful stop sequence); the app keeps running.
    pub async fn stop(&self, reason: &str) -> Option<StopReport> {
        let report = self.supervisor.stop_with_reason(reason).await;
        self.stopped.store(true, Ordering::SeqCst);
        report
    }

    /// Whether the sidecar was stopped for good.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Stop the sidecar once, in the background, then exit the app (status 0). What the
    /// plugin does on a close of the configured window, `ExitRequested` and a signal;
    /// calling it again while a stop runs does nothing.
    pub fn stop_then_exit(&self, reason: &str) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        let supervisor = self.supervisor.clone();
        let stopped = self.stopped.clone();
        let app = self.app.clone();
        let reason = reason.to_owned();
        tauri::async_runtime::spawn(async move {
            supervisor.stop_with_reason(&reason).await;
            stopped.store(true, Ordering::SeqCst);
            app.exit(0);
        });
    }
}
