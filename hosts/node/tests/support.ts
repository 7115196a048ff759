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

import type { SidecarOptions } from "../src/index.js";
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

/** Options for the sidecar under test with its data dir and the usual test arguments. */
export function sidecarOptions(dataDir: string, overrides: Partial<SidecarOptions> & { extraArgs?: readonly string[]; heartbeat?: number } = {}): SidecarOptions {
  const [command, ...args] = sidecarCommand();
  const { extraArgs = [], heartbeat = 0, ...rest } = overrides;
  return {
    command,
    args: [...args, "--data-dir", dataDir, "--heartbeat-interval", String(heartbeat), ...extraArgs],
    env: sidecarEnv(),
    readyTimeoutMs: 30_000,
    ...rest,
  };
}

/** A bad stand-in sidecar from tests/fixtures/bad_sidecars/ as [program, ...args]. */
export function fixture(name: string): SidecarOptions {
  return { command: PYTHON, args: [path.join(BAD_SIDECARS_DIR, `${name}.py`)], launchLock: false };
}

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix = "sidecar-node-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
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
