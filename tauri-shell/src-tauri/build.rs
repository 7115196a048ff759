fn main() {
    // The app's own commands get generated allow-/deny- permissions (allow-pick-file-for-ingest,
    // ...), so the capability must grant each one. The sidecar's commands are the plugin's
    // (sidecar:allow-call, ...): its own build script generates those.
    let manifest = tauri_build::AppManifest::new().commands(&["pick_file_for_ingest", "pick_export_folder"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script");
}
