//! Starting a sidecar: take the launch lock, spawn it with piped stdio as its
//! own process tree (a process group on Unix, a job object on Windows), start
//! its reader tasks and its reaper, and wait for READY.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use super::child::{Inner, SidecarProcess};
use super::events::ProcessEvent;
use super::host_key::{HostKey, HOST_KEY_ENV};
use super::launch_lock;
use super::log::StderrRing;
use super::path::check_executable;
use super::readers::{read_stderr, read_stdout};
use super::{SidecarConfig, ERROR_STDERR_TAIL_LINES, PIPE_DRAIN_TIMEOUT};
use crate::error::{Error, ExitStatus, Result};
use crate::platform::{self, ProcessTree};

/// Requests to kill the process that may wait for the reaper (one is enough).
const KILL_REQUEST_CAPACITY: usize = 1;

impl SidecarProcess {
    /// Spawn and wait for READY (see [`spawn`](Self::spawn) and [`wait_ready`](Self::wait_ready)).
    pub async fn start(config: SidecarConfig) -> Result<(SidecarProcess, mpsc::Receiver<ProcessEvent>)> {
        let (process, events) = Self::spawn(config).await?;
        process.wait_ready().await?;
        Ok((process, events))
    }

    /// Spawn the process with piped stdio as its own process tree; does not wait for READY.
    ///
    /// First takes the config's [`LaunchLock`](super::LaunchLock) (waiting at most
    /// `launch_lock_wait` for another launch to print BOOT); it is released when this
    /// process prints BOOT, exits or closes stdout before it, when
    /// [`wait_ready`](Self::wait_ready) fails, or after `ready_timeout` at the latest.
    ///
    /// Must be called inside a tokio runtime. Fails with
    /// [`Error::BinaryNotFound`] (naming the path) when the program cannot be run.
    pub async fn spawn(config: SidecarConfig) -> Result<(SidecarProcess, mpsc::Receiver<ProcessEvent>)> {
        let program = check_executable(&config.program)?;
        // A fresh key per process: a key a crashed sidecar knew is worth nothing to the next one.
        let host_key =
            HostKey::generate().map_err(|e| Error::SpawnFailed { path: program.clone(), reason: e.to_string() })?;
        // Held until BOOT; dropped (released) on the error returns below.
        let lock = launch_lock::acquire(&config.launch_lock, &config.app_name, config.launch_lock_wait).await;
        let mut command = Command::new(&program);
        command
            .args(&config.args)
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            // After the config's variables, so neither they nor the host's own environment can set it.
            .env(HOST_KEY_ENV, host_key.expose())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cwd) = &config.cwd {
            command.current_dir(cwd);
        }
        platform::prepare(&mut command); // its own tree: the last stop step reaches a onefile child too
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                Error::BinaryNotFound { path: program.clone(), reason: e.to_string() }
            }
            _ => Error::SpawnFailed { path: program.clone(), reason: e.to_string() },
        })?;
        let (tree, tree_note) = ProcessTree::attach(&child);
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
        let (kill_tx, kill_rx) = mpsc::channel(KILL_REQUEST_CAPACITY);
        let inner = Arc::new(Inner {
            pid,
            program: program.clone(),
            stderr: StderrRing::new(config.stderr_tail_lines),
            config,
            spawned_at: Instant::now(),
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            seen: Mutex::default(),
            ready: watch::channel(false).0,
            exited: watch::channel(None).0,
            stdout_closed: watch::channel(false).0,
            stderr_closed: watch::channel(false).0,
            kill: kill_tx,
            tree,
            launch_lock: Mutex::new(lock.held),
            host_key,
        });
        if let Some(note) = lock.note {
            inner.log_host(&note);
        }
        inner.log_host(&format!("spawned {} {:?}", program.display(), inner.config.args));
        if let Some(note) = tree_note {
            inner.log_host(&note);
        }
        tokio::spawn(release_lock_after(Arc::downgrade(&inner), inner.config.ready_timeout));

        tokio::spawn(read_stdout(inner.clone(), stdout, events_tx.clone()));
        tokio::spawn(read_stderr(inner.clone(), stderr));
        tokio::spawn(reap(inner.clone(), child, kill_rx, events_tx));
        Ok((SidecarProcess { inner }, events_rx))
    }

    /// Wait for READY within the config's `ready_timeout`.
    ///
    /// On failure the process is killed (its whole group) and the error says
    /// why: [`Error::ExitedBeforeReady`] with the status and stderr tail, or
    /// [`Error::ReadyTimeout`] with the stdout lines seen instead.
    pub async fn wait_ready(&self) -> Result<()> {
        let timeout = self.inner.config.ready_timeout;
        let mut ready = self.inner.ready.subscribe();
        let mut exited = self.inner.exited.subscribe();
        let outcome = tokio::time::timeout(timeout, async {
            tokio::select! {
                _ = ready.wait_for(|r| *r) => true,
                _ = exited.wait_for(|e| e.is_some()) => false,
            }
        })
        .await;
        match outcome {
            Ok(true) => {
                let elapsed = self.inner.spawned_at.elapsed();
                self.inner.log_host(&format!("READY after {} ms", elapsed.as_millis()));
                Ok(())
            }
            Ok(false) => {
                self.inner.release_launch_lock("exited before READY");
                // READY may have been the very last line before exit: read every line first.
                self.wait_pipes_closed().await;
                if *self.inner.ready.borrow() {
                    return Ok(());
                }
                let err = Error::ExitedBeforeReady {
                    status: self.exit_status(),
                    stderr_tail: self.stderr_tail(ERROR_STDERR_TAIL_LINES),
                    lines_seen: self.lines_before_ready(),
                };
                self.inner.log_host(&err.to_string());
                Err(err)
            }
            Err(_) => {
                self.inner.release_launch_lock("no READY in time");
                self.kill_group();
                self.wait_exit(self.inner.config.stop_timeouts.sigkill).await;
                self.wait_pipes_closed().await;
                let err = Error::ReadyTimeout {
                    timeout,
                    lines_seen: self.lines_before_ready(),
                    stderr_tail: self.stderr_tail(ERROR_STDERR_TAIL_LINES),
                };
                self.inner.log_host(&err.to_string());
                Err(err)
            }
        }
    }

    /// Wait until stdout and stderr are read to the end, at most [`PIPE_DRAIN_TIMEOUT`].
    async fn wait_pipes_closed(&self) {
        let mut out = self.inner.stdout_closed.subscribe();
        let mut err = self.inner.stderr_closed.subscribe();
        let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, async {
            let _ = out.wait_for(|c| *c).await;
            let _ = err.wait_for(|c| *c).await;
        })
        .await;
    }
}

/// The bound on holding the launch lock: released after `limit` whatever happened
/// (a process that never prints BOOT, a caller that never waits for READY).
async fn release_lock_after(inner: Weak<Inner>, limit: std::time::Duration) {
    tokio::time::sleep(limit).await;
    if let Some(inner) = inner.upgrade() {
        inner.release_launch_lock("no BOOT within the READY timeout");
    }
}

/// The reaper task: wait for the exit (killing the process when asked to),
/// publish the status, fail every pending call, then send
/// [`ProcessEvent::Terminated`] after the last stdout line.
async fn reap(inner: Arc<Inner>, mut child: Child, mut kill: mpsc::Receiver<()>, events: mpsc::Sender<ProcessEvent>) {
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.ok().map(ExitStatus::from_std),
            Some(()) = kill.recv() => { let _ = child.start_kill(); }
        }
    };
    inner.release_launch_lock("exited before BOOT");
    inner.exited.send_replace(Some(status));
    inner.log_host(&format!("exited: {}", status.map(|s| s.to_string()).unwrap_or_else(|| "status unknown".into())));
    // Deliver Terminated only after the last stdout line (bounded: a grandchild may hold the pipe).
    let mut closed = inner.stdout_closed.subscribe();
    let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, closed.wait_for(|c| *c)).await;
    inner.fail_pending(status);
    let shutdown_reason = inner.seen.lock().expect("seen").shutdown_reason.clone();
    let _ = events.send(ProcessEvent::Terminated { status, shutdown_reason }).await;
}
