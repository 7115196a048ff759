//! `tauri-plugin-sidecar`: ships the sidecar engine with a Tauri v2 app (`bundle.externalBin`),
//! starts it without blocking the window, keeps it alive (READY timeout, heartbeat watch,
//! restarts with backoff), stops it gracefully when the app exits, and gives the webview
//! scoped calls to it. Built on the `sidecar-host` crate, which has no Tauri dependency.
//!
//! ```ignore
//! tauri::Builder::default()
//!     .plugin(tauri_plugin_sidecar::init()) // reads plugins.sidecar from tauri.conf.json
//!     .run(tauri::generate_context!())
//!     .expect("error while running the app");
//! ```
//!
//! * Commands `plugin:sidecar|call`, `|status`, `|restart`, `|logs_path`, each behind its
//!   generated permission (`sidecar:allow-call` carries the method scope: [`scope`]); the
//!   `default` set grants status, the logs path and discovery.
//! * Events `sidecar:state`, `sidecar:notification`, `sidecar:log` ([`models`]).
//! * [`SidecarExt`]: `app.sidecar()` for the app's own Rust code (not gated).
//! * The stop: on `ExitRequested` (the exit waits for it), on `Exit` (last resort, blocking),
//!   on a close of the configured window, and on SIGTERM/SIGINT/SIGHUP.
//!
//! The guest side is `guest-js/` (TypeScript, typed from the engine's `rpc.discover`).
//! Everything is documented in docs/TAURI.md.

#![warn(missing_docs)]

mod commands;
pub mod config;
mod error;
pub mod models;
mod runtime;
pub mod scope;
mod sidecar;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sidecar_host::{HeartbeatPolicy, HostLog, LaunchLock, RestartPolicy, SidecarConfig, Supervisor, SupervisorConfig};
use tauri::plugin::{PluginApi, TauriPlugin};
use tauri::{AppHandle, Manager, RunEvent, Runtime, WindowEvent};

pub use commands::MAX_CALL_TIMEOUT;
pub use config::Config;
pub use error::{Error, Result, FORBIDDEN_METHOD};
pub use sidecar::{Sidecar, RECENT_LOG_LINES};
/// The host crate the plugin is built on (its types appear in this API).
pub use sidecar_host;

/// The plugin's name: its commands are `plugin:sidecar|...`, its permissions `sidecar:...`,
/// its config `plugins.sidecar`.
pub const PLUGIN_NAME: &str = "sidecar";

/// `app.sidecar()`: the plugin's [`Sidecar`] from an `App`, `AppHandle`, `Window`, ...
pub trait SidecarExt<R: Runtime> {
    /// The running sidecar. Panics if the plugin is not registered.
    fn sidecar(&self) -> &Sidecar<R>;
}

impl<R: Runtime, T: Manager<R>> SidecarExt<R> for T {
    fn sidecar(&self) -> &Sidecar<R> {
        self.state::<Sidecar<R>>().inner()
    }
}

/// The plugin with everything from `plugins.sidecar` in tauri.conf.json (or the defaults).
pub fn init<R: Runtime>() -> TauriPlugin<R, Option<Config>> {
    Builder::new().build()
}

/// The plugin, configured in code; each setting overrides the same key of `plugins.sidecar`.
#[derive(Debug, Default)]
pub struct Builder {
    binary: Option<String>,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    app_name: Option<String>,
    data_dir: Option<PathBuf>,
    ready_timeout: Option<Duration>,
    call_timeout: Option<Duration>,
    heartbeat: Option<Option<HeartbeatPolicy>>,
    restart: Option<RestartPolicy>,
    launch_lock: Option<LaunchLock>,
    stop_on_window_close: Option<String>,
    exit_on_signal: Option<bool>,
}

impl Builder {
    /// A builder with nothing set: `plugins.sidecar`, then the defaults, decide.
    pub fn new() -> Self {
        Self::default()
    }

    /// The externalBin name (`binaries/sidecar` -> `"sidecar"`): the program is
    /// `<dir of the app executable>/<name>[.exe]`, where the bundler puts it.
    pub fn binary(mut self, name: impl Into<String>) -> Self {
        self.binary = Some(name.into());
        self
    }

    /// An explicit program instead of the externalBin rule (development, tests).
    pub fn program(mut self, path: impl Into<PathBuf>) -> Self {
        self.program = Some(path.into());
        self
    }

    /// One more argument (after the config's `args`).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// One more environment variable (after the config's `env`; the app's environment is inherited).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The app name the sidecar binary was built with: the launch lock of its extraction folder.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// The sidecar's `--data-dir` instead of the app's data dir.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// How long to wait for READY.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = Some(timeout);
        self
    }

    /// The default per-call timeout.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// The heartbeat watch (`None`: no watch, and `--heartbeat-interval 0`).
    pub fn heartbeat(mut self, policy: Option<HeartbeatPolicy>) -> Self {
        self.heartbeat = Some(policy);
        self
    }

    /// The automatic restarts' budget and backoff.
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.restart = Some(policy);
        self
    }

    /// The launch lock held from spawn to BOOT.
    pub fn launch_lock(mut self, lock: LaunchLock) -> Self {
        self.launch_lock = Some(lock);
        self
    }

    /// Closing the window with this label stops the sidecar and exits the app.
    pub fn stop_on_window_close(mut self, label: impl Into<String>) -> Self {
        self.stop_on_window_close = Some(label.into());
        self
    }

    /// Whether SIGTERM/SIGINT/SIGHUP exit the app through the graceful stop (Unix; default true).
    pub fn exit_on_signal(mut self, on: bool) -> Self {
        self.exit_on_signal = Some(on);
        self
    }

    /// The plugin, for `tauri::Builder::plugin`.
    pub fn build<R: Runtime>(self) -> TauriPlugin<R, Option<Config>> {
        let close_label = Arc::new(Mutex::new(None::<String>));
        let label_for_events = close_label.clone();
        tauri::plugin::Builder::<R, Option<Config>>::new(PLUGIN_NAME)
            .invoke_handler(tauri::generate_handler![
                commands::call,
                commands::status,
                commands::restart,
                commands::logs_path
            ])
            .setup(move |app, api| {
                let resolved = self.resolve(app, &api)?;
                *close_label.lock().expect("close label") = resolved.stop_on_window_close.clone();
                start(app, resolved);
                Ok(())
            })
            .on_event(move |app, event| on_event(app, event, &label_for_events))
            .build()
    }

    /// The settings: this builder's, else `plugins.sidecar`'s, else the defaults.
    fn resolve<R: Runtime>(
        self,
        app: &AppHandle<R>,
        api: &PluginApi<R, Option<Config>>,
    ) -> std::result::Result<Resolved, Box<dyn std::error::Error>> {
        let config = api.config().clone().unwrap_or_default();
        let program = match self.program.or(config.program) {
            Some(program) => program,
            None => {
                let binary = self.binary.or(config.binary).unwrap_or_else(|| config::DEFAULT_BINARY.to_owned());
                sidecar_host::sidecar_path_beside_current_exe(&binary)?
            }
        };
        let data_dir = match self.data_dir.or(config.data_dir) {
            Some(dir) => dir,
            None => app.path().app_data_dir().map_err(|e| format!("no app data dir: {e}"))?,
        };
        let heartbeat = match self.heartbeat {
            Some(policy) => policy,
            None => {
                let interval = config.heartbeat.interval_s.unwrap_or(config::DEFAULT_HEARTBEAT_INTERVAL_S);
                let missed = config.heartbeat.missed.unwrap_or(config::DEFAULT_HEARTBEAT_MISSED);
                (interval > 0).then(|| HeartbeatPolicy { interval: Duration::from_secs(interval), missed })
            }
        };
        let restart = self.restart.unwrap_or_else(|| {
            let defaults = RestartPolicy::default();
            let c = &config.restart;
            RestartPolicy {
                max_restarts: c.max_restarts.unwrap_or(defaults.max_restarts),
                window: c.window_s.map(Duration::from_secs).unwrap_or(defaults.window),
                initial_backoff: c.initial_backoff_ms.map(Duration::from_millis).unwrap_or(defaults.initial_backoff),
                max_backoff: c.max_backoff_ms.map(Duration::from_millis).unwrap_or(defaults.max_backoff),
            }
        });
        let launch_lock = match (self.launch_lock, config.launch_lock.as_deref()) {
            (Some(lock), _) => lock,
            (None, None | Some("default")) => LaunchLock::Default,
            (None, Some("off")) => LaunchLock::Off,
            (None, Some(path)) => LaunchLock::File(PathBuf::from(path)),
        };
        let mut args: Vec<OsString> = config.args.into_iter().map(OsString::from).collect();
        args.extend(self.args);
        let mut env: Vec<(OsString, OsString)> = config.env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        env.extend(self.env);
        Ok(Resolved {
            program,
            args,
            env,
            app_name: self.app_name.or(config.app_name).unwrap_or_else(|| sidecar_host::DEFAULT_APP_NAME.to_owned()),
            logs_dir: data_dir.join("logs"),
            data_dir,
            ready_timeout: self.ready_timeout.unwrap_or_else(|| {
                Duration::from_millis(config.ready_timeout_ms.unwrap_or(config::DEFAULT_READY_TIMEOUT_MS))
            }),
            call_timeout: self
                .call_timeout
                .or(config.call_timeout_ms.map(Duration::from_millis))
                .unwrap_or(sidecar_host::CALL_TIMEOUT),
            heartbeat,
            restart,
            launch_lock,
            host_log: config.host_log.unwrap_or(true),
            stop_on_window_close: self.stop_on_window_close.or(config.stop_on_window_close),
            exit_on_signal: self.exit_on_signal.or(config.exit_on_signal).unwrap_or(true),
        })
    }
}

/// Everything decided, before the start.
struct Resolved {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    app_name: String,
    data_dir: PathBuf,
    logs_dir: PathBuf,
    ready_timeout: Duration,
    call_timeout: Duration,
    heartbeat: Option<HeartbeatPolicy>,
    restart: RestartPolicy,
    launch_lock: LaunchLock,
    host_log: bool,
    stop_on_window_close: Option<String>,
    exit_on_signal: bool,
}

impl Resolved {
    fn supervisor_config(&self) -> SupervisorConfig {
        let log = if self.host_log {
            HostLog::new(Some(&self.logs_dir.join("sidecar-host.log"))).unwrap_or_else(|e| {
                eprintln!("tauri-plugin-sidecar: cannot write the host log in {}: {e}", self.logs_dir.display());
                HostLog::disabled()
            })
        } else {
            HostLog::disabled()
        };
        let interval_s = self.heartbeat.map(|h| h.interval.as_secs()).unwrap_or(0);
        let mut sidecar = SidecarConfig::new(&self.program)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--heartbeat-interval")
            .arg(interval_s.to_string())
            .args(self.args.iter().cloned())
            .ready_timeout(self.ready_timeout)
            .call_timeout(self.call_timeout)
            .launch_lock(self.launch_lock.clone())
            .app_name(&self.app_name)
            .log(log);
        for (key, value) in &self.env {
            sidecar = sidecar.env(key, value);
        }
        let config = SupervisorConfig::new(sidecar).restart(self.restart);
        match self.heartbeat {
            Some(policy) => config.heartbeat(policy),
            None => config,
        }
    }
}

/// Start the supervisor (returns at once: READY is awaited in the background, the window
/// is not blocked), the event pumps and the signal listener; manage the [`Sidecar`].
fn start<R: Runtime>(app: &AppHandle<R>, resolved: Resolved) {
    let config = resolved.supervisor_config();
    // Supervisor::start must run inside the tokio runtime Tauri's async runtime is.
    let (supervisor, events) = tauri::async_runtime::block_on(async move { Supervisor::start(config) });
    let recent_logs = Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_LOG_LINES)));
    tauri::async_runtime::spawn(runtime::pump_events(app.clone(), events));
    tauri::async_runtime::spawn(runtime::pump_logs(app.clone(), supervisor.subscribe_logs(), recent_logs.clone()));
    #[cfg(unix)]
    if resolved.exit_on_signal {
        tauri::async_runtime::spawn(runtime::exit_on_signal(app.clone()));
    }
    app.manage(Sidecar {
        app: app.clone(),
        supervisor,
        data_dir: resolved.data_dir,
        logs_dir: resolved.logs_dir,
        recent_logs,
        gate: scope::Gate::new(),
        stopping: AtomicBool::new(false),
        stopped: Arc::new(AtomicBool::new(false)),
    });
}

/// The stop paths: the configured window's close, `ExitRequested` (held until the stop
/// ends, then the app exits), `Exit` (blocking: an exit path that skipped ExitRequested).
fn on_event<R: Runtime>(app: &AppHandle<R>, event: &RunEvent, close_label: &Mutex<Option<String>>) {
    let Some(sidecar) = app.try_state::<Sidecar<R>>() else { return };
    match event {
        RunEvent::WindowEvent { label, event: WindowEvent::CloseRequested { .. }, .. }
            if close_label.lock().expect("close label").as_deref() == Some(label.as_str()) =>
        {
            sidecar.stop_then_exit(&format!("the {label} window was closed"));
        }
        RunEvent::ExitRequested { api, .. } if !sidecar.stopped.load(Ordering::SeqCst) => {
            api.prevent_exit(); // exit again once the sidecar is stopped
            sidecar.stop_then_exit("the app is exiting");
        }
        RunEvent::Exit if !sidecar.stopped.load(Ordering::SeqCst) => {
            let supervisor = sidecar.supervisor.clone();
            tauri::async_runtime::block_on(async move { supervisor.stop_with_reason("the app exited").await });
        }
        _ => {}
    }
}
