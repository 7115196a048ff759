//! Host side of the sidecar protocol, for Rust apps (the Tauri shell uses it;
//! it does not depend on tauri).
//!
//! * [`protocol`]: the wire protocol without I/O (line splitter, lifecycle
//!   lines, JSON-RPC 2.0 codec), tested against the shared vectors.
//! * [`SidecarProcess`]: one running sidecar on tokio::process: READY with a
//!   timeout, calls with per-call timeouts, notifications on a bounded
//!   channel, the graceful stop sequence; its whole process tree in one
//!   process group (Unix) or job object (Windows); the [`LaunchLock`] held
//!   from spawn to BOOT.
//! * [`Supervisor`]: keeps one alive: heartbeat watch, restarts with
//!   exponential backoff within a budget, state changes as events.
//! * Host-only calls: each process gets a fresh random host key in its
//!   environment ([`HOST_KEY_ENV`]); [`Supervisor::call_host`],
//!   [`Supervisor::grant_path`] and [`Supervisor::revoke_grant`] add it. The key is
//!   never logged and is masked in whatever the host passes on.
//! * [`policy`]: which methods an untrusted caller (a webview) may call: allow and
//!   deny rules, deny by default, privileged methods never.
//!
//! Every failure is one [`Error`] with an actionable message.

#![warn(missing_docs)]

mod error;
mod platform;
pub mod policy;
mod process;
pub mod protocol;

// The public API, by name (the modules behind it are private).

// Errors.
pub use error::{Error, ExitStatus, Result};

// One running sidecar: config, handle, events, stopping.
pub use process::{ProcessEvent, SidecarConfig, SidecarProcess, StopReport, StopStep, StopTimeouts};

// Host-only calls: the per-process host key and the grants made with it.
pub use process::{
    Grant, GrantKind, GrantMode, GRANT_METHOD, HOST_KEY_BYTES, HOST_KEY_ENV, HOST_KEY_MASK, HOST_KEY_PARAM,
    MAX_REMEMBERED_GRANTS, REVOKE_METHOD,
};

// First launches one at a time (the launch lock, issue-log 0012).
pub use process::{default_launch_lock_path, launch_lock_path_for, LaunchLock, DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT};

// Keeping one alive: the supervisor, its policies and states.
pub use process::{
    HeartbeatPolicy, IllegalTransition, RestartPolicy, SidecarState, SidecarStatus, StateName, Supervisor,
    SupervisorConfig, SupervisorEvent,
};

// Logs: the host log, its lines, the stderr ring.
pub use process::{HostLog, LogLine, LogSource, StderrRing, LOG_BROADCAST_CAPACITY, LOG_ROTATE_BYTES};

// Finding the sidecar executable (Tauri's externalBin rule).
pub use process::{check_executable, external_bin_file_name, sidecar_path_beside_current_exe, sidecar_path_in};

// Defaults and limits.
pub use process::{
    CALL_TIMEOUT, ERROR_STDERR_TAIL_LINES, EVENT_CAPACITY, INITIAL_BACKOFF, LINES_KEPT_BEFORE_READY, MAX_BACKOFF,
    MAX_RESTARTS, MAX_STDERR_LINE_BYTES, MAX_STDOUT_LINE_BYTES, MAX_VIOLATIONS_KEPT, PIPE_DRAIN_TIMEOUT, READY_TIMEOUT,
    RESTART_WINDOW, SHUTDOWN_REQUEST_TIMEOUT, SIGKILL_TIMEOUT, SIGTERM_TIMEOUT, STDERR_TAIL_LINES, STDIN_CLOSE_TIMEOUT,
};
