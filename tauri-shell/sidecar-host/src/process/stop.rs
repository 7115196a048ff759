//! Stopping a sidecar: one escalation ladder, each rung only if the ones
//! before it did not end the process, each bounded by its timeout in
//! [`StopTimeouts`]:
//!
//! 1. `system.shutdown` (the sidecar finishes its work and exits),
//! 2. close stdin (it answers with `SHUTDOWN reason=normal`),
//! 3. SIGTERM to the process (Unix; on Windows the rung only waits),
//! 4. SIGKILL of the whole process group (Windows: `TerminateJobObject`).
//!
//! [`SidecarProcess::stop`] climbs it from rung 1, [`SidecarProcess::terminate`]
//! (for a hung process that cannot answer) from rung 3. Either way the
//! process tree (group or job) is swept afterwards, so no grandchild outlives a stop.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::child::SidecarProcess;
use super::{StopTimeouts, PIPE_DRAIN_TIMEOUT};
use crate::error::ExitStatus;

/// Which stop step ended the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopStep {
    /// It had already exited.
    AlreadyExited,
    /// It exited after `system.shutdown`.
    ShutdownRequest,
    /// It exited after its stdin was closed.
    StdinClose,
    /// It exited after SIGTERM.
    Sigterm,
    /// It had to be killed (SIGKILL of the process group).
    Sigkill,
}

/// How a stop went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReport {
    /// The step that ended it.
    pub step: StopStep,
    /// Its exit status (None if it could not even be reaped).
    pub status: Option<ExitStatus>,
    /// The reason on its SHUTDOWN line, if any.
    pub shutdown_reason: Option<String>,
    /// How long stopping took.
    pub elapsed: Duration,
}

/// One rung of the stop ladder.
struct Rung {
    /// The step it takes.
    step: StopStep,
    /// What it does, for the log line that starts it.
    action: &'static str,
    /// What it did, for the next rung's log line ("no exit after ...").
    done: &'static str,
}

/// The stop ladder, gentlest rung first.
const LADDER: [Rung; 4] = [
    Rung { step: StopStep::ShutdownRequest, action: "system.shutdown", done: "system.shutdown" },
    Rung { step: StopStep::StdinClose, action: "closing stdin", done: "stdin close" },
    Rung { step: StopStep::Sigterm, action: "SIGTERM", done: "SIGTERM" },
    Rung { step: StopStep::Sigkill, action: "SIGKILL of the process group", done: "SIGKILL" },
];

impl SidecarProcess {
    /// Stop gracefully, escalating step by step (see the module docs); each
    /// step and the outcome go to the host log.
    pub async fn stop(&self) -> StopReport {
        let report = self.climb_ladder(StopStep::ShutdownRequest, |message| self.inner.log_host(message)).await;
        self.inner.log_host(&format!(
            "stopped by step {:?} in {} ms: {}, SHUTDOWN reason {}",
            report.step,
            report.elapsed.as_millis(),
            report.status.map(|s| s.to_string()).unwrap_or_else(|| "not reaped".into()),
            report.shutdown_reason.as_deref().unwrap_or("(none)")
        ));
        report
    }

    /// Stop a hung process without asking it: SIGTERM, then SIGKILL of the group.
    pub async fn terminate(&self) -> StopReport {
        self.climb_ladder(StopStep::Sigterm, |_| {}).await
    }

    /// Climb [`LADDER`] from the rung `first` until the process exits, then
    /// close stdin and sweep the process group; `log` gets one line per rung.
    async fn climb_ladder(&self, first: StopStep, log: impl Fn(&str)) -> StopReport {
        let started = Instant::now();
        let mut step = StopStep::AlreadyExited;
        if self.is_running() {
            let limits = self.inner.config.stop_timeouts;
            let mut previous: Option<&Rung> = None;
            for rung in LADDER.iter().skip_while(|rung| rung.step != first) {
                step = rung.step;
                match previous {
                    None => log(&format!("stop: {}", rung.action)),
                    Some(before) => log(&format!("stop: no exit after {}; {}", before.done, rung.action)),
                }
                let limit = self.take_step(rung.step, &limits).await;
                if self.wait_exit(limit).await {
                    break;
                }
                previous = Some(rung);
            }
        }
        self.close_stdin().await;
        if self.group_alive() {
            log("stop: the leader is gone but its process group is not; SIGKILL of the group");
            self.kill_group();
        }
        StopReport {
            step,
            status: self.exit_status(),
            shutdown_reason: self.shutdown_reason(),
            elapsed: started.elapsed(),
        }
    }

    /// Take one stop step; returns how long to wait for the exit after it.
    async fn take_step(&self, step: StopStep, limits: &StopTimeouts) -> Duration {
        match step {
            StopStep::AlreadyExited => Duration::ZERO,
            StopStep::ShutdownRequest => {
                // Its answer bounds the wait as much as the exit after it does.
                let _ = self.call_raw("system.shutdown", None, limits.shutdown_request).await;
                limits.shutdown_request
            }
            StopStep::StdinClose => {
                self.close_stdin().await;
                limits.stdin_close
            }
            StopStep::Sigterm => {
                if self.is_running() {
                    self.inner.tree.terminate(); // Unix: SIGTERM to the leader; Windows: none (the next step kills)
                }
                limits.sigterm
            }
            StopStep::Sigkill => {
                self.kill_group();
                limits.sigkill
            }
        }
    }

    /// Close the sidecar's stdin (it answers with `SHUTDOWN reason=normal`).
    pub async fn close_stdin(&self) {
        if let Some(mut pipe) = self.inner.stdin.lock().await.take() {
            let _ = pipe.shutdown().await;
        }
    }

    /// Wait until the process is reaped and its stdout is read to the end
    /// (bounded by [`PIPE_DRAIN_TIMEOUT`] after the exit); returns false on timeout.
    pub async fn wait_exit(&self, timeout: Duration) -> bool {
        let mut exited = self.inner.exited.subscribe();
        if tokio::time::timeout(timeout, exited.wait_for(|e| e.is_some())).await.is_err() {
            return false;
        }
        let mut closed = self.inner.stdout_closed.subscribe();
        let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, closed.wait_for(|c| *c)).await;
        true
    }

    /// Wait, without limit, until the process has been reaped; returns its status.
    pub async fn exited(&self) -> Option<ExitStatus> {
        let mut exited = self.inner.exited.subscribe();
        let status = match exited.wait_for(|e| e.is_some()).await {
            Ok(value) => value.flatten(),
            Err(_) => None,
        };
        status
    }

    /// Send a signal to the process itself (Unix; ignored once it was reaped).
    #[cfg(unix)]
    pub fn send_signal(&self, signal: i32) {
        if self.is_running() {
            crate::platform::signal(self.inner.pid, signal);
        }
    }

    /// Kill the whole process tree (a onefile bootstrap and its child): SIGKILL of
    /// the process group on Unix, `TerminateJobObject` on Windows.
    ///
    /// Also sweeps a tree whose leader is already gone (an orphaned engine
    /// would keep the data dir locked). Where no tree could be made (a Windows
    /// that refused the job object; the host log says so): kills the process itself.
    pub fn kill_group(&self) {
        if !self.inner.tree.kill() {
            let _ = self.inner.kill.try_send(());
        }
    }

    /// Whether any process of its tree (process group, job) is still alive; where
    /// no tree could be made, whether the process itself is.
    pub fn group_alive(&self) -> bool {
        self.inner.tree.alive().unwrap_or_else(|| self.is_running())
    }
}
