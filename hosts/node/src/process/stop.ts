/**
 * Stopping a sidecar: one escalation ladder, each rung only if the ones before it did not
 * end the process, each bounded by its timeout in {@link StopTimeouts} (the Rust crate's
 * `process/stop.rs`):
 *
 * 1. `system.shutdown` (the sidecar finishes its work and exits),
 * 2. close stdin (it answers with `SHUTDOWN reason=normal`),
 * 3. SIGTERM to the process (Unix; on Windows the rung only waits),
 * 4. SIGKILL of the whole process group (Windows: `taskkill /T /F`).
 *
 * `stop()` climbs it from rung 1, `terminate()` (a hung process that cannot answer) from
 * rung 3. Either way the process tree is swept afterwards, so no grandchild outlives a stop.
 */

import type { StopTimeouts } from "./config.js";
import type { ExitStatus } from "./errors.js";
import type { HostLog } from "./log.js";
import type { ProcessTree } from "./tree.js";

/** Which stop step ended the process. */
export type StopStep = "already_exited" | "shutdown_request" | "stdin_close" | "sigterm" | "sigkill";

/** How a stop went. step: the one that ended it. status: the exit status (null if never reaped). */
export interface StopReport {
  readonly step: StopStep;
  readonly status: ExitStatus | null;
  /** The reason on its SHUTDOWN line, if it printed one. */
  readonly shutdownReason: string | null;
  readonly elapsedMs: number;
}

/** What the ladder needs of the process it stops. */
export interface Stoppee {
  readonly pid: number;
  readonly running: boolean;
  readonly exitStatus: ExitStatus | null;
  readonly shutdownReason: string | null;
  readonly log: HostLog;
  callRaw(method: string, params?: unknown, options?: { timeoutMs?: number }): Promise<string>;
  closeStdin(): void;
  waitExit(ms: number): Promise<boolean>;
}

interface Rung {
  readonly step: Exclude<StopStep, "already_exited">;
  readonly action: string;
}

/** The stop ladder, gentlest rung first. */
const LADDER: readonly Rung[] = [
  { step: "shutdown_request", action: "system.shutdown" },
  { step: "stdin_close", action: "closing stdin" },
  { step: "sigterm", action: process.platform === "win32" ? "waiting (no SIGTERM on Windows)" : "SIGTERM" },
  { step: "sigkill", action: process.platform === "win32" ? "taskkill /T /F" : "SIGKILL of the process group" },
];

/** Climb the ladder from the rung `first` until the process exits, then close stdin and sweep the tree. */
export async function climbLadder(target: Stoppee, tree: ProcessTree, first: StopStep, limits: StopTimeouts): Promise<StopReport> {
  const started = performance.now();
  let step: StopStep = "already_exited";
  if (target.running) {
    let previous: Rung | null = null;
    for (const rung of LADDER.slice(LADDER.findIndex((r) => r.step === first))) {
      step = rung.step;
      target.log.host(target.pid, previous === null ? `stop: ${rung.action}` : `stop: no exit after ${previous.action}; ${rung.action}`);
      const limit = await takeStep(target, tree, rung.step, limits);
      if (await target.waitExit(limit)) break;
      previous = rung;
    }
  }
  target.closeStdin();
  if (tree.alive() === true) {
    target.log.host(target.pid, "stop: the leader is gone but its process group is not; SIGKILL of the group");
    await tree.kill();
  }
  return {
    step,
    status: target.exitStatus,
    shutdownReason: target.shutdownReason,
    elapsedMs: Math.round(performance.now() - started),
  };
}

/** Take one step; returns how long to wait for the exit after it. */
async function takeStep(target: Stoppee, tree: ProcessTree, step: StopStep, limits: StopTimeouts): Promise<number> {
  switch (step) {
    case "already_exited":
      return 0;
    case "shutdown_request":
      // Its answer bounds the wait as much as the exit after it does.
      await target.callRaw("system.shutdown", undefined, { timeoutMs: limits.shutdownRequestMs }).catch(() => {});
      return limits.shutdownRequestMs;
    case "stdin_close":
      target.closeStdin();
      return limits.stdinCloseMs;
    case "sigterm":
      tree.terminate(); // Unix: SIGTERM to the leader; Windows: nothing to send, the step only waits
      return limits.sigtermMs;
    case "sigkill":
      await tree.kill();
      return limits.sigkillMs;
  }
}
