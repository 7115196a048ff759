//! Keeps one sidecar alive: start, READY, heartbeat watch, restart with
//! exponential backoff within a budget, graceful stop.
//!
//! One task (the actor) owns the lifecycle and takes commands (restart, stop)
//! over a channel; calls go straight to the current process, so a slow call
//! never delays a stop. State changes go to a `watch` (latest state) and, with
//! notifications, to one bounded event channel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::child::SidecarProcess;
use super::events::ProcessEvent;
use super::state::{SidecarState, StateName};
use super::stop::StopReport;
use super::{HostLog, LogLine, SupervisorConfig, ERROR_STDERR_TAIL_LINES};
use crate::error::{Error, Result};

/// Commands that may wait for the actor (restart and stop requests are rare).
const COMMAND_CAPACITY: usize = 8;
/// Heartbeat checks per heartbeat interval (a hang is seen at most half an interval late).
const HEARTBEAT_CHECKS_PER_INTERVAL: u32 = 2;
/// The shortest time between two heartbeat checks (a tiny interval must not spin the actor).
const MIN_HEARTBEAT_CHECK: Duration = Duration::from_millis(50);
/// The actor's tick with no heartbeat watch (it only wakes for exits and commands).
const IDLE_TICK: Duration = Duration::from_secs(3600);

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

enum Command {
    Restart(oneshot::Sender<()>),
    Stop(String, oneshot::Sender<Option<StopReport>>),
}

struct Shared {
    config: SupervisorConfig,
    current: RwLock<Option<SidecarProcess>>,
    state: watch::Sender<SidecarState>,
    events: mpsc::Sender<SupervisorEvent>,
    restarts: Mutex<u32>,
    started: Instant,
}

impl Shared {
    fn log(&self) -> &HostLog {
        &self.config.sidecar.log
    }

    fn set_state(&self, next: SidecarState) {
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

    fn current(&self) -> Option<SidecarProcess> {
        self.current.read().expect("current").clone()
    }

    fn current_pid(&self) -> Option<u32> {
        self.current().map(|p| p.pid())
    }

    fn set_current(&self, process: Option<SidecarProcess>) {
        *self.current.write().expect("current") = process;
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
        let process = match (self.shared.current(), self.state()) {
            (Some(process), SidecarState::Ready { .. }) => process,
            (_, state) => return Err(Error::NotRunning { state: state.describe() }),
        };
        process.call_with_timeout(method, params, timeout).await
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

/// Automatic restarts counted in a sliding window.
struct Budget {
    times: VecDeque<Instant>,
}

impl Budget {
    /// A budget with no restart spent.
    fn new() -> Self {
        Budget { times: VecDeque::new() }
    }

    /// The delay before the next restart, or None when the budget is spent.
    fn next_delay(&mut self, shared: &Shared) -> Option<(u32, Duration)> {
        let policy = shared.config.restart;
        let now = Instant::now();
        while self.times.front().is_some_and(|t| now.duration_since(*t) > policy.window) {
            self.times.pop_front();
        }
        if self.times.len() as u32 >= policy.max_restarts {
            return None;
        }
        let n = self.times.len() as u32;
        self.times.push_back(now);
        *shared.restarts.lock().expect("restarts") += 1;
        Some((n + 1, policy.backoff(n)))
    }

    /// Forget the restarts made so far (the host asked for a restart).
    fn reset(&mut self) {
        self.times.clear();
    }
}

/// How one process's run ended.
enum Outcome {
    /// It never became ready (it exited, or printed no READY in time).
    NotReady(Error),
    /// It exited after READY (the text says how).
    Exited(String),
    /// It was declared hung.
    Hung(Error),
    /// The host asked for a restart.
    Restart(oneshot::Sender<()>),
    /// The host asked for a stop.
    Stop(String, oneshot::Sender<Option<StopReport>>),
}

impl From<Command> for Outcome {
    fn from(command: Command) -> Self {
        match command {
            Command::Restart(reply) => Outcome::Restart(reply),
            Command::Stop(reason, reply) => Outcome::Stop(reason, reply),
        }
    }
}

/// After a failure: what the actor does next.
enum Next {
    /// Start again; `attempt` is the restart number within the window (0 after a requested restart).
    Start { attempt: u32 },
    /// The supervisor is done.
    Quit,
}

async fn run(shared: Arc<Shared>, mut commands: mpsc::Receiver<Command>) {
    let mut budget = Budget::new();
    let mut attempt = 0u32;
    loop {
        let program = shared.config.sidecar.program.display().to_string();
        shared.set_state(SidecarState::Starting { attempt, program });
        let failure = match SidecarProcess::spawn(shared.config.sidecar.clone()) {
            Err(err) => err,
            Ok((process, events)) => {
                shared.set_current(Some(process.clone()));
                tokio::spawn(forward(shared.clone(), events));
                match run_process(&shared, &process, &mut commands).await {
                    Outcome::Stop(reason, reply) => return stop_and_quit(&shared, Some(process), reason, reply).await,
                    Outcome::Restart(reply) => {
                        restart_on_request(&shared, &process, reply).await;
                        budget.reset();
                        attempt = 0;
                        continue;
                    }
                    Outcome::NotReady(err) => {
                        shared.set_current(None);
                        err
                    }
                    Outcome::Exited(reason) => {
                        shared.set_current(None);
                        Error::SidecarExited {
                            method: reason,
                            status: process.exit_status(),
                            stderr_tail: process.stderr_tail(ERROR_STDERR_TAIL_LINES),
                        }
                    }
                    Outcome::Hung(err) => {
                        let pid = process.pid();
                        shared.log().host(pid, &err.to_string());
                        let report = process.terminate().await;
                        shared.log().host(pid, &format!("hung sidecar ended by {:?}", report.step));
                        shared.set_current(None);
                        err
                    }
                }
            }
        };
        // Something failed: restart with backoff, or give up.
        match after_failure(&shared, &mut commands, &mut budget, failure).await {
            Next::Start { attempt: next } => attempt = next,
            Next::Quit => return,
        }
    }
}

/// Wait for READY (unless a command comes first), then watch the ready process.
async fn run_process(shared: &Shared, process: &SidecarProcess, commands: &mut mpsc::Receiver<Command>) -> Outcome {
    tokio::select! {
        ready = process.wait_ready() => {
            if let Err(err) = ready {
                return Outcome::NotReady(err);
            }
        }
        Some(command) = commands.recv() => return command.into(),
    }
    shared.set_state(SidecarState::Ready {
        pid: process.pid(),
        engine_pid: process.engine_pid(),
        version: process.version(),
        startup_ms: process.startup_time().unwrap_or_default().as_millis() as u64,
    });
    supervise(shared, process, commands).await
}

/// The host asked for a restart: stop the process gracefully, then answer.
async fn restart_on_request(shared: &Shared, process: &SidecarProcess, reply: oneshot::Sender<()>) {
    shared.set_state(SidecarState::Restarting { attempt: 0, reason: "restart requested".into(), delay_ms: 0 });
    process.stop().await;
    shared.set_current(None);
    let _ = reply.send(());
}

/// Decide and wait after a failure; returns whether to start again.
async fn after_failure(
    shared: &Shared,
    commands: &mut mpsc::Receiver<Command>,
    budget: &mut Budget,
    failure: Error,
) -> Next {
    let reason = match &failure {
        Error::SidecarExited { status, stderr_tail, .. } => format!(
            "the sidecar exited unexpectedly ({}); last stderr line: {:?}",
            status.map(|s| s.to_string()).unwrap_or_else(|| "status unknown".into()),
            stderr_tail.last().map(String::as_str).unwrap_or("(none)")
        ),
        other => other.to_string(),
    };
    let delay = if failure.is_retryable() { budget.next_delay(shared) } else { None };
    match delay {
        Some((attempt, delay)) => {
            shared.set_state(SidecarState::Restarting { attempt, reason, delay_ms: delay.as_millis() as u64 });
            tokio::select! {
                _ = tokio::time::sleep(delay) => Next::Start { attempt },
                command = commands.recv() => on_command_while_down(shared, budget, command).await,
            }
        }
        None => {
            let error = if failure.is_retryable() && shared.config.restart.max_restarts > 0 {
                let policy = shared.config.restart;
                Error::RestartLimit { restarts: budget.times.len() as u32, window: policy.window, last_error: reason }
            } else {
                failure
            };
            shared.set_state(SidecarState::Failed { kind: error.kind().to_owned(), error: error.to_string() });
            // Failed: wait for the host to ask for a restart or a stop.
            let command = commands.recv().await;
            on_command_while_down(shared, budget, command).await
        }
    }
}

/// A command that came while no process runs (`None`: every handle was dropped).
async fn on_command_while_down(shared: &Shared, budget: &mut Budget, command: Option<Command>) -> Next {
    match command {
        Some(Command::Restart(reply)) => {
            let _ = reply.send(());
            budget.reset();
            Next::Start { attempt: 0 }
        }
        Some(Command::Stop(reason, reply)) => {
            stop_and_quit(shared, None, reason, reply).await;
            Next::Quit
        }
        None => Next::Quit,
    }
}

/// Watch a ready process until it exits, hangs, or a command arrives.
async fn supervise(shared: &Shared, process: &SidecarProcess, commands: &mut mpsc::Receiver<Command>) -> Outcome {
    let heartbeat = shared.config.heartbeat;
    let tick =
        heartbeat.map(|h| (h.interval / HEARTBEAT_CHECKS_PER_INTERVAL).max(MIN_HEARTBEAT_CHECK)).unwrap_or(IDLE_TICK);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            status = process.exited() => {
                // Let the stdout reader finish (SHUTDOWN line, last answers).
                process.wait_exit(Duration::ZERO).await;
                return Outcome::Exited(format!("pid {} exited with {}", process.pid(), status.map(|s| s.to_string()).unwrap_or_else(|| "unknown status".into())));
            }
            _ = ticker.tick() => {
                if let Some(policy) = heartbeat {
                    let silent = process.silent_for();
                    if silent > policy.limit() {
                        return Outcome::Hung(Error::Hung { silent_for: silent, limit: policy.limit() });
                    }
                }
            }
            command = commands.recv() => match command {
                Some(command) => return command.into(),
                None => return Outcome::Stop("the supervisor handle was dropped".into(), oneshot::channel().0),
            },
        }
    }
}

async fn stop_and_quit(
    shared: &Shared,
    process: Option<SidecarProcess>,
    reason: String,
    reply: oneshot::Sender<Option<StopReport>>,
) {
    shared.set_state(SidecarState::Stopping { reason: reason.clone() });
    let report = match process {
        Some(process) => Some(process.stop().await),
        None => None,
    };
    shared.set_current(None);
    let how = match &report {
        Some(r) => format!(
            "{reason}; ended by {:?} ({}) in {} ms",
            r.step,
            r.status.map(|s| s.to_string()).unwrap_or_else(|| "not reaped".into()),
            r.elapsed.as_millis()
        ),
        None => reason,
    };
    shared.set_state(SidecarState::Stopped { reason: how });
    let _ = reply.send(report);
}

/// Forward one process's notifications to the supervisor's channel.
async fn forward(shared: Arc<Shared>, mut events: mpsc::Receiver<ProcessEvent>) {
    while let Some(event) = events.recv().await {
        if let ProcessEvent::Notification { method, params } = event {
            if shared.events.send(SupervisorEvent::Notification { method, params }).await.is_err() {
                break; // nobody listens any more
            }
        }
    }
}
