//! How the shell configures the sidecar: the externalBin path, the data dir,
//! the heartbeat, and a few environment overrides used by tests.

use std::path::PathBuf;
use std::time::Duration;

use sidecar_host::{HeartbeatPolicy, HostLog, LaunchLock, RestartPolicy, SidecarConfig, SupervisorConfig};
use tauri::{AppHandle, Manager};

/// The externalBin entry's name (`bundle.externalBin: ["binaries/sidecar"]`).
pub const SIDECAR_NAME: &str = "sidecar";
/// The sidecar's `--heartbeat-interval` (seconds) unless overridden.
pub const HEARTBEAT_INTERVAL_S: u64 = 2;
/// Missed heartbeats before the sidecar is declared hung.
pub const HEARTBEAT_MISSED: u32 = 3;
/// READY timeout unless overridden (a cold onefile start takes a few seconds).
pub const READY_TIMEOUT_MS: u64 = 20_000;

/// Overrides read from the environment (for tests and for `scripts/dev.sh`).
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

/// Everything resolved at startup.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The sidecar executable.
    pub program: PathBuf,
    /// The sidecar's `--data-dir`.
    pub data_dir: PathBuf,
    /// Where the sidecar and the host write logs (`<data dir>/logs`).
    pub logs_dir: PathBuf,
    /// Heartbeat interval; zero disables.
    pub heartbeat: Duration,
    /// READY timeout.
    pub ready_timeout: Duration,
    /// Automatic restarts per minute.
    pub max_restarts: u32,
    /// The launch lock held from spawn to BOOT (the machine's shared one by default).
    pub launch_lock: LaunchLock,
}

impl Settings {
    /// Resolve from the app (externalBin beside the executable, app data dir) and the environment.
    pub fn resolve(app: &AppHandle) -> Result<Settings, String> {
        let program = match std::env::var_os(env::SIDECAR) {
            Some(path) => PathBuf::from(path),
            None => sidecar_host::sidecar_path_beside_current_exe(SIDECAR_NAME).map_err(|e| e.to_string())?,
        };
        let data_dir = match std::env::var_os(env::DATA_DIR) {
            Some(dir) => PathBuf::from(dir),
            None => app.path().app_data_dir().map_err(|e| format!("no app data dir: {e}"))?,
        };
        Ok(Settings {
            program,
            logs_dir: data_dir.join("logs"),
            data_dir,
            heartbeat: Duration::from_secs(env_u64(env::HEARTBEAT_S).unwrap_or(HEARTBEAT_INTERVAL_S)),
            ready_timeout: Duration::from_millis(env_u64(env::READY_TIMEOUT_MS).unwrap_or(READY_TIMEOUT_MS)),
            max_restarts: env_u64(env::MAX_RESTARTS).map(|n| n as u32).unwrap_or(RestartPolicy::default().max_restarts),
            launch_lock: match std::env::var_os(env::LAUNCH_LOCK) {
                Some(value) if value == "0" => LaunchLock::Off,
                Some(path) if !path.is_empty() => LaunchLock::File(PathBuf::from(path)),
                _ => LaunchLock::Default,
            },
        })
    }

    /// The supervisor's config, with the host log in the logs folder.
    pub fn supervisor_config(&self) -> SupervisorConfig {
        let log = HostLog::new(Some(&self.logs_dir.join("sidecar-host.log"))).unwrap_or_else(|e| {
            eprintln!("sidecar-shell: cannot write the host log in {}: {e}", self.logs_dir.display());
            HostLog::disabled()
        });
        let sidecar = SidecarConfig::new(&self.program)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--heartbeat-interval")
            .arg(self.heartbeat.as_secs().to_string())
            .ready_timeout(self.ready_timeout)
            .launch_lock(self.launch_lock.clone())
            .log(log);
        let restart = RestartPolicy { max_restarts: self.max_restarts, ..RestartPolicy::default() };
        let config = SupervisorConfig::new(sidecar).restart(restart);
        if self.heartbeat.is_zero() {
            config
        } else {
            config.heartbeat(HeartbeatPolicy { interval: self.heartbeat, missed: HEARTBEAT_MISSED })
        }
    }
}
