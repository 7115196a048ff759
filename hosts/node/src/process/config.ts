/**
 * How to start one sidecar and how long each step may take: the options and their
 * defaults, the same numbers as the Rust crate (`process/mod.rs`) and the Python client.
 */

import { HOST_KEY_ENV } from "./host-key.js";
import type { LockHelper } from "./launch-lock.js";

/** Wait this long for READY after spawning (a cold onefile start takes seconds). */
export const READY_TIMEOUT_MS = 20_000;
/** Default time limit of one call. */
export const CALL_TIMEOUT_MS = 30_000;
/** Stop step 1: for the answer to `system.shutdown`, then again for the exit. */
export const SHUTDOWN_REQUEST_TIMEOUT_MS = 3_000;
/** Stop step 2: for the exit after stdin is closed. */
export const STDIN_CLOSE_TIMEOUT_MS = 2_000;
/** Stop step 3: for the exit after SIGTERM (Unix; on Windows the step only waits). */
export const SIGTERM_TIMEOUT_MS = 3_000;
/** Stop step 4: for the exit after SIGKILL of the process group (Windows: taskkill /T /F). */
export const SIGKILL_TIMEOUT_MS = 2_000;
/** After the exit, wait this long for the last stdout lines (a grandchild may hold the pipe open). */
export const PIPE_DRAIN_TIMEOUT_MS = 1_000;
/** Stderr lines kept in the ring. */
export const STDERR_TAIL_LINES = 200;
/** Stderr lines an error message carries (the newest of those kept): a Python traceback's worth. */
export const ERROR_STDERR_TAIL_LINES = 20;
/** Protocol violations kept per process (a sidecar printing garbage in a loop must not grow the host). */
export const MAX_VIOLATIONS_KEPT = 1000;
/** Stdout lines kept before READY, for the READY-timeout message. */
export const LINES_KEPT_BEFORE_READY = 100;
/** Largest stdout line accepted from the sidecar (results can be big). */
export const MAX_STDOUT_LINE_BYTES = 512 * 1024 * 1024;
/** Largest stderr line kept whole. */
export const MAX_STDERR_LINE_BYTES = 1024 * 1024;

/** How long each stop step waits before the next. */
export interface StopTimeouts {
  /** For the answer to `system.shutdown`, then again for the exit. */
  readonly shutdownRequestMs: number;
  /** For the exit after stdin is closed. */
  readonly stdinCloseMs: number;
  /** For the exit after SIGTERM. */
  readonly sigtermMs: number;
  /** For the exit after SIGKILL of the process group. */
  readonly sigkillMs: number;
}

export const DEFAULT_STOP_TIMEOUTS: StopTimeouts = {
  shutdownRequestMs: SHUTDOWN_REQUEST_TIMEOUT_MS,
  stdinCloseMs: STDIN_CLOSE_TIMEOUT_MS,
  sigtermMs: SIGTERM_TIMEOUT_MS,
  sigkillMs: SIGKILL_TIMEOUT_MS,
};

/** How to start one sidecar process and talk to it. Only `command` is required. */
export interface SidecarOptions {
  /** The executable: a path (a packaged app: {@link sidecarPathInResources}) or a name on PATH. */
  readonly command: string;
  /** Its arguments (e.g. `["--heartbeat-interval", "2"]`). */
  readonly args?: readonly string[];
  /** Environment variables added to this process's (a value of undefined removes one). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Start from an empty environment instead of this process's (default false). */
  readonly cleanEnv?: boolean;
  /** The sidecar's data dir, passed as `APP_DATA_DIR` (as seeds 002/003 do; `--data-dir` in args wins). */
  readonly appDataDir?: string;
  /** The sidecar's log folder, passed as `LOG_DIR` (default `<data dir>/logs`). */
  readonly logDir?: string;
  /** Working directory (default this process's). */
  readonly cwd?: string;
  /** How long to wait for READY (default {@link READY_TIMEOUT_MS}). */
  readonly readyTimeoutMs?: number;
  /** Default per-call timeout (default {@link CALL_TIMEOUT_MS}). */
  readonly callTimeoutMs?: number;
  /** The stop sequence's step timeouts (each defaults as in {@link DEFAULT_STOP_TIMEOUTS}). */
  readonly stopTimeouts?: Partial<StopTimeouts>;
  /** Stderr lines kept (default {@link STDERR_TAIL_LINES}). */
  readonly stderrTailLines?: number;
  /** Largest stdout line accepted (default {@link MAX_STDOUT_LINE_BYTES}). */
  readonly maxLineBytes?: number;
  /** A file for the sidecar's stderr and the host's own messages (default none). */
  readonly logFile?: string | null;
  /**
   * The launch lock held from spawn to BOOT: true (default) the machine's shared file,
   * a string another lock file, false none (docs/NODE.md "The launch lock").
   */
  readonly launchLock?: boolean | string;
  /**
   * The app name the binary was built with (default "PlutoDuck"): the launch lock is one per
   * user and app, as the binary's extraction folder is `<cache>/<app name>/sidecar/...`.
   */
  readonly appName?: string;
  /** Longest wait for the launch lock before spawning without it (default 30 s). */
  readonly launchLockWaitMs?: number;
  /** The lock helpers to try, in order (default flock then perl on Unix, powershell on Windows). */
  readonly launchLockHelpers?: readonly LockHelper[];
  /** true (default): a fresh host key for this launch; a string: that key; false: none (host-only methods off). */
  readonly hostKey?: boolean | string;
  /**
   * Stop the sidecar when this Node process exits (default true): an `exit` hook closes its
   * stdin and sends SIGTERM, both graceful, so the sidecar shuts down on its own. Node runs
   * no `exit` hook on a signal it does not handle: see `stopOnSignals` (host-exit.ts).
   */
  readonly stopOnHostExit?: boolean;
}

/** The environment the sidecar starts with: this process's (unless `cleanEnv`), the options', the host key. */
export function childEnv(options: SidecarOptions, hostKey: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = options.cleanEnv === true ? {} : { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  if (options.appDataDir !== undefined) env["APP_DATA_DIR"] = options.appDataDir;
  if (options.logDir !== undefined) env["LOG_DIR"] = options.logDir;
  if (hostKey !== null) env[HOST_KEY_ENV] = hostKey;
  else delete env[HOST_KEY_ENV]; // never pass on a key this process was itself started with
  return env;
}
