// The one module of the page that talks to Rust: the sidecar plugin's typed client
// (tauri-plugin-sidecar-api: calls typed from rpc.discover, state, notifications, logs)
// plus this app's own two commands (the grant flow's pickers) and closing the window.
// Everything is imported from npm packages and bundled into dist-web/main.js by
// scripts/build-frontend.mjs: the app runs with withGlobalTauri: false, so no script in the
// page finds an API on window.__TAURI__. What a window may actually call is decided in Rust
// by its capability (capabilities/default.json), not here.

import { invoke } from "@tauri-apps/api/core";
import { getCurrentWindow } from "@tauri-apps/api/window";
import { asCommandError } from "tauri-plugin-sidecar-api";

export * from "tauri-plugin-sidecar-api";

/** A path the user picked and the engine may now read ("read") or write into ("write"). */
export interface Grant {
  grant_id: string;
  path: string;
  mode: "read" | "write";
  kind: "file" | "folder";
  granted_at?: string;
}

/**
 * Let the user pick a data file in a native dialog; the host grants the engine read
 * access to it. Resolves with the grant (ingest `grant.path`), or null if cancelled.
 */
export async function pickFileForIngest(): Promise<Grant | null> {
  try {
    return await invoke<Grant | null>("pick_file_for_ingest");
  } catch (err) {
    throw asCommandError(err);
  }
}

/**
 * Let the user pick a folder in a native dialog; the host grants the engine write
 * access to it. Resolves with the grant (export into `grant.path`), or null if cancelled.
 */
export async function pickExportFolder(): Promise<Grant | null> {
  try {
    return await invoke<Grant | null>("pick_export_folder");
  } catch (err) {
    throw asCommandError(err);
  }
}

/** Close the main window: the plugin stops the sidecar gracefully, then the app exits. */
export function closeWindow(): Promise<void> {
  return getCurrentWindow().close();
}
