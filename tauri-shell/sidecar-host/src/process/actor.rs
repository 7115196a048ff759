//! The supervisor's actor: the one task that owns the lifecycle. It starts
//! a process, waits for READY, watches exits and heartbeats, restarts with
//! backoff within the budget or gives up, and carries out the handle's
//! restart and stop commands.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::child::SidecarProcess;
use super::events::ProcessEvent;
use super::state::SidecarState;
use super::stop::StopReport;
use super::supervisor::{Command, Shared, SupervisorEvent};
use super::ERROR_STDERR_TAIL_LINES;
use crate::error::Error;

/// Heartbeat checks per heartbeat interval (a hang is seen at most half an interval late).
const HEARTBEAT_CHECKS_PER_INTERVAL: u32 = 2;
/// The shortest time between two heartbeat checks (a tiny interval must not spin the actor).
const MIN_HEARTBEAT_CHECK: Duration = Duration::from_millis(50);
/// The actor's tick with no heartbeat watch (it only wakes for exits and commands).
const IDLE_TICK: Duration = Duration::from_secs(3600);

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

/// The actor: runs until a stop command (or every handle is dropped).
pub(super) async fn run(shared: Arc<Shared>, mut commands: mpsc::Receiver<Command>) {
    let mut budget = Budget::new();
    let mut attempt = 0u32;
    loop {
        let program = shared.config.sidecar.program.display().to_string();
        shared.set_state(SidecarState::Starting { attempt, program });
        let failure = match SidecarProcess::spawn(shared.config.sidecar.clone()).await {
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
    // Before READY is announced, so no caller finds a granted path refused after a restart.
    shared.replay_grants(process).await;
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

/// Stop for good: the stop ladder if a process runs, then the state `stopped`, then answer.
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
