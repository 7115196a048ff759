/**
 * Helpers shared by the tests that run real processes.
 *
 * The sidecar under test comes from the environment, as in tests/support.py, so the same
 * suite runs against the source and against a built binary:
 * `SIDECAR_BINARY=/path/to/sidecar-<triple>` runs that file; otherwise
 * `<repo>/.venv/bin/python -m sidecar` with the repository on PYTHONPATH.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { SidecarProcess, Supervisor, type SidecarOptions, type SupervisorOptions } from "../src/index.js";
import { BAD_SIDECARS_DIR, REPO } from "./paths.js";

/** The repo's Python (the sidecar from source, the Python host for cross-host tests). */
export const PYTHON = path.join(REPO, ".venv", "bin", "python");

/** True when the suite runs against a packaged binary. */
export function underTestIsBinary(): boolean {
  return (process.env["SIDECAR_BINARY"] ?? "") !== "";
}

/** The sidecar command under test: [program, ...args]. */
export function sidecarCommand(): [string, ...string[]] {
  const binary = process.env["SIDECAR_BINARY"];
  if (binary !== undefined && binary !== "") return [binary];
  return [PYTHON, "-m", "sidecar"];
}

/** The environment additions for a sidecar under test: test methods on, the repo importable, no inherited dirs. */
export function sidecarEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    SIDECAR_TEST_METHODS: "1",
    PYTHONPATH: REPO + (process.env["PYTHONPATH"] ? path.delimiter + process.env["PYTHONPATH"] : ""),
    SIDECAR_DATA_DIR: undefined,
    APP_DATA_DIR: undefined,
    LOG_DIR: undefined,
    ...extra,
  };
}

/**
 * The launch lock the process tests take: one file for every Node test file (so their
 * launches of a onefile binary are serialised like any host's), but not the machine's
 * shared one, which other suites running on the same machine hold for seconds at a time.
 * tests/launch-lock.test.ts tests the shared file itself.
 */
export const TEST_LAUNCH_LOCK = `/tmp/sidecar-node-tests-${process.getuid?.() ?? 0}.lock`;

/** Options for the sidecar under test with its data dir and the usual test arguments. */
export function sidecarOptions(dataDir: string, overrides: Partial<SidecarOptions> & { extraArgs?: readonly string[]; heartbeat?: number } = {}): SidecarOptions {
  const [command, ...args] = sidecarCommand();
  const { extraArgs = [], heartbeat = 0, ...rest } = overrides;
  return {
    command,
    args: [...args, "--data-dir", dataDir, "--heartbeat-interval", String(heartbeat), ...extraArgs],
    env: sidecarEnv(),
    readyTimeoutMs: 30_000,
    launchLock: TEST_LAUNCH_LOCK,
    ...rest,
  };
}

/** A bad stand-in sidecar from tests/fixtures/bad_sidecars/ as [program, ...args]. */
export function fixture(name: string): SidecarOptions {
  return { command: PYTHON, args: [path.join(BAD_SIDECARS_DIR, `${name}.py`)], launchLock: false };
}

/**
 * A fresh temporary folder, removed by the returned function, and by {@link cleanUp} should
 * the test fail before that (`tracked: false` for a folder a whole suite shares).
 */
export function tempDir(prefix = "sidecar-node-", tracked = true): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  if (tracked) folders.add(dir);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** True if `pid` exists and is not a zombie (Linux reads /proc; elsewhere signal 0). */
export function pidAlive(pid: number): boolean {
  if (process.platform === "linux") {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      return state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait until none of `pids` is alive, at most `ms`; returns the survivors. */
export async function waitGone(pids: readonly number[], ms: number): Promise<number[]> {
  const deadline = performance.now() + ms;
  for (;;) {
    const alive = pids.filter(pidAlive);
    if (alive.length === 0 || performance.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Wait until `check()` is true, at most `ms`; returns whether it became true. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The pids of the processes whose parent is `pid` (Linux /proc). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A small shell-script sidecar written into `dir` (for the stop-step tests), as options. */
export function shellSidecar(dir: string, name: string, body: string): SidecarOptions {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return { command: file, launchLock: false };
}

/** Stop steps short enough for tests that climb the whole ladder. */
export const QUICK_STOPS = { shutdownRequestMs: 500, stdinCloseMs: 500, sigtermMs: 500, sigkillMs: 2000 } as const;

// ---- cleanup: whatever a failed assertion left running or on disk, ended after each test

const running = new Set<SidecarProcess>();
const strays = new Set<number>();
const supervisors = new Set<Supervisor>();
const folders = new Set<string>();

/** SidecarProcess.start, remembered for {@link cleanUp}. */
export async function start(options: SidecarOptions): Promise<SidecarProcess> {
  return track(await SidecarProcess.start(options));
}

/** SidecarProcess.spawn, remembered for {@link cleanUp}. */
export async function spawnSidecar(options: SidecarOptions): Promise<SidecarProcess> {
  return track(await SidecarProcess.spawn(options));
}

/** Supervisor.start, remembered for {@link cleanUp}. */
export function supervise(options: SupervisorOptions): Supervisor {
  return track(Supervisor.start(options));
}

/** Remember pids (a host program and its sidecar) that {@link cleanUp} SIGKILLs if still alive. */
export function trackPids(pids: readonly number[]): void {
  for (const pid of pids) strays.add(pid);
}

/** Remember a process or supervisor for {@link cleanUp}. */
export function track<T extends SidecarProcess | Supervisor>(target: T): T {
  if (target instanceof Supervisor) supervisors.add(target);
  else running.add(target);
  return target;
}

/**
 * After each test (`afterEach(cleanUp)`): stop the supervisors, kill the process trees and
 * remove the folders a test left behind when an assertion failed half-way, so one failure
 * neither leaves processes nor keeps the test file from ending.
 */
export async function cleanUp(): Promise<void> {
  for (const supervisor of supervisors) await supervisor.stop("test cleanup");
  for (const sidecar of running) {
    if (sidecar.running || sidecar.treeAlive()) await sidecar.killTree();
  }
  for (const pid of strays) {
    if (pidAlive(pid)) process.kill(pid, "SIGKILL");
  }
  supervisors.clear();
  running.clear();
  strays.clear();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  folders.clear();
}
