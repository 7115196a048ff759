//! The supervisor's states and the table of allowed moves between them.
//!
//! ```text
//!   STARTING --ready--> READY --exit/hung--> RESTARTING --delay--> STARTING
//!      |                  |                       |
//!      +--start error-----+----------------> FAILED (budget spent, or a missing binary)
//!   any --stop--> STOPPING --> STOPPED;  FAILED/STOPPED --restart--> STARTING
//! ```
//! An illegal move is a bug in the supervisor: it returns [`IllegalTransition`].

use serde::Serialize;

/// The name of a state, without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    /// Spawned, waiting for READY.
    Starting,
    /// READY seen; calls are served.
    Ready,
    /// Waiting before the next start after an exit, a hang or a start error.
    Restarting,
    /// Running the stop sequence.
    Stopping,
    /// Stopped by the host.
    Stopped,
    /// Gave up (restart budget spent, or an error a restart cannot fix).
    Failed,
}

impl StateName {
    /// Whether the table allows moving from `self` to `to`.
    pub fn can_move_to(self, to: StateName) -> bool {
        use StateName::*;
        matches!(
            (self, to),
            (Starting, Ready | Restarting | Failed | Stopping)
                | (Ready, Restarting | Stopping | Failed)
                | (Restarting, Starting | Failed | Stopping)
                | (Stopping, Stopped)
                | (Failed, Starting | Stopping)
                | (Stopped, Starting)
        )
    }

    /// The lower-case name used in events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Starting => "starting",
            StateName::Ready => "ready",
            StateName::Restarting => "restarting",
            StateName::Stopping => "stopping",
            StateName::Stopped => "stopped",
            StateName::Failed => "failed",
        }
    }
}

/// A move the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal sidecar state move {from:?} -> {to:?}")]
pub struct IllegalTransition {
    /// The state the supervisor was in.
    pub from: StateName,
    /// The state it tried to enter.
    pub to: StateName,
}

/// The supervisor's state with the details a UI shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SidecarState {
    /// Spawned (or about to be), waiting for READY.
    Starting {
        /// 0 for the first start, n for the n-th automatic restart in the window.
        attempt: u32,
        /// The program being started.
        program: String,
    },
    /// READY seen; calls are served.
    Ready {
        /// The pid the host spawned (a onefile bootstrap under a packager).
        pid: u32,
        /// The engine's own pid from BOOT (`pid=`), when given.
        engine_pid: Option<u32>,
        /// The sidecar version from BOOT.
        version: Option<String>,
        /// Milliseconds from spawn to READY.
        startup_ms: u64,
    },
    /// Waiting before the next start.
    Restarting {
        /// The restart number within the window (1-based).
        attempt: u32,
        /// Why (the exit status and stderr tail, the hang, the start error, or a request).
        reason: String,
        /// The delay before the start, in milliseconds.
        delay_ms: u64,
    },
    /// Running the stop sequence.
    Stopping {
        /// Why the host is stopping it.
        reason: String,
    },
    /// Stopped by the host.
    Stopped {
        /// Why, and how it ended.
        reason: String,
    },
    /// Gave up.
    Failed {
        /// The error's stable name (see [`crate::Error::kind`]).
        kind: String,
        /// The error's full, actionable message.
        error: String,
    },
}

impl SidecarState {
    /// The state's name.
    pub fn name(&self) -> StateName {
        match self {
            SidecarState::Starting { .. } => StateName::Starting,
            SidecarState::Ready { .. } => StateName::Ready,
            SidecarState::Restarting { .. } => StateName::Restarting,
            SidecarState::Stopping { .. } => StateName::Stopping,
            SidecarState::Stopped { .. } => StateName::Stopped,
            SidecarState::Failed { .. } => StateName::Failed,
        }
    }

    /// One line for logs: the name and its main detail.
    pub fn describe(&self) -> String {
        match self {
            SidecarState::Starting { attempt, program } => format!("starting (attempt {attempt}): {program}"),
            SidecarState::Ready { pid, engine_pid, version, startup_ms } => format!(
                "ready: pid {pid}, engine pid {}, version {}, READY after {startup_ms} ms",
                engine_pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                version.as_deref().unwrap_or("?")
            ),
            SidecarState::Restarting { attempt, reason, delay_ms } => {
                format!("restarting (restart {attempt}) in {delay_ms} ms: {reason}")
            }
            SidecarState::Stopping { reason } => format!("stopping: {reason}"),
            SidecarState::Stopped { reason } => format!("stopped: {reason}"),
            SidecarState::Failed { kind, error } => format!("failed ({kind}): {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StateName::*;
    use super::*;

    #[test]
    fn the_table() {
        assert!(Starting.can_move_to(Ready));
        assert!(Ready.can_move_to(Restarting));
        assert!(Restarting.can_move_to(Starting));
        assert!(Failed.can_move_to(Starting));
        assert!(Stopping.can_move_to(Stopped));
        assert!(!Stopped.can_move_to(Ready));
        assert!(!Ready.can_move_to(Starting));
        assert!(!Stopping.can_move_to(Ready));
        assert!(!Ready.can_move_to(Ready));
    }

    #[test]
    fn states_serialize_with_a_tag() {
        let state = SidecarState::Failed { kind: "binary_not_found".into(), error: "x".into() };
        assert_eq!(
            serde_json::to_value(&state).unwrap(),
            serde_json::json!({"state": "failed", "kind": "binary_not_found", "error": "x"})
        );
    }
}
