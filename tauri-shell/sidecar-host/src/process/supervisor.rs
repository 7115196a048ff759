//! Keeps one sidecar alive: start, READY, heartbeat watch, restart with
//! exponential backoff within a budget, graceful stop.
//!
//! One task (the actor, in `actor.rs`) owns the lifecycle and takes commands
//! (restart, stop) over a channel; calls go straight to the current process,
//! so a slow call never delays a stop. State changes go to a `watch` (latest
//! state) and, with notifications, to one bounded event channel. This file
//! holds the [`Supervisor`] handle and what the handle and the actor share.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::actor::run;
use super::child::SidecarProcess;
use super::host_calls::{Grant, GrantMode, MAX_REMEMBERED_GRANTS};
use super::state::{SidecarState, StateName};
use super::stop::StopReport;
use super::{HostLog, LogLine, SupervisorConfig};
use crate::error::{Error, Result};
use crate::protocol::RawJson;

/// Commands that may wait for the actor (restart and stop requests are rare).
const COMMAND_CAPACITY: usize = 8;

/// What a supervisor reports to its owner.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SupervisorEvent {
    /// The state changed (also see [`Supervisor::subscribe_state`]).
    State(SidecarState),
    /// A notification from the current sidecar.
    Notification {
        /// The method, e.g. `job.progress`.
        method: String,
        /// Its params (`Null` when absent).
        params: Value,
    },
}

/// A snapshot for status displays.
#[derive(Debug, Clone, Serialize)]
pub struct SidecarStatus {
    /// The current state.
    pub state: SidecarState,
    /// The pid the host spawned, while a process exists.
    pub pid: Option<u32>,
    /// The engine's pid from BOOT.
    pub engine_pid: Option<u32>,
    /// Automatic restarts since the supervisor started.
    pub restarts: u32,
    /// The last HEARTBEAT's seq.
    pub last_heartbeat_seq: Option<u64>,
    /// Milliseconds since the last HEARTBEAT.
    pub last_heartbeat_ms_ago: Option<u64>,
    /// The host log file, if one is written.
    pub log_file: Option<String>,
    /// Milliseconds since the supervisor started.
    pub uptime_ms: u64,
}

/// What the handle asks of the actor.
pub(super) enum Command {
    /// Stop the process and start a new one; answered once the old one is gone.
    Restart(oneshot::Sender<()>),
    /// Stop for good, with this reason; answered with how the process ended.
    Stop(String, oneshot::Sender<Option<StopReport>>),
}

/// What the handles and the actor share.
pub(super) struct Shared {
    /// The config it was started with.
    pub(super) config: SupervisorConfig,
    /// The current process, while there is one.
    current: RwLock<Option<SidecarProcess>>,
    /// The latest state.
    state: watch::Sender<SidecarState>,
    /// State changes and notifications for the owner.
    pub(super) events: mpsc::Sender<SupervisorEvent>,
    /// Automatic restarts since the start.
    pub(super) restarts: Mutex<u32>,
    /// When the supervisor started.
    started: Instant,
    /// The grants made through this supervisor, made again after each restart
    /// (at most [`MAX_REMEMBERED_GRANTS`], oldest first; ids as the current process knows them).
    grants: Mutex<Vec<Grant>>,
}

impl Shared {
    /// The host log.
    pub(super) fn log(&self) -> &HostLog {
        &self.config.sidecar.log
    }

    /// Enter `next`: log it, publish it on the watch and (without waiting) as an event.
    pub(super) fn set_state(&self, next: SidecarState) {
        let from = self.state.borrow().name();
        if from != next.name() && !from.can_move_to(next.name()) {
            // A bug in the actor: say so loudly in the log, but keep the truth visible.
            self.log().host(0, &format!("BUG: illegal state move {from:?} -> {:?}", next.name()));
        }
        let pid = self.current_pid().unwrap_or(0);
        self.log().host(pid, &format!("state {}", next.describe()));
        self.state.send_replace(next.clone());
        // State events never block the actor; a consumer 'event_capacity' behind loses some
        // (the watch keeps the latest).
        let _ = self.events.try_send(SupervisorEvent::State(next));
    }

    /// The current process, while there is one.
    pub(super) fn current(&self) -> Option<SidecarProcess> {
        self.current.read().expect("current").clone()
    }

    /// The current process's pid.
    fn current_pid(&self) -> Option<u32> {
        self.current().map(|p| p.pid())
    }

    /// Replace the current process.
    pub(super) fn set_current(&self, process: Option<SidecarProcess>) {
        *self.current.write().expect("current") = process;
    }

    /// Remember a grant to make again after a restart (replacing one for the same path and mode).
    fn remember_grant(&self, grant: &Grant) {
        let mut grants = self.grants.lock().expect("grants");
        grants.retain(|g| !(g.path == grant.path && g.mode == grant.mode));
        if grants.len() == MAX_REMEMBERED_GRANTS {
            let oldest = grants.remove(0);
            self.log().host(
                0,
                &format!(
                    "grant of {} no longer remembered for restarts (the oldest of {MAX_REMEMBERED_GRANTS})",
                    oldest.path.display()
                ),
            );
        }
        grants.push(grant.clone());
    }

    /// Make the remembered grants again in a new process (before it is announced ready).
    /// A grant the new process refuses (the file is gone, say) is forgotten, and the log says so.
    pub(super) async fn replay_grants(&self, process: &SidecarProcess) {
        let remembered: Vec<Grant> = self.grants.lock().expect("grants").clone();
        if remembered.is_empty() {
            return;
        }
        let mut renewed = Vec::with_capacity(remembered.len());
        for old in remembered {
            match process.grant_path(&old.path, old.mode).await {
                Ok(grant) => renewed.push(grant),
                Err(err) => self.log().host(
                    process.pid(),
                    &format!(
                        "grant of {} ({}) not made again after the restart: {err}",
                        old.path.display(),
                        old.mode.as_str()
                    ),
                ),
            }
        }
        self.log().host(process.pid(), &format!("{} grant(s) made again after the restart", renewed.len()));
        *self.grants.lock().expect("grants") = renewed;
    }
}

/// Runs and supervises the sidecar. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> sidecar_host::Result<()> {
/// use std::time::Duration;
/// use sidecar_host::{HeartbeatPolicy, SidecarConfig, Supervisor, SupervisorConfig, SupervisorEvent};
///
/// let program = sidecar_host::sidecar_path_beside_current_exe("sidecar")?;
/// let sidecar = SidecarConfig::new(program).args(["--heartbeat-interval", "2"]);
/// let config = SupervisorConfig::new(sidecar)
///     .heartbeat(HeartbeatPolicy { interval: Duration::from_secs(2), missed: 3 });
/// let (supervisor, mut events) = Supervisor::start(config);
/// tokio::spawn(async move {
///     while let Some(event) = events.recv().await {
///         if let SupervisorEvent::Notification { method, params } = event { println!("{method} {params}"); }
///     }
/// });
/// supervisor.wait_ready(Duration::from_secs(20)).await?;
/// let pong = supervisor.call("system.ping", None).await?;
/// supervisor.stop().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Supervisor {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").field("state", &*self.shared.state.borrow()).finish()
    }
}

impl Supervisor {
    /// Start supervising: spawns the first process in the background and
    /// returns at once. Must be called inside a tokio runtime.
    ///
    /// The receiver carries state changes and notifications; keep draining it
    /// (a full channel pauses stdout reading, which pauses the sidecar).
    pub fn start(config: SupervisorConfig) -> (Supervisor, mpsc::Receiver<SupervisorEvent>) {
        let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_CAPACITY);
        let initial = SidecarState::Starting { attempt: 0, program: config.sidecar.program.display().to_string() };
        let shared = Arc::new(Shared {
            config,
            current: RwLock::new(None),
            state: watch::channel(initial).0,
            events: events_tx,
            restarts: Mutex::new(0),
            started: Instant::now(),
            grants: Mutex::new(Vec::new()),
        });
        tokio::spawn(run(shared.clone(), commands_rx));
        (Supervisor { shared, commands: commands_tx }, events_rx)
    }

    /// The current state.
    pub fn state(&self) -> SidecarState {
        self.shared.state.borrow().clone()
    }

    /// Follow the latest state.
    pub fn subscribe_state(&self) -> watch::Receiver<SidecarState> {
        self.shared.state.subscribe()
    }

    /// Follow the log live (stderr lines and host messages).
    pub fn subscribe_logs(&self) -> tokio::sync::broadcast::Receiver<LogLine> {
        self.shared.log().subscribe()
    }

    /// The host log (to add the app's own messages to it).
    pub fn log(&self) -> &HostLog {
        self.shared.log()
    }

    /// The log file, if one is written.
    pub fn log_path(&self) -> Option<std::path::PathBuf> {
        self.shared.log().path()
    }

    /// The running process, while there is one.
    pub fn process(&self) -> Option<SidecarProcess> {
        self.shared.current()
    }

    /// A snapshot for status displays.
    pub fn status(&self) -> SidecarStatus {
        let process = self.shared.current();
        let heartbeat = process.as_ref().and_then(|p| p.last_heartbeat());
        SidecarStatus {
            state: self.state(),
            pid: process.as_ref().map(|p| p.pid()),
            engine_pid: process.as_ref().and_then(|p| p.engine_pid()),
            restarts: *self.shared.restarts.lock().expect("restarts"),
            last_heartbeat_seq: heartbeat.map(|(seq, _)| seq),
            last_heartbeat_ms_ago: heartbeat.map(|(_, ago)| ago.as_millis() as u64),
            log_file: self.log_path().map(|p| p.display().to_string()),
            uptime_ms: self.shared.started.elapsed().as_millis() as u64,
        }
    }

    /// Wait until the state is `ready` (Ok) or `failed`/`stopped` (the error), at most `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let mut state = self.subscribe_state();
        let outcome = tokio::time::timeout(timeout, async {
            let state = state
                .wait_for(|s| matches!(s.name(), StateName::Ready | StateName::Failed | StateName::Stopped))
                .await
                .map_err(|_| Error::SupervisorGone)?;
            match &*state {
                SidecarState::Ready { .. } => Ok(()),
                other => Err(Error::NotRunning { state: other.describe() }),
            }
        })
        .await;
        outcome.unwrap_or_else(|_| Err(Error::NotRunning { state: self.state().describe() }))
    }

    /// Call `method` on the current sidecar with the default timeout.
    ///
    /// Fails at once with [`Error::NotRunning`] unless the state is `ready`.
    pub async fn call(&self, method: &str, params: Option<Value>) -> Result<Value> {
        self.call_with_timeout(method, params, self.shared.config.sidecar.call_timeout).await
    }

    /// Call `method` with an explicit timeout.
    pub async fn call_with_timeout(&self, method: &str, params: Option<Value>, timeout: Duration) -> Result<Value> {
        self.ready_process()?.call_with_timeout(method, params, timeout).await
    }

    /// Call `method` and get the result's JSON text as the sidecar sent it (host key
    /// masked), without decoding it: for passing a result on (to a webview) unchanged.
    pub async fn call_raw(&self, method: &str, params: Option<Value>, timeout: Duration) -> Result<RawJson> {
        self.ready_process()?.call_raw(method, params, timeout).await
    }

    /// The default per-call timeout (the sidecar config's `call_timeout`).
    pub fn call_timeout(&self) -> Duration {
        self.shared.config.sidecar.call_timeout
    }

    /// Call a host-only method (the host key is added to `params`, an object or `None`)
    /// on the current sidecar with the default timeout. For the host's own code only:
    /// never forward an untrusted caller's method or params here.
    pub async fn call_host(&self, method: &str, params: Option<Value>) -> Result<Value> {
        self.ready_process()?.call_host(method, params).await
    }

    /// Let the engine read (`Read`: ingest) or write (`Write`: export) `path`, a file or a
    /// folder, through `files.grant`; returns the grant with the path as the sidecar
    /// resolved it. The supervisor remembers it and makes it again after a restart.
    pub async fn grant_path(&self, path: impl AsRef<std::path::Path>, mode: GrantMode) -> Result<Grant> {
        let process = self.ready_process()?;
        let grant = process.grant_path(path.as_ref(), mode).await?;
        self.shared.remember_grant(&grant);
        self.shared.log().host(
            process.pid(),
            &format!("granted {} {} ({:?}, {})", mode.as_str(), grant.path.display(), grant.kind, grant.grant_id),
        );
        Ok(grant)
    }

    /// Revoke a grant (`files.revoke`) and forget it for restarts; true if the sidecar had it.
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<bool> {
        let revoked = self.ready_process()?.revoke_grant(grant_id).await?;
        self.shared.grants.lock().expect("grants").retain(|g| g.grant_id != grant_id);
        self.shared.log().host(0, &format!("revoked grant {grant_id} (the sidecar had it: {revoked})"));
        Ok(revoked)
    }

    /// The grants made through this supervisor that are still in force.
    pub fn grants(&self) -> Vec<Grant> {
        self.shared.grants.lock().expect("grants").clone()
    }

    /// The current process if the state is `ready`, else [`Error::NotRunning`].
    fn ready_process(&self) -> Result<SidecarProcess> {
        match (self.shared.current(), self.state()) {
            (Some(process), SidecarState::Ready { .. }) => Ok(process),
            (_, state) => Err(Error::NotRunning { state: state.describe() }),
        }
    }

    /// Stop the current process (gracefully) and start a new one; resets the
    /// restart budget. Returns once the old process is gone; follow the state
    /// for the new one.
    pub async fn restart(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Restart(tx)).await.map_err(|_| Error::SupervisorGone)?;
        rx.await.map_err(|_| Error::SupervisorGone)
    }

    /// Stop for good: the graceful stop sequence, then the state `stopped`.
    /// Returns how the last process ended (None if none was running).
    /// Calling it again is harmless.
    pub async fn stop(&self) -> Option<StopReport> {
        self.stop_with_reason("stopped by the host").await
    }

    /// [`stop`](Self::stop) with a reason shown in the state and the log.
    pub async fn stop_with_reason(&self, reason: &str) -> Option<StopReport> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(reason.to_owned(), tx)).await.is_err() {
            return None; // already stopped
        }
        rx.await.ok().flatten()
    }
}
