/**
 * The supervisor's states and the table of allowed moves between them (the Rust
 * crate's `process/state.rs`; the same names reach a UI as `state` events):
 *
 * ```text
 *   STARTING --ready--> READY --exit/hung--> RESTARTING --delay--> STARTING
 *      |                  |                       |
 *      +--start error-----+----------------> FAILED (budget spent, or a missing binary)
 *   any --stop--> STOPPING --> STOPPED;  FAILED/STOPPED --restart--> STARTING
 * ```
 *
 * An illegal move is a bug in the supervisor: {@link checkMove} throws {@link IllegalTransition}.
 */

/** The state with the details a UI shows. */
export type SidecarState =
  /** Spawned (or about to be), waiting for READY. attempt: 0 first, n for the n-th restart in the window. */
  | { readonly state: "starting"; readonly attempt: number; readonly program: string }
  /** READY seen; calls are served. pid: spawned; enginePid: from BOOT. startupMs: spawn to READY. */
  | {
      readonly state: "ready";
      readonly pid: number;
      readonly enginePid: number | null;
      readonly version: string | null;
      readonly startupMs: number;
    }
  /** Waiting before the next start. reason: the exit (status, stderr), the hang, the start error, or a request. */
  | { readonly state: "restarting"; readonly attempt: number; readonly reason: string; readonly delayMs: number }
  /** Running the stop sequence. */
  | { readonly state: "stopping"; readonly reason: string }
  /** Stopped by the host. reason: why, and how the process ended. */
  | { readonly state: "stopped"; readonly reason: string }
  /** Gave up. kind: the error's stable name. error: its full message. */
  | { readonly state: "failed"; readonly kind: string; readonly error: string };

/** A state's name. */
export type StateName = SidecarState["state"];

/** The table: from each state, where it may go. */
export const MOVES: Readonly<Record<StateName, readonly StateName[]>> = {
  starting: ["ready", "restarting", "failed", "stopping"],
  ready: ["restarting", "stopping", "failed"],
  restarting: ["starting", "failed", "stopping"],
  stopping: ["stopped"],
  failed: ["starting", "stopping"],
  stopped: ["starting"],
};

/** A move the table does not allow. */
export class IllegalTransition extends Error {
  override readonly name = "IllegalTransition";
  constructor(
    readonly from: StateName,
    readonly to: StateName,
  ) {
    super(`illegal sidecar state move ${from} -> ${to}`);
  }
}

/** Whether the table allows `from` -> `to`. */
export function canMove(from: StateName, to: StateName): boolean {
  return MOVES[from].includes(to);
}

/** Throw {@link IllegalTransition} unless the table allows `from` -> `to`. */
export function checkMove(from: StateName, to: StateName): void {
  if (!canMove(from, to)) throw new IllegalTransition(from, to);
}

/** One line for logs: the name and its main detail. */
export function describeState(s: SidecarState): string {
  switch (s.state) {
    case "starting":
      return `starting (attempt ${s.attempt}): ${s.program}`;
    case "ready":
      return `ready: pid ${s.pid}, engine pid ${s.enginePid ?? "?"}, version ${s.version ?? "?"}, READY after ${s.startupMs} ms`;
    case "restarting":
      return `restarting (restart ${s.attempt}) in ${s.delayMs} ms: ${s.reason}`;
    case "stopping":
      return `stopping: ${s.reason}`;
    case "stopped":
      return `stopped: ${s.reason}`;
    case "failed":
      return `failed (${s.kind}): ${s.error}`;
  }
}
