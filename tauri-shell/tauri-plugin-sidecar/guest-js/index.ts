/**
 * The guest side of tauri-plugin-sidecar: typed calls to the sidecar engine, its state,
 * its notifications and its log, through the plugin's commands (`plugin:sidecar|...`).
 *
 * Params and results are typed from the engine's own schema (`./generated.ts`, made by
 * `npm run gen-types` from `rpc.discover`): a db.query call whose `sql` is a number does
 * not compile, and an app's own methods are typed the same way once the types are generated
 * from a sidecar that has them. A method the generated file does not know is `unknown`
 * in and out. Privileged methods (host-only ones, `system.shutdown`, `rpc.cancel`) do not
 * compile through `call`: the plugin refuses them for every webview anyway.
 *
 * What a window may actually call is decided in Rust by its capability
 * (`sidecar:allow-call` and its allow-list), not here.
 */

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type { HOST_ONLY_METHODS, SidecarMethods, SidecarNotifications } from "./generated.js";

export type * from "./generated.js";

// ------------------------------------------------------------------ the types of calls

/** Methods no webview may call, whatever its capability says (the plugin refuses them). */
export type PrivilegedMethod = (typeof HOST_ONLY_METHODS)[number] | "system.shutdown" | "rpc.cancel";
/** A method the generated types describe that a webview may be granted. */
export type CallableMethod = Exclude<keyof SidecarMethods, PrivilegedMethod>;
/** A notification the generated types describe. */
export type KnownNotification = keyof SidecarNotifications;

/** The params of `M` (unknown for a method the types do not describe). */
export type ParamsOf<M extends string> = M extends keyof SidecarMethods ? SidecarMethods[M]["params"] : unknown;
/** The result of `M` (unknown for a method the types do not describe). */
export type ResultOf<M extends string> = M extends keyof SidecarMethods ? SidecarMethods[M]["result"] : unknown;

/** What `call` takes instead of params for a privileged method: a type error that says why. */
export interface RefusedForEveryWebview {
  readonly "privileged: the plugin refuses this method for every webview": never;
}

/** Options of one call. timeoutMs: how long to wait for the answer (at most 600000; then `rpc.cancel`). */
export interface CallOptions {
  readonly timeoutMs?: number;
}

/** The arguments after the method name: params required when the method has required params. */
export type CallArgs<M extends string> = M extends PrivilegedMethod
  ? [params: RefusedForEveryWebview, options?: CallOptions]
  : M extends keyof SidecarMethods
    ? Record<string, never> extends ParamsOf<M>
      ? [params?: ParamsOf<M>, options?: CallOptions]
      : [params: ParamsOf<M>, options?: CallOptions]
    : [params?: unknown, options?: CallOptions];

// ------------------------------------------------------------------ what the plugin sends

/** The supervisor's state, as the `sidecar:state` event and `status()` carry it. */
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

/** `status()`'s answer. */
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

/** `logsPath()`'s answer. */
export interface LogsPath {
  dir: string;
  host_log: string | null;
  sidecar_log: string;
}

/**
 * A notification as a catch-all listener gets it: one of the generated ones, narrowed by
 * `method` (`if (n.method === "job.status") n.params.status`). A notification the
 * generated file does not know arrives too, typed as this union: regenerate the types.
 */
export type AnyNotification = { [N in KnownNotification]: { method: N; params: SidecarNotifications[N] } }[KnownNotification];

/** What a failed command rejects with. `kind` is stable; `message` is for people. */
export interface CommandError {
  kind: string;
  message: string;
  /** JSON-RPC error code when kind is "rpc_error". */
  code?: number;
  /** JSON-RPC error data (with `kind`, e.g. "sql_syntax", "forbidden_path") when kind is "rpc_error". */
  data?: { kind?: string; [key: string]: unknown };
  /** The method the plugin refused, when kind is "forbidden_method" (it never reached the sidecar). */
  method?: string;
  /** Why: "not_granted", "denied", "privileged" or "malformed", when kind is "forbidden_method". */
  reason?: string;
}

/** The plugin's events. */
export const EVENTS = { state: "sidecar:state", notification: "sidecar:notification", log: "sidecar:log" } as const;

/** Anything a command rejected with, as a CommandError. */
export function asCommandError(err: unknown): CommandError {
  if (err && typeof err === "object" && "kind" in err && "message" in err) return err as CommandError;
  return { kind: "shell_error", message: String(err) };
}

async function command<T>(name: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(`plugin:sidecar|${name}`, args);
  } catch (err) {
    throw asCommandError(err);
  }
}

// ------------------------------------------------------------------ commands

/** Call a sidecar method (command `call`); rejects with a CommandError. */
export function call<M extends CallableMethod | (string & {})>(method: M, ...args: CallArgs<M>): Promise<ResultOf<M>> {
  const [params, options] = args as [unknown, CallOptions | undefined];
  return command<ResultOf<M>>("call", { method, params: params ?? null, timeoutMs: options?.timeoutMs ?? null });
}

/** The supervisor's status plus the recent log lines (command `status`). */
export function status(): Promise<SidecarStatus> {
  return command<SidecarStatus>("status");
}

/** Stop the sidecar gracefully and start a new one (command `restart`); follow onState for the result. */
export function restart(): Promise<void> {
  return command<void>("restart");
}

/** Where the logs are (command `logs_path`). */
export function logsPath(): Promise<LogsPath> {
  return command<LogsPath>("logs_path");
}

/** The names of the methods the running sidecar serves (from rpc.discover). */
export async function methods(): Promise<Set<string>> {
  const doc = (await call("rpc.discover")) as { methods?: { name: string }[] };
  return new Set((doc.methods ?? []).map((m) => m.name));
}

// ------------------------------------------------------------------ events

/** Follow state changes (event `sidecar:state`). */
export function onState(handler: (state: SidecarState) => void): Promise<UnlistenFn> {
  return listen<SidecarState>(EVENTS.state, (e) => handler(e.payload));
}

/** Follow one notification, typed (event `sidecar:notification`, filtered by method). */
export function onNotification<N extends KnownNotification | (string & {})>(
  method: N,
  handler: (params: N extends KnownNotification ? SidecarNotifications[N] : unknown) => void,
): Promise<UnlistenFn> {
  return listen<{ method: string; params: never }>(EVENTS.notification, (e) => {
    if (e.payload.method === method) handler(e.payload.params);
  });
}

/** Follow every notification (event `sidecar:notification`). */
export function onAnyNotification(handler: (notification: AnyNotification) => void): Promise<UnlistenFn> {
  return listen<AnyNotification>(EVENTS.notification, (e) => handler(e.payload));
}

/** Follow the live log (event `sidecar:log`). */
export function onLog(handler: (line: LogLine) => void): Promise<UnlistenFn> {
  return listen<LogLine>(EVENTS.log, (e) => handler(e.payload));
}
