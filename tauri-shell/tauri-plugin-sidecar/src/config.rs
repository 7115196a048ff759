//! `plugins.sidecar` in tauri.conf.json: how to start the sidecar and keep it alive.
//! Every key is optional; `Builder` methods override them (docs/TAURI.md lists both).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The default externalBin name (`bundle.externalBin: ["binaries/sidecar"]`).
pub const DEFAULT_BINARY: &str = "sidecar";
/// The READY timeout unless configured (a cold onefile start takes a few seconds).
pub const DEFAULT_READY_TIMEOUT_MS: u64 = 20_000;
/// The sidecar's `--heartbeat-interval` (seconds) unless configured.
pub const DEFAULT_HEARTBEAT_INTERVAL_S: u64 = 2;
/// Missed heartbeats before the sidecar counts as hung, unless configured.
pub const DEFAULT_HEARTBEAT_MISSED: u32 = 3;

/// The plugin's configuration (`plugins.sidecar`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The externalBin entry's file name (`binaries/sidecar` -> `sidecar`); the program is
    /// `<dir of the app executable>/<binary>[.exe]`, where the bundler puts it. Default `sidecar`.
    pub binary: Option<String>,
    /// An explicit program instead of the externalBin rule (development, tests).
    pub program: Option<PathBuf>,
    /// Extra arguments, after the plugin's own `--data-dir` and `--heartbeat-interval`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables for the sidecar.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The app name the sidecar binary was built with (`[tool.sidecar] app-name`): it picks
    /// the launch lock of that app's extraction folder. Default `PlutoDuck`.
    pub app_name: Option<String>,
    /// The sidecar's `--data-dir` (absolute). Default: the app's data dir
    /// (`app.path().app_data_dir()`, e.g. `~/.local/share/<identifier>` on Linux).
    pub data_dir: Option<PathBuf>,
    /// How long to wait for READY, in ms. Default 20000.
    pub ready_timeout_ms: Option<u64>,
    /// Default per-call timeout, in ms (a page may ask for less or more, up to 600000). Default 30000.
    pub call_timeout_ms: Option<u64>,
    /// The heartbeat watch.
    #[serde(default)]
    pub heartbeat: HeartbeatConfig,
    /// Automatic restarts after a crash or a hang.
    #[serde(default)]
    pub restart: RestartConfig,
    /// `"default"` (the app's shared lock file), `"off"`, or a lock file's path.
    pub launch_lock: Option<String>,
    /// The label of the window whose close stops the sidecar and exits the app (`"main"`).
    /// Without it, the stop runs when the app exits (the last window closed, `exit()`).
    pub stop_on_window_close: Option<String>,
    /// SIGTERM, SIGINT and SIGHUP exit the app through the graceful stop (Unix). Default true.
    pub exit_on_signal: Option<bool>,
    /// Write the host log (the sidecar's stderr and the supervisor's messages) to
    /// `<data dir>/logs/sidecar-host.log`. Default true.
    pub host_log: Option<bool>,
}

/// `plugins.sidecar.heartbeat`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// Seconds between HEARTBEAT lines (passed as `--heartbeat-interval`); 0 disables the watch. Default 2.
    pub interval_s: Option<u64>,
    /// Intervals without a HEARTBEAT before the sidecar is declared hung and restarted. Default 3.
    pub missed: Option<u32>,
}

/// `plugins.sidecar.restart`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestartConfig {
    /// Automatic restarts allowed within the window; then the state is `failed`. Default 5.
    pub max_restarts: Option<u32>,
    /// The window, in seconds. Default 60.
    pub window_s: Option<u64>,
    /// The first restart's delay, in ms, doubled for each further one. Default 250.
    pub initial_backoff_ms: Option<u64>,
    /// The longest delay, in ms. Default 8000.
    pub max_backoff_ms: Option<u64>,
}
