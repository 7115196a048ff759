/**
 * The Electron main process's side of the sidecar, without Electron itself: what main.ts
 * wires to `ipcMain`, the window's `webContents` and `app`, and what the tests drive with
 * plain Node stand-ins (Electron cannot be installed on the CI machines).
 *
 * The renderer is untrusted (docs/SECURITY.md): it gets a narrow API (preload.ts), and
 * every call it makes is decided here by a {@link MethodPolicy} (the same rules as the
 * Tauri app's: deny by default, pinned params, privileged methods refused whatever the
 * list says, the host-only ones `rpc.discover` marks included). The host key never leaves
 * this process; a file the user picked in a native dialog is granted by main, not by the
 * page, and granted again after a restart (grants end with the process), in memory only.
 */

import {
  MethodPolicy,
  RpcCallError,
  SidecarError,
  Supervisor,
  applyPins,
  explainRefusal,
  privilegedInDiscovery,
  type MethodRule,
  type SupervisorOptions,
} from "sidecar-host";

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

/**
 * What a page may call: a read-only query console with ingest jobs. `db.query` is pinned
 * read-only and `jobs.submit` to ingest (a pipeline.run would run SQL that writes past the pin).
 */
export const DEFAULT_ALLOWED_METHODS: readonly MethodRule[] = [
  { method: "system.ping" },
  { method: "system.status" },
  { method: "db.query", params: { allow_write: false } },
  { method: "db.tables" },
  { method: "db.describe" },
  { method: "jobs.submit", params: { type: "ingest" } },
  { method: "jobs.get" },
  { method: "jobs.list" },
  { method: "jobs.cancel" },
  { method: "jobs.events" },
  { method: "runs.*" },
  { method: "reports.get" },
  { method: "settings.get" },
  { method: "files.grants" },
];

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

function pageError(err: unknown): PageError {
  if (err instanceof Error && err.name === "UnpinnableParams") return { kind: "forbidden_method", message: err.message, errorKind: "unpinnable_params" };
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
  readonly allowedMethods?: readonly (MethodRule | string)[];
  /** Methods a page may never call, even where the allow-list would let it. */
  readonly deniedMethods?: readonly (MethodRule | string)[];
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
  const denied = options.deniedMethods ?? [];
  let policy = new MethodPolicy(allowed, denied);
  const grants: { path: string; mode: "read" | "write" }[] = [];
  const onReady = async (): Promise<void> => {
    // What this engine marks host-only joins the fixed privileged list (an app's own methods too).
    const discovered = (await supervisor.call("rpc.discover").catch(() => null)) as unknown;
    policy = new MethodPolicy(allowed, denied, privilegedInDiscovery(discovered));
    // Grants end with the process: give the new one what the user picked in this session.
    for (const grant of grants) await supervisor.grant(grant.path, grant.mode).catch(() => {});
  };
  const offs = [
    supervisor.events.on("state", (state) => {
      if (state.state === "ready") void onReady();
      options.send(CHANNELS.state, state);
    }),
    supervisor.events.on("notification", (note) => options.send(CHANNELS.notification, note)),
    supervisor.events.on("log", (line) => options.send(CHANNELS.log, line)),
  ];
  options.ipc.handle(CHANNELS.call, async (_event, call): Promise<PageResult> => {
    if (!isPageCall(call)) return { ok: false, error: { kind: "bad_request", message: "expected {method, params?}" } };
    const decision = policy.decide(call.method);
    if (!decision.ok) {
      supervisor.log.host(0, `refused ${JSON.stringify(call.method)} from the page (${decision.refusal})`);
      return { ok: false, error: { kind: "forbidden_method", message: explainRefusal(decision.refusal, call.method), errorKind: decision.refusal } };
    }
    const timeout = typeof call.timeoutMs === "number" ? { timeoutMs: Math.min(call.timeoutMs, 600_000) } : {};
    try {
      const params = applyPins(decision.permit, call.params);
      return { ok: true, result: JSON.parse(await supervisor.callRaw(call.method, params, timeout)) as unknown };
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
    const grant = { path: picked, mode: mode === "write" ? ("write" as const) : ("read" as const) };
    try {
      const record = await supervisor.grant(grant.path, grant.mode);
      grants.push(grant);
      return { ok: true, result: record };
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
