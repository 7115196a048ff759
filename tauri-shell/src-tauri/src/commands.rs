//! The app's own commands: the grant flow (the user picks, the host grants, the page
//! learns the path). The sidecar's commands are the plugin's.

use tauri::{AppHandle, State, WebviewWindow};
use tauri_plugin_sidecar::sidecar_host::{Grant, GrantMode, SidecarState};
use tauri_plugin_sidecar::{Error, SidecarExt};

use crate::picker::{Pick, Picker};

/// Let the user pick a data file in a native dialog and grant the engine read access
/// to it (`files.grant`, made by the host with its key). Resolves with the grant
/// (`{grant_id, path, mode: "read", kind: "file"}`; ingest it with `jobs.submit`), or
/// `null` when the user cancelled. The page never chooses the path.
#[tauri::command]
pub async fn pick_file_for_ingest(
    app: AppHandle,
    window: WebviewWindow,
    picker: State<'_, Picker>,
) -> Result<Option<Grant>, Error> {
    pick_and_grant(&app, &window, &picker, Pick::IngestFile, GrantMode::Read).await
}

/// Let the user pick a folder in a native dialog and grant the engine write access to
/// it. Resolves with the grant (`{grant_id, path, mode: "write", kind: "folder"}`;
/// `db.export` may then write files inside `path`), or `null` when cancelled.
#[tauri::command]
pub async fn pick_export_folder(
    app: AppHandle,
    window: WebviewWindow,
    picker: State<'_, Picker>,
) -> Result<Option<Grant>, Error> {
    pick_and_grant(&app, &window, &picker, Pick::ExportFolder, GrantMode::Write).await
}

async fn pick_and_grant(
    app: &AppHandle,
    window: &WebviewWindow,
    picker: &Picker,
    what: Pick,
    mode: GrantMode,
) -> Result<Option<Grant>, Error> {
    let sidecar = app.sidecar();
    // No dialog for a grant that cannot be made: the user would pick for nothing.
    let state = sidecar.supervisor().state();
    if !matches!(state, SidecarState::Ready { .. }) {
        return Err(Error::from(tauri_plugin_sidecar::sidecar_host::Error::NotRunning { state: state.describe() }));
    }
    let Ok(picked) = picker.pick(app, window, what).await else {
        return Err(Error::new("dialog_open", "a file dialog is already open: answer it first"));
    };
    let Some(path) = picked else {
        return Ok(None); // the user cancelled
    };
    Ok(Some(sidecar.grant_path(&path, mode).await?))
}
