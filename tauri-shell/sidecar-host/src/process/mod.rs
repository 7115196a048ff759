//! The process model: one running sidecar ([`SidecarProcess`]) and the
//! [`Supervisor`] that keeps one alive (READY timeout, heartbeat watch,
//! restarts with backoff, graceful stop). This file holds their configs and
//! defaults; each concern has its own module:
//!
//! * `child`: the [`SidecarProcess`] handle, its shared state and facts;
//! * `events`: [`ProcessEvent`], what a process delivers to its owner;
//! * `spawn`: spawning, the reaper task, waiting for READY;
//! * `rpc`: calls, their correlation table and timeouts;
//! * `host_key`, `host_calls`: the per-process host key and the host-only calls
//!   (grants) made with it;
//! * `stop`: the stop ladder, signals, [`StopReport`];
//! * `readers`: the stdout and stderr reader tasks;
//! * `supervisor`: the [`Supervisor`] handle; `actor`: the task behind it;
//! * `state`: the supervisor's states and their table of moves;
//! * `launch_lock`: first launches one at a time ([`LaunchLock`]);
//! * `log`, `path`: the host log, finding the executable.
//!
//! OS-specific code (process groups, the Windows job object, file locks) is in
//! `crate::platform`.

mod actor;
mod child;
mod events;
mod host_calls;
mod host_key;
mod launch_lock;
mod log;
mod path;
mod readers;
mod rpc;
mod spawn;
mod state;
mod stop;
mod supervisor;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub use child::SidecarProcess;
pub use events::ProcessEvent;
pub use host_calls::{Grant, GrantKind, GrantMode, GRANT_METHOD, MAX_REMEMBERED_GRANTS, REVOKE_METHOD};
pub use host_key::{HOST_KEY_BYTES, HOST_KEY_ENV, HOST_KEY_MASK, HOST_KEY_PARAM};
pub use launch_lock::{default_launch_lock_path, launch_lock_path_for, LaunchLock, DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT};
pub use log::{HostLog, LogLine, LogSource, StderrRing, LOG_BROADCAST_CAPACITY, LOG_ROTATE_BYTES};
pub use path::{check_executable, external_bin_file_name, sidecar_path_beside_current_exe, sidecar_path_in};
pub use state::{IllegalTransition, SidecarState, StateName};
pub use stop::{StopReport, StopStep};
pub use supervisor::{SidecarStatus, Supervisor, SupervisorEvent};

/// Wait this long for READY after spawning (a cold onefile start takes seconds).
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Default time limit of one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Stop step 1: for the answer to `system.shutdown`, then again for the exit.
pub const SHUTDOWN_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Stop step 2: for the exit after stdin is closed.
pub const STDIN_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Stop step 3: for the exit after SIGTERM.
pub const SIGTERM_TIMEOUT: Duration = Duration::from_secs(3);
/// Stop step 4: for reaping after SIGKILL of the process group.
pub const SIGKILL_TIMEOUT: Duration = Duration::from_secs(2);
/// After the process exits, wait this long for its last stdout/stderr lines
/// (a pipe may stay open in a grandchild).
pub const PIPE_DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// Stderr lines kept for error messages.
pub const STDERR_TAIL_LINES: usize = 200;
/// Stderr lines an error carries (the newest of those kept): enough to show
/// a Python traceback, short enough for a status line or a log record.
pub const ERROR_STDERR_TAIL_LINES: usize = 20;
/// Protocol violations kept per process (a sidecar printing garbage in a loop
/// must not grow the host's memory without bound).
pub const MAX_VIOLATIONS_KEPT: usize = 1000;
/// Stdout lines kept before READY (for the READY-timeout message).
pub const LINES_KEPT_BEFORE_READY: usize = 100;
/// Largest stdout line accepted from the sidecar (results can be big).
pub const MAX_STDOUT_LINE_BYTES: usize = 512 * 1024 * 1024;
/// Largest stderr line kept whole.
pub const MAX_STDERR_LINE_BYTES: usize = 1024 * 1024;
/// Capacity of the bounded notification channel.
pub const EVENT_CAPACITY: usize = 1024;

/// Default restart budget: automatic restarts within [`RESTART_WINDOW`]
/// before the supervisor gives up (a sidecar that keeps crashing needs a person).
pub const MAX_RESTARTS: u32 = 5;
/// Default window the restart budget is counted in.
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);
/// Default delay before the first restart: long enough for a crash loop not to
/// spin, short enough to go unnoticed after a one-off crash.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// Default longest delay between restarts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Doublings of the initial backoff at most: 2^20 times any sensible initial
/// backoff is past any sensible cap, and the factor stays far from overflow.
const MAX_BACKOFF_DOUBLINGS: u32 = 20;

/// How long each stop step waits before escalating to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopTimeouts {
    /// For the answer to `system.shutdown`, then again for the exit.
    pub shutdown_request: Duration,
    /// For the exit after stdin is closed.
    pub stdin_close: Duration,
    /// For the exit after SIGTERM.
    pub sigterm: Duration,
    /// For reaping after SIGKILL of the process group.
    pub sigkill: Duration,
}

impl Default for StopTimeouts {
    fn default() -> Self {
        Self {
            shutdown_request: SHUTDOWN_REQUEST_TIMEOUT,
            stdin_close: STDIN_CLOSE_TIMEOUT,
            sigterm: SIGTERM_TIMEOUT,
            sigkill: SIGKILL_TIMEOUT,
        }
    }
}

/// How to start one sidecar process and talk to it.
///
/// ```
/// use sidecar_host::SidecarConfig;
/// let config = SidecarConfig::new("/opt/app/sidecar")
///     .arg("--data-dir").arg("/tmp/data")
///     .env("SIDECAR_LOG_LEVEL", "debug");
/// assert_eq!(config.args.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct SidecarConfig {
    /// The executable (see [`sidecar_path_beside_current_exe`]).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment variables (the host's environment is inherited).
    pub env: Vec<(OsString, OsString)>,
    /// Working directory; `None` inherits the host's.
    pub cwd: Option<PathBuf>,
    /// How long to wait for READY.
    pub ready_timeout: Duration,
    /// Default per-call timeout.
    pub call_timeout: Duration,
    /// The stop sequence's step timeouts.
    pub stop_timeouts: StopTimeouts,
    /// Stderr lines kept for error messages.
    pub stderr_tail_lines: usize,
    /// Capacity of the notification channel (a full channel pauses stdout reading).
    pub event_capacity: usize,
    /// Largest stdout line accepted.
    pub max_line_bytes: usize,
    /// Where stderr and host messages are written.
    pub log: HostLog,
    /// The launch lock held from spawn to BOOT ([`LaunchLock::Default`]: the machine's, shared by every host).
    pub launch_lock: LaunchLock,
    /// Longest wait for the launch lock before spawning without it.
    pub launch_lock_wait: Duration,
    /// The app name the sidecar was built with (its extraction, data and keychain folder
    /// name): [`LaunchLock::Default`] takes that app's lock file ([`launch_lock_path_for`]).
    /// Default [`DEFAULT_APP_NAME`].
    pub app_name: String,
}

impl SidecarConfig {
    /// A config for `program` with the default timeouts and no log file.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            ready_timeout: READY_TIMEOUT,
            call_timeout: CALL_TIMEOUT,
            stop_timeouts: StopTimeouts::default(),
            stderr_tail_lines: STDERR_TAIL_LINES,
            event_capacity: EVENT_CAPACITY,
            max_line_bytes: MAX_STDOUT_LINE_BYTES,
            log: HostLog::disabled(),
            launch_lock: LaunchLock::Default,
            launch_lock_wait: LAUNCH_LOCK_WAIT,
            app_name: DEFAULT_APP_NAME.to_owned(),
        }
    }

    /// Add one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Add several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Set one environment variable for the sidecar.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Set the READY timeout.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Set the default call timeout.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Set the stop step timeouts.
    pub fn stop_timeouts(mut self, timeouts: StopTimeouts) -> Self {
        self.stop_timeouts = timeouts;
        self
    }

    /// Write stderr and host messages to this log.
    pub fn log(mut self, log: HostLog) -> Self {
        self.log = log;
        self
    }

    /// Take this launch lock from spawn to BOOT ([`LaunchLock::Off`]: none).
    pub fn launch_lock(mut self, lock: LaunchLock) -> Self {
        self.launch_lock = lock;
        self
    }

    /// Wait at most this long for the launch lock.
    pub fn launch_lock_wait(mut self, wait: Duration) -> Self {
        self.launch_lock_wait = wait;
        self
    }

    /// The app name the sidecar binary was built with (`[tool.sidecar] app-name`), so the
    /// default launch lock is that app's. It does not change what the sidecar itself uses
    /// (that is baked into the binary; `--app-name` overrides it at run time).
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }
}

/// When an unexpected exit (or a hang) leads to a new start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// At most this many automatic restarts within `window`; then the supervisor gives up.
    pub max_restarts: u32,
    /// The sliding window the restarts are counted in.
    pub window: Duration,
    /// The delay before the first restart; doubled for each further one in the window.
    pub initial_backoff: Duration,
    /// The longest delay.
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: MAX_RESTARTS,
            window: RESTART_WINDOW,
            initial_backoff: INITIAL_BACKOFF,
            max_backoff: MAX_BACKOFF,
        }
    }
}

impl RestartPolicy {
    /// Never restart automatically.
    pub fn never() -> Self {
        Self { max_restarts: 0, ..Self::default() }
    }

    /// The delay before restart number `n` (0-based) within the window.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(MAX_BACKOFF_DOUBLINGS)).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Watching HEARTBEAT lines: `missed` intervals without one means hung.
///
/// The sidecar must be started with `--heartbeat-interval` equal to `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatPolicy {
    /// The sidecar's `--heartbeat-interval`.
    pub interval: Duration,
    /// How many intervals may pass without a HEARTBEAT before the sidecar is declared hung.
    pub missed: u32,
}

impl HeartbeatPolicy {
    /// The silence after which the sidecar is declared hung.
    pub fn limit(&self) -> Duration {
        self.interval.saturating_mul(self.missed.max(1))
    }
}

/// Everything a [`Supervisor`] needs.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// How to start each process.
    pub sidecar: SidecarConfig,
    /// When to restart.
    pub restart: RestartPolicy,
    /// Heartbeat watch; `None` disables hang detection.
    pub heartbeat: Option<HeartbeatPolicy>,
    /// Capacity of the supervisor's event channel.
    pub event_capacity: usize,
}

impl SupervisorConfig {
    /// Supervise `sidecar` with the default restart policy and no heartbeat watch.
    pub fn new(sidecar: SidecarConfig) -> Self {
        Self { sidecar, restart: RestartPolicy::default(), heartbeat: None, event_capacity: EVENT_CAPACITY }
    }

    /// Set the restart policy.
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// Watch heartbeats (remember to pass `--heartbeat-interval` to the sidecar).
    pub fn heartbeat(mut self, policy: HeartbeatPolicy) -> Self {
        self.heartbeat = Some(policy);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RestartPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
            ..RestartPolicy::default()
        };
        let delays: Vec<u128> = (0..5).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 700, 700]);
        assert_eq!(policy.backoff(1000), Duration::from_millis(700));
    }
}
