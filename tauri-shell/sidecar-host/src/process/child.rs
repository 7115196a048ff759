//! One running sidecar process: the [`SidecarProcess`] handle, the state its
//! tasks share, and what it has seen so far (BOOT, READY, heartbeats, stderr).
//!
//! The rest of the handle lives beside this file, one concern each:
//! `spawn.rs` (spawning, the reaper task, waiting for READY), `rpc.rs`
//! (calls, their correlation table and timeouts), `stop.rs` (the stop ladder
//! and signals) and `readers.rs` (the stdout and stderr reader tasks).
//!
//! [`SidecarProcess::spawn`] returns the process and a bounded receiver of
//! [`ProcessEvent`](super::ProcessEvent)s;
//! [`ProcessEvent::Terminated`](super::ProcessEvent::Terminated) is delivered after the last
//! stdout line. Three tasks serve each process: a stdout reader (lifecycle
//! lines, answers, notifications), a stderr reader (ring buffer, log), and a
//! waiter that reaps the process and fails every pending call when it is gone.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::ChildStdin;
use tokio::sync::{mpsc, watch};

use super::host_key::HostKey;
use super::launch_lock::HeldLaunchLock;
use super::log::{HostLog, StderrRing};
use super::rpc::Pending;
use super::SidecarConfig;
use crate::error::ExitStatus;
use crate::platform::ProcessTree;
use crate::protocol::Violation;

/// What the stdout reader has learnt about the process.
#[derive(Default)]
pub(super) struct Seen {
    /// The engine's pid from BOOT.
    pub(super) boot_pid: Option<u32>,
    /// The version from BOOT.
    pub(super) version: Option<String>,
    /// When READY arrived.
    pub(super) ready_at: Option<Instant>,
    /// The last HEARTBEAT's seq and arrival.
    pub(super) last_heartbeat: Option<(u64, Instant)>,
    /// The reason on the SHUTDOWN line.
    pub(super) shutdown_reason: Option<String>,
    /// Stdout lines before READY (at most [`LINES_KEPT_BEFORE_READY`](super::LINES_KEPT_BEFORE_READY)).
    pub(super) lines_before_ready: Vec<String>,
    /// Protocol violations (at most [`MAX_VIOLATIONS_KEPT`](super::MAX_VIOLATIONS_KEPT)).
    pub(super) violations: Vec<Violation>,
}

/// The state shared by a process's handle clones and its three tasks.
pub(super) struct Inner {
    /// The pid the host spawned (0 if the OS did not say).
    pub(super) pid: u32,
    /// The program, as resolved by [`check_executable`](super::check_executable).
    pub(super) program: PathBuf,
    /// The config it was started with.
    pub(super) config: SidecarConfig,
    /// When it was spawned.
    pub(super) spawned_at: Instant,
    /// Its stdin; `None` once closed.
    pub(super) stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    /// Calls waiting for an answer, by request id.
    pub(super) pending: Mutex<HashMap<u64, Pending>>,
    /// The next request id.
    pub(super) next_id: AtomicU64,
    /// What stdout has told so far.
    pub(super) seen: Mutex<Seen>,
    /// The last stderr lines.
    pub(super) stderr: StderrRing,
    /// True once READY was read.
    pub(super) ready: watch::Sender<bool>,
    /// `Some(status)` once reaped.
    pub(super) exited: watch::Sender<Option<Option<ExitStatus>>>,
    /// True once stdout reached its end.
    pub(super) stdout_closed: watch::Sender<bool>,
    /// True once stderr reached its end.
    pub(super) stderr_closed: watch::Sender<bool>,
    /// Asks the reaper to kill the process (when the platform could not make a tree to kill).
    pub(super) kill: mpsc::Sender<()>,
    /// Its process tree: the process group (Unix) or the job object (Windows).
    pub(super) tree: ProcessTree,
    /// The launch lock, held from before the spawn until BOOT (see `launch_lock.rs`).
    pub(super) launch_lock: Mutex<Option<HeldLaunchLock>>,
    /// This process's host key (in its environment; added to host-only calls; scrubbed from what it prints).
    pub(super) host_key: HostKey,
}

impl Inner {
    /// Write a host message about this process to the log.
    pub(super) fn log_host(&self, message: &str) {
        self.config.log.host(self.pid, &self.host_key.scrub(message));
    }

    /// Release the launch lock if it is still held, logging `why` (idempotent).
    pub(super) fn release_launch_lock(&self, why: &str) {
        let held = self.launch_lock.lock().expect("launch lock").take();
        if let Some(held) = held {
            let ms = held.held_for().as_millis();
            drop(held);
            self.log_host(&format!("launch lock released ({why}) after {ms} ms"));
        }
    }
}

/// A running sidecar. Cheap to clone (all clones talk to the same process).
///
/// ```no_run
/// # async fn demo() -> sidecar_host::Result<()> {
/// use sidecar_host::{SidecarConfig, SidecarProcess};
/// let config = SidecarConfig::new("/opt/app/sidecar").args(["--heartbeat-interval", "5"]);
/// let (sidecar, mut events) = SidecarProcess::start(config).await?;
/// let status = sidecar.call("system.status", None).await?;
/// println!("engine pid {}", status["pid"]);
/// sidecar.stop().await;
/// while let Some(event) = events.recv().await { println!("{event:?}"); }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SidecarProcess {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for SidecarProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SidecarProcess").field("pid", &self.inner.pid).field("program", &self.inner.program).finish()
    }
}

impl SidecarProcess {
    /// The pid the host spawned (under a onefile packager: the bootstrap).
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// The engine's own pid from BOOT's `pid=` field, once BOOT was read.
    pub fn engine_pid(&self) -> Option<u32> {
        self.inner.seen.lock().expect("seen").boot_pid
    }

    /// The sidecar version from BOOT, once read.
    pub fn version(&self) -> Option<String> {
        self.inner.seen.lock().expect("seen").version.clone()
    }

    /// The program that was started.
    pub fn program(&self) -> &std::path::Path {
        &self.inner.program
    }

    /// Time from spawn to READY, once READY was seen.
    pub fn startup_time(&self) -> Option<Duration> {
        self.inner.seen.lock().expect("seen").ready_at.map(|t| t - self.inner.spawned_at)
    }

    /// Whether READY was seen.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// False once the process has been reaped.
    pub fn is_running(&self) -> bool {
        self.inner.exited.borrow().is_none()
    }

    /// Its exit status once reaped.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.inner.exited.borrow().flatten()
    }

    /// The reason on its SHUTDOWN line, once seen.
    pub fn shutdown_reason(&self) -> Option<String> {
        self.inner.seen.lock().expect("seen").shutdown_reason.clone()
    }

    /// The last HEARTBEAT's `seq` and how long ago it arrived.
    pub fn last_heartbeat(&self) -> Option<(u64, Duration)> {
        self.inner.seen.lock().expect("seen").last_heartbeat.map(|(seq, at)| (seq, at.elapsed()))
    }

    /// How long since the last sign of life (HEARTBEAT, else READY, else spawn).
    pub fn silent_for(&self) -> Duration {
        let seen = self.inner.seen.lock().expect("seen");
        let last = seen.last_heartbeat.map(|(_, at)| at).or(seen.ready_at).unwrap_or(self.inner.spawned_at);
        last.elapsed()
    }

    /// The last `n` stderr lines.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        self.inner.stderr.tail(n)
    }

    /// The stdout lines printed before READY (at most [`LINES_KEPT_BEFORE_READY`](super::LINES_KEPT_BEFORE_READY)).
    pub fn lines_before_ready(&self) -> Vec<String> {
        self.inner.seen.lock().expect("seen").lines_before_ready.clone()
    }

    /// Protocol violations seen on stdout (at most [`MAX_VIOLATIONS_KEPT`](super::MAX_VIOLATIONS_KEPT)).
    pub fn violations(&self) -> Vec<Violation> {
        self.inner.seen.lock().expect("seen").violations.clone()
    }

    /// The log this process writes to.
    pub fn log(&self) -> &HostLog {
        &self.inner.config.log
    }

    /// Number of calls waiting for an answer.
    pub fn pending_calls(&self) -> usize {
        self.inner.pending.lock().expect("pending").len()
    }
}
