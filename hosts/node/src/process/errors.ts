/**
 * Everything the host can report, one class per case, each with a message that says
 * what happened and what to look at, and a stable `kind` (the same names as the Rust
 * crate's `Error::kind()`) for UIs and logs that switch on it.
 */

import { constants } from "node:os";

import { errorKind, type ErrorObject } from "../protocol/jsonrpc.js";

/** How a process ended. code: its exit code, or null when a signal ended it. signal: that signal's name. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The protocol's convention for a status as one number: the code, or minus the signal number. */
export function statusNumber(status: ExitStatus | null): number | null {
  if (status === null) return null;
  if (status.code !== null) return status.code;
  const signum = status.signal === null ? undefined : constants.signals[status.signal];
  return signum === undefined ? null : -signum;
}

/** `status 7`, `signal SIGKILL`, or `status not yet known`. */
export function describeStatus(status: ExitStatus | null): string {
  if (status === null) return "status not yet known";
  if (status.code !== null) return `status ${status.code}`;
  return `signal ${status.signal ?? "unknown"}`;
}

const STDERR_LINES_SHOWN = 10;
const STDOUT_LINES_SHOWN = 10;

function tailText(lines: readonly string[]): string {
  return lines.length === 0 ? "(no stderr)" : lines.slice(-STDERR_LINES_SHOWN).join("\n  ");
}

function seenText(lines: readonly string[]): string {
  if (lines.length === 0) return "none";
  const shown = lines.slice(0, STDOUT_LINES_SHOWN).map((l) => JSON.stringify(l));
  const more = lines.length > STDOUT_LINES_SHOWN ? ` (and ${lines.length - STDOUT_LINES_SHOWN} more)` : "";
  return `[${shown.join(", ")}]${more}`;
}

function lastLine(lines: readonly string[]): string {
  return JSON.stringify(lines.at(-1) ?? "(none)");
}

/** The stable names of the cases. */
export type SidecarErrorKind =
  | "binary_not_found"
  | "spawn_failed"
  | "exited_before_ready"
  | "ready_timeout"
  | "rpc_error"
  | "call_timeout"
  | "sidecar_exited"
  | "not_running"
  | "hung"
  | "restart_limit";

/** The base class of every host-side sidecar error. */
export abstract class SidecarError extends Error {
  /** A short stable name for the case. */
  abstract readonly kind: SidecarErrorKind;
  /** Whether starting the sidecar again could help (false for a missing binary). */
  get retryable(): boolean {
    return true;
  }
}

/** The sidecar did not reach READY. */
export abstract class SidecarStartError extends SidecarError {}

/** The executable does not exist or cannot be run. path: the path tried. reason: why. */
export class BinaryNotFound extends SidecarStartError {
  override readonly name = "BinaryNotFound";
  readonly kind = "binary_not_found";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `sidecar binary not found or not executable: ${path} (${reason}); build it or fix the path ` +
        "(a packaged app finds it under process.resourcesPath, see sidecarPathInResources)",
    );
  }
  override get retryable(): boolean {
    return false;
  }
}

/** Spawning failed for another reason than a missing or non-executable file. */
export class SpawnFailed extends SidecarStartError {
  override readonly name = "SpawnFailed";
  readonly kind = "spawn_failed";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`could not start the sidecar ${path}: ${reason}`);
  }
  override get retryable(): boolean {
    return false;
  }
}

/** The process ended before READY. status: how. stderrTail: its last stderr lines. linesSeen: its stdout lines. */
export class ExitedBeforeReady extends SidecarStartError {
  override readonly name = "ExitedBeforeReady";
  readonly kind = "exited_before_ready";
  constructor(
    readonly status: ExitStatus | null,
    readonly stderrTail: readonly string[],
    readonly linesSeen: readonly string[],
  ) {
    super(
      `sidecar exited (${describeStatus(status)}) before READY; stdout lines seen: ${seenText(linesSeen)}; ` +
        `stderr tail:\n  ${tailText(stderrTail)}`,
    );
  }
}

/** No READY within the timeout (the process was then stopped). linesSeen: stdout printed instead. */
export class ReadyTimeout extends SidecarStartError {
  override readonly name = "ReadyTimeout";
  readonly kind = "ready_timeout";
  constructor(
    readonly timeoutMs: number,
    readonly linesSeen: readonly string[],
    readonly stderrTail: readonly string[],
  ) {
    super(
      `sidecar printed no READY within ${timeoutMs} ms; stdout lines seen instead: ${seenText(linesSeen)}; ` +
        `last stderr line: ${lastLine(stderrTail)}`,
    );
  }
}

/** The sidecar answered with a JSON-RPC error. code, data: the error object; errorKind: `data.kind`. */
export class RpcCallError extends SidecarError {
  override readonly name = "RpcCallError";
  readonly kind = "rpc_error";
  readonly code: number;
  readonly data: unknown;
  /** `data.kind`, the stable name of the error (`sql_syntax`, `method_not_found`, ...), or null. */
  readonly errorKind: string | null;
  constructor(
    readonly method: string,
    readonly error: ErrorObject,
  ) {
    const kind = errorKind(error);
    super(`${method} failed: ${error.code} ${error.message} (kind=${kind ?? "none"})`);
    this.code = error.code;
    this.data = error.data;
    this.errorKind = kind;
  }
}

/** No answer within the call's timeout; the sidecar was sent `rpc.cancel` for it. */
export class CallTimeout extends SidecarError {
  override readonly name = "CallTimeout";
  readonly kind = "call_timeout";
  constructor(
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(`${method}: no answer within ${timeoutMs} ms (rpc.cancel sent)`);
  }
}

/** The sidecar is gone: every pending call fails with this. method: the call that was pending. */
export class SidecarExited extends SidecarError {
  override readonly name = "SidecarExited";
  readonly kind = "sidecar_exited";
  constructor(
    readonly method: string,
    readonly status: ExitStatus | null,
    readonly stderrTail: readonly string[],
  ) {
    super(
      `sidecar connection closed (${describeStatus(status)}) while ${method} was pending; ` +
        `last stderr line: ${lastLine(stderrTail)}`,
    );
  }
}

/** A call was made while no sidecar is ready (starting, restarting, stopped or failed). */
export class NotRunning extends SidecarError {
  override readonly name = "NotRunning";
  readonly kind = "not_running";
  constructor(readonly state: string) {
    super(`the sidecar is not running (state: ${state}); wait for it to be ready or restart it`);
  }
}

/** No HEARTBEAT for too long: the sidecar was declared hung and killed. */
export class Hung extends SidecarError {
  override readonly name = "Hung";
  readonly kind = "hung";
  constructor(
    readonly silentForMs: number,
    readonly limitMs: number,
  ) {
    super(`sidecar declared hung: no HEARTBEAT for ${silentForMs} ms (limit ${limitMs} ms); it was killed`);
  }
}

/** Too many restarts within the window: the supervisor gave up. */
export class RestartLimit extends SidecarError {
  override readonly name = "RestartLimit";
  readonly kind = "restart_limit";
  constructor(
    readonly restarts: number,
    readonly windowMs: number,
    readonly lastError: string,
  ) {
    super(`sidecar gave up after ${restarts} restarts within ${windowMs} ms; last error: ${lastError}`);
  }
  override get retryable(): boolean {
    return false;
  }
}
