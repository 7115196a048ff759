/**
 * Keeping a sidecar's whole process tree together, per platform, behind one small
 * interface. A onefile build is two processes (a bootstrap and the engine it starts),
 * and the host only knows the bootstrap's pid, so "kill the sidecar" must reach both.
 *
 * Unix: the sidecar is spawned as the leader of its own process group (`detached`,
 * i.e. setsid), so SIGKILL of the group reaches the engine too, and the group can be
 * swept after the leader is gone. SIGTERM (the gentle rung) goes to the leader only: a
 * Nuitka bootstrap forwards it to the engine, which shuts down cleanly.
 *
 * Windows: the Rust host puts the sidecar in a job object with
 * JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE. Node cannot: creating a job, or a suspended
 * process to put in one before it runs, needs Win32 calls that only native code (an
 * addon) can make, and this package has no native code. So on Windows the host
 * (1) stops the sidecar through stdin as everywhere (system.shutdown, then stdin close:
 * both graceful), (2) skips the SIGTERM rung (Node's kill() on Windows is
 * TerminateProcess, not a request), and (3) ends with `taskkill /PID <pid> /T /F`, which
 * walks the tree from the bootstrap and kills every process in it. What a job would add
 * and this cannot: if the host itself dies, nothing kills the tree for it; the sidecar
 * ends itself then (stdin EOF, and its parent watch waits on the launcher's process
 * handle, docs/PROTOCOL.md section 6). And a process whose parent already died is no
 * longer found by /T. docs/NODE.md "Windows" says the same.
 */

import { spawn, type SpawnOptions } from "node:child_process";

const IS_WINDOWS = process.platform === "win32";

/** The spawn options that give the child its own tree (a process group on Unix). */
export function treeSpawnOptions(): Pick<SpawnOptions, "detached" | "windowsHide"> {
  // On Windows `detached` would open a console window for the child; there is no group to make.
  return IS_WINDOWS ? { windowsHide: true } : { detached: true };
}

/** Whether the platform has a graceful signal rung (SIGTERM). */
export const HAS_SIGTERM = !IS_WINDOWS;

/** One sidecar's process tree. pid: the spawned process, leader of the tree. */
export class ProcessTree {
  constructor(readonly pid: number) {}

  /** Ask the leader to stop (SIGTERM; Unix only). Returns whether a signal was sent. */
  terminate(): boolean {
    if (!HAS_SIGTERM) return false;
    return signal(this.pid, "SIGTERM");
  }

  /**
   * Kill every process of the tree: SIGKILL of the process group (Unix), `taskkill /T /F`
   * (Windows; resolves once taskkill has run). Also sweeps a group whose leader is gone.
   */
  async kill(): Promise<void> {
    if (!IS_WINDOWS) {
      if (!signal(-this.pid, "SIGKILL")) signal(this.pid, "SIGKILL");
      return;
    }
    await new Promise<void>((resolve) => {
      const child = spawn("taskkill", ["/PID", String(this.pid), "/T", "/F"], { stdio: "ignore", windowsHide: true });
      child.on("error", () => resolve());
      child.on("exit", () => resolve());
    });
  }

  /**
   * Whether any process of the tree is still alive: on Unix any member of the group; on
   * Windows there is no tree to ask, so null (the caller falls back to the leader).
   */
  alive(): boolean | null {
    if (IS_WINDOWS) return null;
    return signal(-this.pid, 0);
  }
}

/** `kill(pid, sig)`; false when there is no such process (or group). */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true; // it exists, but is not ours to signal (pid reuse): count it alive
    throw err;
  }
}
