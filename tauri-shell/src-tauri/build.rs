fn main() {
    // The app's own commands get generated allow-/deny- permissions, so the
    // capability file must grant each one explicitly. `sidecar_call`'s permission is
    // scoped: its allow-list names the sidecar methods a window may call (the
    // capability, or the ready-made permissions in permissions/*.toml).
    let manifest = tauri_build::AppManifest::new().commands(&[
        "sidecar_call",
        "sidecar_status",
        "sidecar_restart",
        "sidecar_logs_path",
        "pick_file_for_ingest",
        "pick_export_folder",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script");
}
