// The one module that talks to Rust: the six commands and the three events
// of the Tauri shell (src-tauri/src/lib.rs), typed, plus closing the window.
// It imports invoke/listen from the npm package @tauri-apps/api (bundled into
// dist-web/main.js by scripts/build-frontend.mjs): the app runs with
// withGlobalTauri: false, so no script in the page finds an API on window.__TAURI__.
// What a window may actually call is decided in Rust by its capability
// (capabilities/default.json), not here.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWindow } from "@tauri-apps/api/window";

/** The supervisor's state, as the `sidecar:state` event and `sidecar_status` carry it. */
export type SidecarState =
  | { state: "starting"; attempt: number; program: string }
  | { state: "ready"; pid: number; engine_pid: number | null; version: string | null; startup_ms: number }
  | { state: "restarting"; attempt: number; reason: string; delay_ms: number }
  | { state: "stopping"; reason: string }
  | { state: "stopped"; reason: string }
  | { state: "failed"; kind: string; error: string };

/** One log line: the sidecar's stderr or a message from the host. */
export interface LogLine {
  ts_ms: number;
  source: "stderr" | "host";
  pid: number;
  line: string;
}

/** `sidecar_status`'s answer. */
export interface SidecarStatus {
  state: SidecarState;
  pid: number | null;
  engine_pid: number | null;
  restarts: number;
  last_heartbeat_seq: number | null;
  last_heartbeat_ms_ago: number | null;
  log_file: string | null;
  uptime_ms: number;
  recent_logs: LogLine[];
}

/** `sidecar_logs_path`'s answer. */
export interface LogsPath {
  dir: string;
  host_log: string | null;
  sidecar_log: string;
}

/** A notification from the sidecar (`job.progress`, `job.status`, ...). */
export interface Notification {
  method: string;
  params: any;
}

/** What a failed command rejects with. `kind` is stable; `message` is for people. */
export interface CommandError {
  kind: string;
  message: string;
  /** JSON-RPC error code when kind is "rpc_error". */
  code?: number;
  /** JSON-RPC error data (with `kind`, e.g. "sql_syntax", "forbidden_path") when kind is "rpc_error". */
  data?: { kind?: string; [key: string]: unknown };
  /** The method the shell refused, when kind is "forbidden_method" (it never reached the sidecar). */
  method?: string;
  /** Why: "not_granted", "denied", "privileged" or "malformed", when kind is "forbidden_method". */
  reason?: string;
}

/** A path the user picked and the engine may now read ("read") or write into ("write"). */
export interface Grant {
  grant_id: string;
  path: string;
  mode: "read" | "write";
  kind: "file" | "folder";
  granted_at?: string;
}

type Unlisten = UnlistenFn;

/** Turn anything a command rejected with into a CommandError. */
export function asCommandError(err: unknown): CommandError {
  if (err && typeof err === "object" && "kind" in err && "message" in err) return err as CommandError;
  return { kind: "shell_error", message: String(err) };
}

/** Call a sidecar JSON-RPC method; rejects with a CommandError. */
export async function call<T = unknown>(method: string, params?: unknown, timeoutMs?: number): Promise<T> {
  try {
    return await invoke<T>("sidecar_call", { method, params: params ?? null, timeoutMs: timeoutMs ?? null });
  } catch (err) {
    throw asCommandError(err);
  }
}

/** The supervisor's status plus the recent log lines. */
export function status(): Promise<SidecarStatus> {
  return invoke<SidecarStatus>("sidecar_status");
}

/** Stop the sidecar gracefully and start a new one (follow onState for the result). */
export async function restart(): Promise<void> {
  try {
    await invoke<void>("sidecar_restart");
  } catch (err) {
    throw asCommandError(err);
  }
}

/** Where the logs are. */
export function logsPath(): Promise<LogsPath> {
  return invoke<LogsPath>("sidecar_logs_path");
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

/** Close the main window: the app stops the sidecar gracefully, then exits. */
export function closeWindow(): Promise<void> {
  return getCurrentWindow().close();
}

/** Follow state changes. */
export function onState(handler: (state: SidecarState) => void): Promise<Unlisten> {
  return listen<SidecarState>("sidecar:state", (e) => handler(e.payload));
}

/** Follow notifications from the sidecar. */
export function onNotification(handler: (n: Notification) => void): Promise<Unlisten> {
  return listen<Notification>("sidecar:notification", (e) => handler(e.payload));
}

/** Follow the live log. */
export function onLog(handler: (line: LogLine) => void): Promise<Unlisten> {
  return listen<LogLine>("sidecar:log", (e) => handler(e.payload));
}

/** The names of the methods the running sidecar serves (from rpc.discover). */
export async function methods(): Promise<Set<string>> {
  const doc = await call<{ methods?: { name: string }[] }>("rpc.discover");
  return new Set((doc.methods ?? []).map((m) => m.name));
}
