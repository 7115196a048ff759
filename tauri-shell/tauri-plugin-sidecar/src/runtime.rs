//! The plugin's background work: state changes and notifications become events, log
//! lines become events (and the recent-lines ring), and termination signals become the
//! graceful stop.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use sidecar_host::{LogLine, LogSource, SupervisorEvent};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use crate::models::{NotificationPayload, EVENT_LOG, EVENT_NOTIFICATION, EVENT_STATE};
use crate::sidecar::RECENT_LOG_LINES;
use crate::Sidecar;

/// Forward the supervisor's events until it is gone. Draining promptly matters: a full
/// channel pauses stdout reading, which pauses the sidecar.
pub(crate) async fn pump_events<R: Runtime>(app: AppHandle<R>, mut events: mpsc::Receiver<SupervisorEvent>) {
    while let Some(event) = events.recv().await {
        let _ = match event {
            SupervisorEvent::State(state) => app.emit(EVENT_STATE, state),
            SupervisorEvent::Notification { method, params } => {
                app.emit(EVENT_NOTIFICATION, NotificationPayload { method, params })
            }
            _ => Ok(()),
        };
    }
}

/// Forward log lines (and keep the last ones) until the log is closed.
pub(crate) async fn pump_logs<R: Runtime>(
    app: AppHandle<R>,
    mut logs: broadcast::Receiver<LogLine>,
    recent: Arc<Mutex<VecDeque<LogLine>>>,
) {
    loop {
        let line = match logs.recv().await {
            Ok(line) => line,
            Err(RecvError::Lagged(n)) => LogLine {
                ts_ms: 0,
                source: LogSource::Host,
                pid: 0,
                line: format!("({n} log lines skipped in the live view; the log file has them)"),
            },
            Err(RecvError::Closed) => break,
        };
        {
            let mut recent = recent.lock().expect("recent logs");
            if recent.len() == RECENT_LOG_LINES {
                recent.pop_front();
            }
            recent.push_back(line.clone());
        }
        let _ = app.emit(EVENT_LOG, line);
    }
}

/// SIGTERM, SIGINT or SIGHUP (a logout, `kill`, Ctrl+C) exit the app the normal way, so the
/// sidecar gets the graceful stop sequence: a Tauri app otherwise dies on SIGTERM without
/// any exit event (issue-log 0009).
#[cfg(unix)]
pub(crate) async fn exit_on_signal<R: Runtime>(app: AppHandle<R>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
    else {
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        _ = hup.recv() => "SIGHUP",
    };
    let sidecar = app.state::<Sidecar<R>>();
    sidecar.supervisor.log().host(0, &format!("the app got {name}; exiting"));
    sidecar.stop_then_exit("the app got a termination signal");
}
