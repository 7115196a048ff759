//! The grant flow: the user picks a file (to ingest) or a folder (to export to) in a
//! native dialog, and the host grants the engine that path (`files.grant` with the
//! host key, through the supervisor). The webview only ever learns the path the
//! user chose; it can neither choose a path itself nor call `files.grant`.
//!
//! A native dialog cannot be driven under Xvfb/WebDriver. For the end-to-end tests,
//! a build with the `test-hooks` cargo feature (never a default, never a release)
//! reads `SIDECAR_SHELL_TEST_PICK_FILE` and `SIDECAR_SHELL_TEST_PICK_FOLDER` once at
//! startup: a pick then answers that path without showing a dialog. Everything after
//! the pick (the grant, the answer to the webview) is the same code either way.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use tauri::{AppHandle, WebviewWindow};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

/// Environment variables of the test hook (read only by a `test-hooks` build).
pub mod env {
    /// The path a file pick answers instead of showing a dialog.
    pub const TEST_PICK_FILE: &str = "SIDECAR_SHELL_TEST_PICK_FILE";
    /// The path a folder pick answers instead of showing a dialog.
    pub const TEST_PICK_FOLDER: &str = "SIDECAR_SHELL_TEST_PICK_FOLDER";
}

/// File types offered for an ingest (what the engine's ingest reads).
const INGEST_EXTENSIONS: &[&str] = &["csv", "tsv", "txt", "parquet", "json", "jsonl", "ndjson", "gz", "zst"];

/// What to pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// One data file, to read.
    IngestFile,
    /// One folder, to write exports into.
    ExportFolder,
}

/// The native dialogs, one at a time, plus the test hook's answers.
pub struct Picker {
    /// A dialog is open (a page cannot stack dialogs on the user).
    open: AtomicBool,
    /// The test hook's answers, read at startup (always `None` without `test-hooks`).
    hook_file: Option<PathBuf>,
    hook_folder: Option<PathBuf>,
}

impl Picker {
    /// A picker; a `test-hooks` build reads the hook's variables here, once.
    pub fn from_env() -> Self {
        let (hook_file, hook_folder) = hook_paths();
        Picker { open: AtomicBool::new(false), hook_file, hook_folder }
    }

    /// Whether the test hook answers instead of a dialog (for the log).
    pub fn hooked(&self) -> bool {
        self.hook_file.is_some() || self.hook_folder.is_some()
    }

    /// Ask the user for a path; `Ok(None)` when they cancelled, `Err(())` when a dialog
    /// is already open.
    pub async fn pick(&self, app: &AppHandle, window: &WebviewWindow, what: Pick) -> Result<Option<PathBuf>, ()> {
        if let Some(path) = match what {
            Pick::IngestFile => &self.hook_file,
            Pick::ExportFolder => &self.hook_folder,
        } {
            return Ok(Some(path.clone()));
        }
        if self.open.swap(true, Ordering::SeqCst) {
            return Err(());
        }
        let _open = OpenDialog(&self.open); // cleared however this future ends
        let (tx, rx) = oneshot::channel();
        let dialog = app.dialog().file().set_parent(window);
        match what {
            Pick::IngestFile => dialog
                .set_title("Choose a file to ingest")
                .add_filter("Data files", INGEST_EXTENSIONS)
                .pick_file(move |path| {
                    let _ = tx.send(path);
                }),
            Pick::ExportFolder => dialog.set_title("Choose a folder for exports").pick_folder(move |path| {
                let _ = tx.send(path);
            }),
        }
        let picked = rx.await.ok().flatten();
        Ok(picked.and_then(|p| p.into_path().ok()))
    }
}

/// Clears the "a dialog is open" flag when dropped.
struct OpenDialog<'a>(&'a AtomicBool);

impl Drop for OpenDialog<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[cfg(feature = "test-hooks")]
fn hook_paths() -> (Option<PathBuf>, Option<PathBuf>) {
    let read = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    (read(env::TEST_PICK_FILE), read(env::TEST_PICK_FOLDER))
}

#[cfg(not(feature = "test-hooks"))]
fn hook_paths() -> (Option<PathBuf>, Option<PathBuf>) {
    (None, None)
}
