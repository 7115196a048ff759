//! The sidecar plugin as this app configures it: tauri.conf.json's `plugins.sidecar`, plus
//! environment overrides that the tests and `scripts/dev.sh` use (never needed in a
//! release; an app of your own can leave all of this out and call
//! `tauri_plugin_sidecar::init()`).

use std::path::PathBuf;
use std::time::Duration;

use tauri::Runtime;
use tauri_plugin_sidecar::sidecar_host::{HeartbeatPolicy, LaunchLock, RestartPolicy};
use tauri_plugin_sidecar::{config, Builder, Config};

/// Overrides read from the environment.
pub mod env {
    /// Use this program instead of the externalBin beside the executable.
    pub const SIDECAR: &str = "SIDECAR_SHELL_SIDECAR";
    /// Use this data dir instead of the app data dir.
    pub const DATA_DIR: &str = "SIDECAR_SHELL_DATA_DIR";
    /// READY timeout in milliseconds.
    pub const READY_TIMEOUT_MS: &str = "SIDECAR_SHELL_READY_TIMEOUT_MS";
    /// Heartbeat interval in seconds (0 disables the watch).
    pub const HEARTBEAT_S: &str = "SIDECAR_SHELL_HEARTBEAT_S";
    /// Automatic restarts allowed per minute.
    pub const MAX_RESTARTS: &str = "SIDECAR_SHELL_MAX_RESTARTS";
    /// `0` spawns without the launch lock (docs/TAURI.md); a path uses that lock file.
    pub const LAUNCH_LOCK: &str = "SIDECAR_SHELL_LAUNCH_LOCK";
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The plugin: tauri.conf.json decides, except where one of the variables is set.
pub fn sidecar_plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R, Option<Config>> {
    let mut builder = Builder::new();
    if let Some(program) = std::env::var_os(env::SIDECAR) {
        builder = builder.program(PathBuf::from(program));
    }
    if let Some(dir) = std::env::var_os(env::DATA_DIR) {
        builder = builder.data_dir(PathBuf::from(dir));
    }
    if let Some(ms) = env_u64(env::READY_TIMEOUT_MS) {
        builder = builder.ready_timeout(Duration::from_millis(ms));
    }
    if let Some(seconds) = env_u64(env::HEARTBEAT_S) {
        builder = builder.heartbeat((seconds > 0).then(|| HeartbeatPolicy {
            interval: Duration::from_secs(seconds),
            missed: config::DEFAULT_HEARTBEAT_MISSED,
        }));
    }
    if let Some(max) = env_u64(env::MAX_RESTARTS) {
        builder = builder.restart(RestartPolicy { max_restarts: max as u32, ..RestartPolicy::default() });
    }
    match std::env::var_os(env::LAUNCH_LOCK) {
        Some(value) if value == "0" => builder = builder.launch_lock(LaunchLock::Off),
        Some(path) if !path.is_empty() => builder = builder.launch_lock(LaunchLock::File(PathBuf::from(path))),
        _ => {}
    }
    builder.build()
}
