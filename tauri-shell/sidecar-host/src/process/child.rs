//! One running sidecar process: spawn, READY, JSON-RPC calls, stop.
//!
//! [`SidecarProcess::spawn`] returns the process and a bounded receiver of
//! [`ProcessEvent`]s; [`ProcessEvent::Terminated`] is delivered after the last
//! stdout line. Three tasks serve each process: a stdout reader (lifecycle
//! lines, answers, notifications), a stderr reader (ring buffer, log), and a
//! waiter that reaps the process and fails every pending call when it is gone.
//!
//! Stop sequence ([`SidecarProcess::stop`]), each step only if the previous
//! one did not end the process, each bounded by a named timeout
//! ([`StopTimeouts`](super::StopTimeouts)):
//! `system.shutdown` -> close stdin -> SIGTERM -> SIGKILL of the process group.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot, watch};

use super::log::{HostLog, LogSource, StderrRing};
use super::path::check_executable;
use super::{SidecarConfig, LINES_KEPT_BEFORE_READY, MAX_STDERR_LINE_BYTES, PIPE_DRAIN_TIMEOUT};
use crate::error::{Error, ExitStatus, Result};
use crate::protocol::{
    encode_notification, encode_request, show_line, ErrorObject, Line, LineSplitter, RawJson, StdoutEvent,
    StdoutSession, Violation,
};

/// Something a running sidecar sent that the owner must handle.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProcessEvent {
    /// A server-to-host notification (job progress, job status, log events...).
    Notification {
        /// The method, e.g. `job.progress`.
        method: String,
        /// Its params (`Null` when absent).
        params: Value,
    },
    /// The process is gone; always the last event.
    Terminated {
        /// How it ended.
        status: Option<ExitStatus>,
        /// The reason on its SHUTDOWN line, if it printed one.
        shutdown_reason: Option<String>,
    },
}

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

struct Pending {
    method: String,
    reply: oneshot::Sender<Result<RawJson>>,
}

#[derive(Default)]
struct Seen {
    boot_pid: Option<u32>,
    version: Option<String>,
    ready_at: Option<Instant>,
    last_heartbeat: Option<(u64, Instant)>,
    shutdown_reason: Option<String>,
    lines_before_ready: Vec<String>,
    violations: Vec<Violation>,
}

struct Inner {
    pid: u32,
    program: PathBuf,
    config: SidecarConfig,
    spawned_at: Instant,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    seen: Mutex<Seen>,
    stderr: StderrRing,
    ready: watch::Sender<bool>,
    exited: watch::Sender<Option<Option<ExitStatus>>>,
    stdout_closed: watch::Sender<bool>,
    stderr_closed: watch::Sender<bool>,
    #[cfg_attr(unix, allow(dead_code))]
    kill: mpsc::Sender<()>,
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
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SidecarProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SidecarProcess").field("pid", &self.inner.pid).field("program", &self.inner.program).finish()
    }
}

impl SidecarProcess {
    /// Spawn and wait for READY (see [`spawn`](Self::spawn) and [`wait_ready`](Self::wait_ready)).
    pub async fn start(config: SidecarConfig) -> Result<(SidecarProcess, mpsc::Receiver<ProcessEvent>)> {
        let (process, events) = Self::spawn(config)?;
        process.wait_ready().await?;
        Ok((process, events))
    }

    /// Spawn the process with piped stdio in a new process group; does not wait for READY.
    ///
    /// Must be called inside a tokio runtime. Fails with
    /// [`Error::BinaryNotFound`] (naming the path) when the program cannot be run.
    pub fn spawn(config: SidecarConfig) -> Result<(SidecarProcess, mpsc::Receiver<ProcessEvent>)> {
        let program = check_executable(&config.program)?;
        let mut command = Command::new(&program);
        command
            .args(&config.args)
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cwd) = &config.cwd {
            command.current_dir(cwd);
        }
        #[cfg(unix)]
        command.process_group(0); // its own group: the last stop step reaches a onefile child too
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                Error::BinaryNotFound { path: program.clone(), reason: e.to_string() }
            }
            _ => Error::SpawnFailed { path: program.clone(), reason: e.to_string() },
        })?;
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
        let (kill_tx, mut kill_rx) = mpsc::channel(1);
        let inner = Arc::new(Inner {
            pid,
            program: program.clone(),
            stderr: StderrRing::new(config.stderr_tail_lines),
            config,
            spawned_at: Instant::now(),
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            seen: Mutex::new(Seen::default()),
            ready: watch::channel(false).0,
            exited: watch::channel(None).0,
            stdout_closed: watch::channel(false).0,
            stderr_closed: watch::channel(false).0,
            kill: kill_tx,
        });
        inner.config.log.host(pid, &format!("spawned {} {:?}", program.display(), inner.config.args));

        tokio::spawn(read_stdout(inner.clone(), stdout, events_tx.clone()));
        tokio::spawn(read_stderr(inner.clone(), stderr));
        let waiter = inner.clone();
        tokio::spawn(async move {
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status.ok().map(ExitStatus::from_std),
                    Some(()) = kill_rx.recv() => { let _ = child.start_kill(); }
                }
            };
            waiter.exited.send_replace(Some(status));
            waiter.config.log.host(
                waiter.pid,
                &format!("exited: {}", status.map(|s| s.to_string()).unwrap_or_else(|| "status unknown".into())),
            );
            // Deliver Terminated only after the last stdout line (bounded: a grandchild may hold the pipe).
            let mut closed = waiter.stdout_closed.subscribe();
            let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, closed.wait_for(|c| *c)).await;
            waiter.fail_pending(status);
            let shutdown_reason = waiter.seen.lock().expect("seen").shutdown_reason.clone();
            let _ = events_tx.send(ProcessEvent::Terminated { status, shutdown_reason }).await;
        });
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
                self.inner.config.log.host(self.inner.pid, &format!("READY after {} ms", elapsed.as_millis()));
                Ok(())
            }
            Ok(false) => {
                // READY may have been the very last line before exit: read every line first.
                self.wait_pipes_closed().await;
                if *self.inner.ready.borrow() {
                    return Ok(());
                }
                let err = Error::ExitedBeforeReady {
                    status: self.exit_status(),
                    stderr_tail: self.stderr_tail(20),
                    lines_seen: self.lines_before_ready(),
                };
                self.inner.config.log.host(self.inner.pid, &err.to_string());
                Err(err)
            }
            Err(_) => {
                self.kill_group();
                self.wait_exit(self.inner.config.stop_timeouts.sigkill).await;
                self.wait_pipes_closed().await;
                let err = Error::ReadyTimeout {
                    timeout,
                    lines_seen: self.lines_before_ready(),
                    stderr_tail: self.stderr_tail(20),
                };
                self.inner.config.log.host(self.inner.pid, &err.to_string());
                Err(err)
            }
        }
    }

    async fn wait_pipes_closed(&self) {
        let mut out = self.inner.stdout_closed.subscribe();
        let mut err = self.inner.stderr_closed.subscribe();
        let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, async {
            let _ = out.wait_for(|c| *c).await;
            let _ = err.wait_for(|c| *c).await;
        })
        .await;
    }

    // ------------------------------------------------------------ facts

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

    /// The stdout lines printed before READY (at most [`LINES_KEPT_BEFORE_READY`]).
    pub fn lines_before_ready(&self) -> Vec<String> {
        self.inner.seen.lock().expect("seen").lines_before_ready.clone()
    }

    /// Protocol violations seen on stdout (at most 1000).
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

    // ------------------------------------------------------------ calls

    /// Call `method` with the config's default timeout; returns the decoded result.
    pub async fn call(&self, method: &str, params: Option<Value>) -> Result<Value> {
        self.call_with_timeout(method, params, self.inner.config.call_timeout).await
    }

    /// Call `method`; an error answer becomes [`Error::Rpc`].
    ///
    /// On timeout the sidecar is sent an `rpc.cancel` notification for the id
    /// so it stops the work, and [`Error::CallTimeout`] is returned.
    pub async fn call_with_timeout(&self, method: &str, params: Option<Value>, timeout: Duration) -> Result<Value> {
        let raw = self.call_raw(method, params, timeout).await?;
        serde_json::from_str(raw.get())
            .map_err(|e| Error::BadResult { method: method.to_owned(), reason: e.to_string() })
    }

    /// Like [`call_with_timeout`](Self::call_with_timeout) but returns the raw JSON text of the result.
    pub async fn call_raw(&self, method: &str, params: Option<Value>, timeout: Duration) -> Result<RawJson> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Some(status) = *self.inner.exited.borrow() {
            return Err(self.exited_error(method, status));
        }
        self.inner.pending.lock().expect("pending").insert(id, Pending { method: method.to_owned(), reply: tx });
        let line = encode_request(id, method, params.as_ref());
        let outcome = tokio::time::timeout(timeout, async {
            self.write(&line).await.map_err(|_| self.exited_error(method, self.exit_status()))?;
            rx.await.map_err(|_| self.exited_error(method, self.exit_status()))?
        })
        .await;
        self.inner.pending.lock().expect("pending").remove(&id);
        match outcome {
            Ok(result) => result,
            Err(_) => {
                let cancel = encode_notification("rpc.cancel", Some(&serde_json::json!({ "id": id })));
                let _ = tokio::time::timeout(Duration::from_millis(200), self.write(&cancel)).await;
                Err(Error::CallTimeout { method: method.to_owned(), timeout })
            }
        }
    }

    /// Send a notification (never answered).
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<()> {
        let line = encode_notification(method, params.as_ref());
        self.write(&line).await.map_err(|_| self.exited_error(method, self.exit_status()))
    }

    /// Write bytes to the sidecar's stdin as given (add the newline yourself).
    pub async fn send_raw(&self, data: &[u8]) -> Result<()> {
        self.write(data).await.map_err(|e| Error::Io(e.to_string()))
    }

    async fn write(&self, data: &[u8]) -> std::io::Result<()> {
        let mut stdin = self.inner.stdin.lock().await;
        let pipe = stdin.as_mut().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin closed"))?;
        pipe.write_all(data).await?;
        pipe.flush().await
    }

    fn exited_error(&self, method: &str, status: Option<ExitStatus>) -> Error {
        Error::SidecarExited { method: method.to_owned(), status, stderr_tail: self.stderr_tail(20) }
    }

    // ------------------------------------------------------------ stopping

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
        if self.is_running() && self.inner.pid > 0 {
            // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
            unsafe {
                libc::kill(self.inner.pid as libc::pid_t, signal);
            }
        }
    }

    /// SIGKILL the whole process group (a onefile bootstrap and its child).
    ///
    /// Also sweeps a group whose leader is already gone (an orphaned engine
    /// would keep the data dir locked). On Windows: kills the process itself.
    pub fn kill_group(&self) {
        #[cfg(unix)]
        if self.inner.pid > 0 {
            // SAFETY: the group id is the pid of a child we spawned with process_group(0);
            // the kernel does not reuse a pid as a new pgid while the old group has members.
            unsafe {
                libc::killpg(self.inner.pid as libc::pid_t, libc::SIGKILL);
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self.inner.kill.try_send(());
        }
    }

    /// Whether any process of its group is still alive (Unix; `false` elsewhere).
    pub fn group_alive(&self) -> bool {
        #[cfg(unix)]
        {
            // SAFETY: signal 0 only checks for existence.
            self.inner.pid > 0 && unsafe { libc::killpg(self.inner.pid as libc::pid_t, 0) } == 0
        }
        #[cfg(not(unix))]
        {
            self.is_running()
        }
    }

    /// Stop gracefully, escalating step by step (see the module docs).
    pub async fn stop(&self) -> StopReport {
        let limits = self.inner.config.stop_timeouts;
        let started = Instant::now();
        let log = |msg: &str| self.inner.config.log.host(self.inner.pid, msg);
        let mut step = StopStep::AlreadyExited;
        if self.is_running() {
            step = StopStep::ShutdownRequest;
            log("stop: system.shutdown");
            let _ = self.call_raw("system.shutdown", None, limits.shutdown_request).await;
            if !self.wait_exit(limits.shutdown_request).await {
                step = StopStep::StdinClose;
                log("stop: no exit after system.shutdown; closing stdin");
                self.close_stdin().await;
                if !self.wait_exit(limits.stdin_close).await {
                    step = StopStep::Sigterm;
                    log("stop: no exit after stdin close; SIGTERM");
                    #[cfg(unix)]
                    self.send_signal(libc::SIGTERM);
                    if !self.wait_exit(limits.sigterm).await {
                        step = StopStep::Sigkill;
                        log("stop: no exit after SIGTERM; SIGKILL of the process group");
                        self.kill_group();
                        self.wait_exit(limits.sigkill).await;
                    }
                }
            }
        }
        self.close_stdin().await;
        if self.group_alive() {
            log("stop: the leader is gone but its process group is not; SIGKILL of the group");
            self.kill_group();
        }
        let report = StopReport {
            step,
            status: self.exit_status(),
            shutdown_reason: self.shutdown_reason(),
            elapsed: started.elapsed(),
        };
        log(&format!(
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
        let limits = self.inner.config.stop_timeouts;
        let started = Instant::now();
        let mut step = StopStep::AlreadyExited;
        if self.is_running() {
            step = StopStep::Sigterm;
            #[cfg(unix)]
            self.send_signal(libc::SIGTERM);
            if !self.wait_exit(limits.sigterm).await {
                step = StopStep::Sigkill;
                self.kill_group();
                self.wait_exit(limits.sigkill).await;
            }
        }
        self.close_stdin().await;
        if self.group_alive() {
            self.kill_group();
        }
        StopReport {
            step,
            status: self.exit_status(),
            shutdown_reason: self.shutdown_reason(),
            elapsed: started.elapsed(),
        }
    }
}

impl Inner {
    fn fail_pending(&self, status: Option<ExitStatus>) {
        let drained: Vec<Pending> = self.pending.lock().expect("pending").drain().map(|(_, p)| p).collect();
        for pending in drained {
            let err = Error::SidecarExited { method: pending.method, status, stderr_tail: self.stderr.tail(20) };
            let _ = pending.reply.send(Err(err));
        }
    }

    fn resolve(&self, id: &RawJson, answer: std::result::Result<RawJson, ErrorObject>) -> bool {
        let Ok(key) = id.get().parse::<u64>() else { return false };
        let Some(pending) = self.pending.lock().expect("pending").remove(&key) else { return false };
        let result = answer.map_err(|error| Error::Rpc { method: pending.method, error });
        let _ = pending.reply.send(result);
        true
    }
}

async fn read_stdout(inner: Arc<Inner>, mut stdout: impl AsyncRead + Unpin, events: mpsc::Sender<ProcessEvent>) {
    let mut splitter = LineSplitter::new(inner.config.max_line_bytes);
    let mut session = StdoutSession::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for line in splitter.feed(&buf[..n]) {
            on_stdout_line(&inner, &mut session, &line, &events).await;
        }
    }
    if let Some(line) = splitter.finish() {
        on_stdout_line(&inner, &mut session, &line, &events).await;
    }
    inner.stdout_closed.send_replace(true);
    // stdout closes a moment before the exit status is known; then nobody can answer.
    let mut exited = inner.exited.subscribe();
    let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, exited.wait_for(|e| e.is_some())).await;
    let status = inner.exited.borrow().flatten();
    inner.fail_pending(status);
}

async fn on_stdout_line(inner: &Inner, session: &mut StdoutSession, line: &Line, events: &mpsc::Sender<ProcessEvent>) {
    if !*inner.ready.borrow() {
        if let Line::Complete(bytes) = line {
            let mut seen = inner.seen.lock().expect("seen");
            if seen.lines_before_ready.len() < LINES_KEPT_BEFORE_READY {
                seen.lines_before_ready.push(show_line(bytes));
            }
        }
    }
    for event in session.on_line(line) {
        match event {
            StdoutEvent::Boot(boot) => {
                let mut seen = inner.seen.lock().expect("seen");
                seen.boot_pid = boot.get("pid").and_then(|p| p.parse().ok());
                seen.version = boot.get("version").map(str::to_owned);
                drop(seen);
                inner.config.log.host(inner.pid, &format!("BOOT {:?}", boot.fields));
            }
            StdoutEvent::Ready => {
                inner.seen.lock().expect("seen").ready_at = Some(Instant::now());
                inner.ready.send_replace(true);
            }
            StdoutEvent::Heartbeat { seq } => {
                inner.seen.lock().expect("seen").last_heartbeat = Some((seq, Instant::now()));
            }
            StdoutEvent::Shutdown { reason } => {
                inner.config.log.host(inner.pid, &format!("SHUTDOWN reason={reason}"));
                inner.seen.lock().expect("seen").shutdown_reason = Some(reason);
            }
            StdoutEvent::Response { id, result } => {
                if !inner.resolve(&id, Ok(result)) {
                    inner.config.log.host(inner.pid, &format!("answer for no pending call: id {}", id.get()));
                }
            }
            StdoutEvent::ErrorReply { id, error } => {
                if !inner.resolve(&id, Err(error.clone())) {
                    inner
                        .config
                        .log
                        .host(inner.pid, &format!("error answer for no pending call: id {}: {error:?}", id.get()));
                }
            }
            StdoutEvent::Notification { method, params } => {
                let params = params.and_then(|p| serde_json::from_str(p.get()).ok()).unwrap_or(Value::Null);
                // Bounded: a consumer that does not keep up pauses stdout reading (and so the sidecar).
                let _ = events.send(ProcessEvent::Notification { method, params }).await;
            }
            StdoutEvent::Violation(violation) => {
                inner
                    .config
                    .log
                    .host(inner.pid, &format!("protocol violation {:?}: {}", violation.kind, violation.line));
                let mut seen = inner.seen.lock().expect("seen");
                if seen.violations.len() < 1000 {
                    seen.violations.push(violation);
                }
            }
        }
    }
}

async fn read_stderr(inner: Arc<Inner>, mut stderr: impl AsyncRead + Unpin) {
    let mut splitter = LineSplitter::new(MAX_STDERR_LINE_BYTES);
    let mut buf = vec![0u8; 16 * 1024];
    let mut on_line = |line: Line| {
        let text = match line {
            Line::Complete(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Line::Oversize { size, .. } => format!("(a stderr line of {size} bytes was dropped)"),
        };
        inner.config.log.write(LogSource::Stderr, inner.pid, &text);
        inner.stderr.push(text);
    };
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => splitter.feed(&buf[..n]).into_iter().for_each(&mut on_line),
        }
    }
    if let Some(line) = splitter.finish() {
        on_line(line);
    }
    inner.stderr_closed.send_replace(true);
}
