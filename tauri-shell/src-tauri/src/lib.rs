//! The Tauri shell: the sidecar plugin (start, supervision, scoped calls, events, the
//! stop on exit) plus this app's own part, the grant flow's two pickers (`picker.rs`).
//!
//! The webview is untrusted: the plugin forwards only the methods the window's
//! capability grants, and paths outside the engine's data dir reach it only through the
//! user's pick in a native dialog.

mod commands;
mod picker;
mod settings;

use tauri_plugin_sidecar::SidecarExt;

/// Build and run the app.
pub fn run() {
    tauri::Builder::default()
        // tauri.conf.json's plugins.sidecar, plus the environment overrides tests use.
        .plugin(settings::sidecar_plugin())
        // For the grant flow's native dialogs, opened by the Rust commands only: no capability
        // grants the webview a `dialog:` permission.
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let picker = picker::Picker::from_env();
            if picker.hooked() {
                let log = app.sidecar().supervisor().log();
                log.host(0, "test hook: file picks answer SIDECAR_SHELL_TEST_PICK_* instead of a dialog");
            }
            tauri::Manager::manage(app, picker);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![commands::pick_file_for_ingest, commands::pick_export_folder])
        .run(tauri::generate_context!())
        .expect("error while running the Tauri application");
}
