//! The two reader tasks of a process. The stdout reader splits lines, runs
//! them through the protocol's [`StdoutSession`] and acts on each event
//! (lifecycle facts, answers to pending calls, notifications to the bounded
//! channel, violations); the stderr reader feeds the ring and the log.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::child::Inner;
use super::events::ProcessEvent;
use super::log::LogSource;
use super::{LINES_KEPT_BEFORE_READY, MAX_STDERR_LINE_BYTES, MAX_VIOLATIONS_KEPT, PIPE_DRAIN_TIMEOUT};
use crate::protocol::{show_line, Line, LineSplitter, StdoutEvent, StdoutSession};

/// Bytes asked of stdout per read (answers can be large; lines are split afterwards).
const STDOUT_READ_CHUNK: usize = 64 * 1024;
/// Bytes asked of stderr per read (log records are short).
const STDERR_READ_CHUNK: usize = 16 * 1024;

/// Read stdout to its end, then fail the calls nobody can answer any more.
pub(super) async fn read_stdout(
    inner: Arc<Inner>,
    mut stdout: impl AsyncRead + Unpin,
    events: mpsc::Sender<ProcessEvent>,
) {
    let mut splitter = LineSplitter::new(inner.config.max_line_bytes);
    let mut session = StdoutSession::new();
    let mut buf = vec![0u8; STDOUT_READ_CHUNK];
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
    inner.release_launch_lock("stdout closed before BOOT"); // no BOOT can come now
    inner.stdout_closed.send_replace(true);
    // stdout closes a moment before the exit status is known; then nobody can answer.
    let mut exited = inner.exited.subscribe();
    let _ = tokio::time::timeout(PIPE_DRAIN_TIMEOUT, exited.wait_for(|e| e.is_some())).await;
    let status = inner.exited.borrow().flatten();
    inner.fail_pending(status);
}

/// Act on one stdout line.
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
                inner.log_host(&format!("BOOT {:?}", boot.fields));
                inner.release_launch_lock("BOOT"); // the bootstrap has unpacked and started the engine
            }
            StdoutEvent::Ready => {
                inner.release_launch_lock("READY"); // READY without BOOT: a violation, but the bootstrap is done
                inner.seen.lock().expect("seen").ready_at = Some(Instant::now());
                inner.ready.send_replace(true);
            }
            StdoutEvent::Heartbeat { seq } => {
                inner.seen.lock().expect("seen").last_heartbeat = Some((seq, Instant::now()));
            }
            StdoutEvent::Shutdown { reason } => {
                inner.log_host(&format!("SHUTDOWN reason={reason}"));
                inner.seen.lock().expect("seen").shutdown_reason = Some(reason);
            }
            StdoutEvent::Response { id, result } => {
                if !inner.resolve(&id, Ok(result)) {
                    inner.log_host(&format!("answer for no pending call: id {}", id.get()));
                }
            }
            StdoutEvent::ErrorReply { id, error } => {
                if !inner.resolve(&id, Err(error.clone())) {
                    inner.log_host(&format!("error answer for no pending call: id {}: {error:?}", id.get()));
                }
            }
            StdoutEvent::Notification { method, params } => {
                let params = params
                    .and_then(|p| serde_json::from_str(&inner.host_key.scrub(p.get())).ok())
                    .unwrap_or(Value::Null);
                // Bounded: a consumer that does not keep up pauses stdout reading (and so the sidecar).
                let _ = events.send(ProcessEvent::Notification { method, params }).await;
            }
            StdoutEvent::Violation(violation) => {
                inner.log_host(&format!("protocol violation {:?}: {}", violation.kind, violation.line));
                let mut seen = inner.seen.lock().expect("seen");
                if seen.violations.len() < MAX_VIOLATIONS_KEPT {
                    seen.violations.push(violation);
                }
            }
        }
    }
}

/// Read stderr to its end into the ring and the log.
pub(super) async fn read_stderr(inner: Arc<Inner>, mut stderr: impl AsyncRead + Unpin) {
    let mut splitter = LineSplitter::new(MAX_STDERR_LINE_BYTES);
    let mut buf = vec![0u8; STDERR_READ_CHUNK];
    let mut on_line = |line: Line| {
        let text = match line {
            Line::Complete(bytes) => inner.host_key.scrub(&String::from_utf8_lossy(&bytes)).into_owned(),
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
