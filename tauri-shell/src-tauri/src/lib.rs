//! The Tauri shell: starts the sidecar supervisor in `setup` (without
//! blocking the window), exposes six commands, forwards notifications,
//! state changes and log lines as events, and stops the sidecar when the app
//! exits (window closed or `ExitRequested`).
//!
//! The webview is untrusted: `sidecar_call` forwards only the methods the window's
//! capability grants (`access.rs`), and paths outside the engine's data dir reach
//! it only through the user's pick in a native dialog (`picker.rs`).

mod access;
mod commands;
mod error;
mod picker;
mod settings;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sidecar_host::{LogLine, Supervisor, SupervisorEvent};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WindowEvent};
use tokio::sync::broadcast::error::RecvError;

pub use settings::Settings;

/// Event: the supervisor's state changed; payload `SidecarState` (`{state, ...}`).
pub const EVENT_STATE: &str = "sidecar:state";
/// Event: a notification from the sidecar; payload `{method, params}`.
pub const EVENT_NOTIFICATION: &str = "sidecar:notification";
/// Event: a log line (sidecar stderr or host message); payload `LogLine`.
pub const EVENT_LOG: &str = "sidecar:log";
/// Log lines kept for a window that opens late.
const RECENT_LOG_LINES: usize = 300;

/// What the commands share.
pub struct ShellState {
    /// The sidecar supervisor.
    pub supervisor: Supervisor,
    /// The folder with the sidecar's and the host's logs.
    pub logs_dir: PathBuf,
    /// The last log lines, for a window that subscribes late.
    pub recent_logs: Arc<Mutex<VecDeque<LogLine>>>,
    /// Which sidecar methods a webview may call.
    pub gate: access::Gate,
    /// The native file dialogs of the grant flow.
    pub picker: picker::Picker,
    stopping: AtomicBool,
    stopped: Arc<AtomicBool>,
}

#[derive(Clone, Serialize)]
struct NotificationPayload {
    method: String,
    params: serde_json::Value,
}

/// Build and run the app.
pub fn run() {
    let app = tauri::Builder::default()
        // For the grant flow's native dialogs, opened by the Rust commands only: no capability
        // grants the webview a `dialog:` permission.
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let settings = Settings::resolve(app.handle())?;
            let config = settings.supervisor_config();
            // Supervisor::start returns at once; READY is awaited in the background.
            let (supervisor, events) = tauri::async_runtime::block_on(async move { Supervisor::start(config) });
            let recent_logs = Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_LOG_LINES)));
            tauri::async_runtime::spawn(pump_events(app.handle().clone(), events));
            tauri::async_runtime::spawn(pump_logs(
                app.handle().clone(),
                supervisor.subscribe_logs(),
                recent_logs.clone(),
            ));
            #[cfg(unix)]
            tauri::async_runtime::spawn(exit_on_signal(app.handle().clone()));
            let picker = picker::Picker::from_env();
            if picker.hooked() {
                supervisor.log().host(0, "test hook: file picks answer SIDECAR_SHELL_TEST_PICK_* instead of a dialog");
            }
            app.manage(ShellState {
                supervisor,
                logs_dir: settings.logs_dir,
                recent_logs,
                gate: access::Gate::new(),
                picker,
                stopping: AtomicBool::new(false),
                stopped: Arc::new(AtomicBool::new(false)),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::sidecar_call,
            commands::sidecar_status,
            commands::sidecar_restart,
            commands::sidecar_logs_path,
            commands::pick_file_for_ingest,
            commands::pick_export_folder,
        ])
        .build(tauri::generate_context!())
        .expect("error while building the Tauri application");

    app.run(|handle, event| match event {
        RunEvent::WindowEvent { label, event: WindowEvent::CloseRequested { .. }, .. } if label == "main" => {
            begin_stop(handle, "the main window was closed");
        }
        RunEvent::ExitRequested { api, .. } => {
            let state = handle.state::<ShellState>();
            if !state.stopped.load(Ordering::SeqCst) {
                api.prevent_exit(); // exit again once the sidecar is stopped
                begin_stop(handle, "the app is exiting");
            }
        }
        RunEvent::Exit => {
            // Last resort (e.g. an exit path that skipped ExitRequested): stop synchronously.
            let state = handle.state::<ShellState>();
            if !state.stopped.load(Ordering::SeqCst) {
                let supervisor = state.supervisor.clone();
                tauri::async_runtime::block_on(async move { supervisor.stop_with_reason("the app exited").await });
            }
        }
        _ => {}
    });
}

/// Stop the sidecar once, then exit the app.
fn begin_stop(handle: &AppHandle, reason: &'static str) {
    let state = handle.state::<ShellState>();
    if state.stopping.swap(true, Ordering::SeqCst) {
        return;
    }
    let supervisor = state.supervisor.clone();
    let stopped = state.stopped.clone();
    let handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        supervisor.stop_with_reason(reason).await;
        stopped.store(true, Ordering::SeqCst);
        handle.exit(0);
    });
}

/// SIGTERM, SIGINT or SIGHUP (a session logout, `kill`, Ctrl+C in a terminal) exit the app
/// the normal way, so the sidecar gets the graceful stop sequence instead of an EOF.
#[cfg(unix)]
async fn exit_on_signal(handle: AppHandle) {
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
    let state = handle.state::<ShellState>();
    state.supervisor.log().host(0, &format!("the app got {name}; exiting"));
    begin_stop(&handle, "the app got a termination signal");
}

async fn pump_events(handle: AppHandle, mut events: tokio::sync::mpsc::Receiver<SupervisorEvent>) {
    while let Some(event) = events.recv().await {
        let _ = match event {
            SupervisorEvent::State(state) => handle.emit(EVENT_STATE, state),
            SupervisorEvent::Notification { method, params } => {
                handle.emit(EVENT_NOTIFICATION, NotificationPayload { method, params })
            }
            _ => Ok(()),
        };
    }
}

async fn pump_logs(
    handle: AppHandle,
    mut logs: tokio::sync::broadcast::Receiver<LogLine>,
    recent: Arc<Mutex<VecDeque<LogLine>>>,
) {
    loop {
        let line = match logs.recv().await {
            Ok(line) => line,
            Err(RecvError::Lagged(n)) => LogLine {
                ts_ms: 0,
                source: sidecar_host::LogSource::Host,
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
        let _ = handle.emit(EVENT_LOG, line);
    }
}
