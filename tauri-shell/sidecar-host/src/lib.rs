//! Host side of the sidecar protocol, for Rust apps (the Tauri shell uses it;
//! it does not depend on tauri).
//!
//! * [`protocol`]: the wire protocol without I/O (line splitter, lifecycle
//!   lines, JSON-RPC 2.0 codec), tested against the shared vectors.
//! * [`SidecarProcess`]: one running sidecar on tokio::process: READY with a
//!   timeout, calls with per-call timeouts, notifications on a bounded
//!   channel, the graceful stop sequence.
//! * [`Supervisor`]: keeps one alive: heartbeat watch, restarts with
//!   exponential backoff within a budget, state changes as events.
//!
//! Every failure is one [`Error`] with an actionable message.

#![warn(missing_docs)]

mod error;
mod process;
pub mod protocol;

pub use error::{Error, ExitStatus, Result};
pub use process::*;
