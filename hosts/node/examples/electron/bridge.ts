/**
 * The Electron main process's side of the sidecar, without Electron itself: what main.ts
 * wires to `ipcMain`, the window's `webContents` and `app`, and what the tests drive with
 * plain Node stand-ins (Electron cannot be installed on the CI machines).
 *
 * The renderer is untrusted (docs/SECURITY.md): it gets a narrow API (preload.ts), and
 * every call it makes is checked here against an allow-list of methods before it
 * reaches the sidecar. Host-only methods (`files.grant`, `secrets.get`, ...) and
 * `system.shutdown` are refused whatever the list says: the host key never leaves this
 * process; a file the user picked in a native dialog is granted by main, not by the page.
 */

import { Supervisor, type SupervisorOptions, RpcCallError, SidecarError, HOST_ONLY_METHODS } from "sidecar-host";

/** IPC channels between preload.ts and this file. */
export const CHANNELS = {
  call: "sidecar:call",
  status: "sidecar:status",
  restart: "sidecar:restart",
  pickAndGrant: "sidecar:pick-and-grant",
  state: "sidecar:state",
  notification: "sidecar:notification",
  log: "sidecar:log",
} as const;

/** The methods (or `namespace.*`) a page may call: a read-and-query console with jobs. */
export const DEFAULT_ALLOWED_METHODS: readonly string[] = [
  "system.ping",
  "system.status",
  "db.query",
  "db.tables",
  "db.describe",
  "db.export",
  "jobs.*",
  "runs.*",
  "reports.get",
  "settings.get",
  "files.grants",
];

/** Never callable from a page, whatever the allow-list says. */
const NEVER_FROM_A_PAGE: readonly string[] = [...HOST_ONLY_METHODS, "system.shutdown", "rpc.cancel"];

/** What `ipcMain` offers that the bridge uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: unknown, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

/** A call from the page, as preload.ts sends it. */
export interface PageCall {
  readonly method: string;
  readonly params?: unknown;
  readonly timeoutMs?: number;
}

/** How a refused or failed call reaches the page: plain data (IPC carries no classes). */
export interface PageError {
  readonly kind: string;
  readonly message: string;
  readonly code?: number;
  readonly errorKind?: string | null;
}

/** The outcome of a page's call: IPC rejections lose their fields, so errors are values. */
export type PageResult = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: PageError };

/** Whether `method` is on `allowed` (exact names or `namespace.*`) and not host-only. */
export function pageMayCall(method: string, allowed: readonly string[] = DEFAULT_ALLOWED_METHODS): boolean {
  if (NEVER_FROM_A_PAGE.includes(method) || method.startsWith("test.")) return false;
  return allowed.some((entry) => (entry.endsWith(".*") ? method.startsWith(entry.slice(0, -1)) : entry === method));
}

function pageError(err: unknown): PageError {
  if (err instanceof RpcCallError) return { kind: err.kind, message: err.message, code: err.code, errorKind: err.errorKind };
  if (err instanceof SidecarError) return { kind: err.kind, message: err.message };
  return { kind: "error", message: err instanceof Error ? err.message : String(err) };
}

function isPageCall(value: unknown): value is PageCall {
  return typeof value === "object" && value !== null && "method" in value && typeof value.method === "string";
}

/** Options of {@link startSidecarBridge}. */
export interface BridgeOptions {
  /** How to run the sidecar. */
  readonly supervisor: SupervisorOptions;
  /** `ipcMain`. */
  readonly ipc: IpcMainLike;
  /** Send an event to the window (`win.webContents.send`), if it still exists. */
  readonly send: (channel: string, payload: unknown) => void;
  /** The methods a page may call (default {@link DEFAULT_ALLOWED_METHODS}). */
  readonly allowedMethods?: readonly string[];
  /** Show a native open dialog; resolves with the chosen path, or null when cancelled. */
  readonly pickFile?: () => Promise<string | null>;
}

/** The running bridge: the supervisor, and the function that removes the IPC handlers. */
export interface Bridge {
  readonly supervisor: Supervisor;
  readonly close: () => void;
}

/** Start the sidecar under a supervisor and answer the page's IPC. */
export function startSidecarBridge(options: BridgeOptions): Bridge {
  const supervisor = Supervisor.start(options.supervisor);
  const allowed = options.allowedMethods ?? DEFAULT_ALLOWED_METHODS;
  const offs = [
    supervisor.events.on("state", (state) => options.send(CHANNELS.state, state)),
    supervisor.events.on("notification", (note) => options.send(CHANNELS.notification, note)),
    supervisor.events.on("log", (line) => options.send(CHANNELS.log, line)),
  ];
  options.ipc.handle(CHANNELS.call, async (_event, call): Promise<PageResult> => {
    if (!isPageCall(call)) return { ok: false, error: { kind: "bad_request", message: "expected {method, params?}" } };
    if (!pageMayCall(call.method, allowed)) {
      return { ok: false, error: { kind: "forbidden_method", message: `${call.method} may not be called from the page` } };
    }
    const timeout = typeof call.timeoutMs === "number" ? { timeoutMs: Math.min(call.timeoutMs, 600_000) } : {};
    try {
      return { ok: true, result: JSON.parse(await supervisor.callRaw(call.method, call.params, timeout)) as unknown };
    } catch (err) {
      return { ok: false, error: pageError(err) };
    }
  });
  options.ipc.handle(CHANNELS.status, () => {
    const { recentLogs, ...status } = supervisor.status();
    return { ...status, recentLogs: recentLogs.slice(-20) };
  });
  options.ipc.handle(CHANNELS.restart, async (): Promise<PageResult> => {
    try {
      await supervisor.restart();
      return { ok: true, result: null };
    } catch (err) {
      return { ok: false, error: pageError(err) };
    }
  });
  options.ipc.handle(CHANNELS.pickAndGrant, async (_event, mode): Promise<PageResult> => {
    // The page asks; main shows the dialog and grants what the user chose, with the host key.
    const picked = options.pickFile === undefined ? null : await options.pickFile();
    if (picked === null) return { ok: true, result: null };
    try {
      return { ok: true, result: await supervisor.grant(picked, mode === "write" ? "write" : "read") };
    } catch (err) {
      return { ok: false, error: pageError(err) };
    }
  });
  const close = (): void => {
    for (const off of offs) off();
    for (const channel of [CHANNELS.call, CHANNELS.status, CHANNELS.restart, CHANNELS.pickAndGrant]) options.ipc.removeHandler(channel);
  };
  return { supervisor, close };
}

/** What `app` offers that {@link stopBeforeQuit} uses. */
export interface AppLike {
  on(event: "before-quit", listener: (event: { preventDefault(): void }) => void): unknown;
  quit(): void;
}

/**
 * On `before-quit`: hold the quit, run the sidecar's graceful stop, then quit for real.
 * (Electron quits without waiting for promises, so the first quit is prevented.)
 */
export function stopBeforeQuit(app: AppLike, bridge: Bridge): void {
  let stopped = false;
  app.on("before-quit", (event) => {
    if (stopped) return;
    event.preventDefault();
    bridge.close();
    void bridge.supervisor.stop("the app is quitting").finally(() => {
      stopped = true;
      app.quit();
    });
  });
}
