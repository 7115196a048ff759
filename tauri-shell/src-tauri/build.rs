fn main() {
    // The app's own commands get generated allow-/deny- permissions, so the
    // capability file must grant each one explicitly.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "sidecar_call",
        "sidecar_status",
        "sidecar_restart",
        "sidecar_logs_path",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script");
}
