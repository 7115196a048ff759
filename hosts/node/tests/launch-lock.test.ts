/**
 * The launch lock: the Node host's lock and the Python host's (`flock` in
 * hosts/python/sidecar_host/launch_lock.py; the Rust crate's is tested against the Python
 * one in its own suite) exclude each other on the same file, through either Unix helper;
 * a launch holds it from spawn to BOOT (a stand-in that sleeps before BOOT) and drops it
 * on every other path; a Node launch and a Python launch started together pass
 * spawn -> BOOT one after the other. Each test uses its own lock file.
 */

import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { once } from "node:events";
import { afterEach, describe, test } from "node:test";

import { ExitedBeforeReady, LaunchLock, ReadyTimeout, SidecarProcess, SpawnFailed, BinaryNotFound, defaultLockPath, isLocked, type LockHelper } from "../src/index.js";
import { PYTHON, QUICK_STOPS, cleanUp, eventually, fixture, shellSidecar, spawnSidecar, start, tempDir, trackPids } from "./support.js";
import { REPO } from "./paths.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

const HELPERS: LockHelper[] = ["flock", "perl"];

function pythonIsLocked(lockPath: string): boolean {
  const code = `from pathlib import Path; from sidecar_host.launch_lock import is_locked; print(is_locked(Path(${JSON.stringify(lockPath)})))`;
  return execFileSync(PYTHON, ["-c", code], { env: { ...process.env, PYTHONPATH: REPO } }).toString().trim() === "True";
}

/** A Python process holding the lock through the Python host's LaunchLock until its stdin closes. */
async function pythonHolder(lockPath: string): Promise<ChildProcessWithoutNullStreams> {
  const code = [
    "import sys, anyio",
    "from pathlib import Path",
    "from sidecar_host.launch_lock import LaunchLock",
    "async def main():",
    `    lock = await LaunchLock.acquire(Path(${JSON.stringify(lockPath)}), 5)`,
    "    print('held' if lock.held else 'not held: %s' % lock.problem, flush=True)",
    "    sys.stdin.read()",
    "    lock.release()",
    "anyio.run(main)",
  ].join("\n");
  const child = spawn(PYTHON, ["-c", code], { env: { ...process.env, PYTHONPATH: REPO } });
  const [first] = (await once(child.stdout, "data")) as [Buffer];
  assert.equal(first.toString().trim(), "held");
  return child;
}

/** start/boot times of each slow_boot pid from its trace file. */
function readTrace(trace: string): [number, number][] {
  const seen = new Map<string, { start?: number; boot?: number }>();
  for (const line of readFileSync(trace, "utf8").trim().split("\n")) {
    const [what, pid, at] = line.split(" ");
    const entry = seen.get(pid ?? "") ?? {};
    if (what === "start") entry.start = Number(at);
    if (what === "boot") entry.boot = Number(at);
    seen.set(pid ?? "", entry);
  }
  return [...seen.values()].map((e): [number, number] => [e.start ?? NaN, e.boot ?? NaN]).sort((a, b) => a[0] - b[0]);
}

function slowBoot(trace: string | null, seconds = 1.0) {
  const options = fixture("slow_boot");
  return { ...options, env: { SLOW_BOOT_S: String(seconds), ...(trace === null ? {} : { SLOW_BOOT_TRACE: trace }) } };
}

describe("the launch lock", { skip: process.platform === "win32" ? "the Unix helpers" : false }, () => {
  test("every host computes the same file: /tmp/sidecar-launch-<uid>-<app>.lock", () => {
    const script = "from sidecar_host.launch_lock import default_lock_path as p; print(p()); print(p('My App'))";
    const python = execFileSync(PYTHON, ["-c", script], {
      env: { ...process.env, PYTHONPATH: REPO, TMPDIR: "/somewhere/else" },
    });
    assert.deepEqual(python.toString().trim().split("\n"), [defaultLockPath(), defaultLockPath("My App")]);
    assert.equal(defaultLockPath(), `/tmp/sidecar-launch-${process.getuid?.()}-PlutoDuck.lock`);
    assert.equal(defaultLockPath("My App"), `/tmp/sidecar-launch-${process.getuid?.()}-My_App.lock`);
  });

  for (const helper of HELPERS) {
    test(`${helper}: a Node hold is seen by the Python host, and released`, async () => {
      const scratch = tempDir();
      const file = path.join(scratch.dir, "launch.lock");
      const lock = await LaunchLock.acquire(file, { helpers: [helper] });
      assert.equal(lock.held, true, lock.problem ?? "");
      assert.equal(lock.helper, helper);
      assert.equal(pythonIsLocked(file), true);
      assert.equal(await isLocked(file, [helper]), true);
      lock.release();
      assert.equal(pythonIsLocked(file), false);
      assert.equal(await isLocked(file, [helper]), false);
      scratch.remove();
    });

    test(`${helper}: a Python hold makes a Node launch wait, then give up and say why; free again once released`, async () => {
      const scratch = tempDir();
      const file = path.join(scratch.dir, "launch.lock");
      const holder = await pythonHolder(file);
      const blocked = await LaunchLock.acquire(file, { waitMs: 300, helpers: [helper] });
      assert.equal(blocked.held, false);
      assert.match(blocked.problem ?? "", /still held by another launch after 300 ms/);
      holder.stdin.end();
      await once(holder, "exit");
      const free = await LaunchLock.acquire(file, { waitMs: 300, helpers: [helper] });
      assert.equal(free.held, true, free.problem ?? "");
      free.release();
      scratch.remove();
    });
  }

  for (const flock of ["missing", "broken"] as const) {
    test(`a ${flock} flock(1) falls through to perl (what a Mac, or a BusyBox flock without -w, looks like)`, async () => {
      const scratch = tempDir();
      const file = path.join(scratch.dir, "launch.lock");
      const bin = path.join(scratch.dir, "bin");
      mkdirSync(bin);
      symlinkSync(execFileSync("sh", ["-c", "command -v perl"]).toString().trim(), path.join(bin, "perl"));
      if (flock === "broken") writeFileSync(path.join(bin, "flock"), "#!/bin/sh\necho 'usage: flock [-sxun] FD' >&2\nexit 1\n", { mode: 0o755 });
      const saved = process.env["PATH"];
      process.env["PATH"] = bin; // spawn looks helpers up on this PATH
      try {
        const lock = await LaunchLock.acquire(file);
        assert.equal(lock.held, true, lock.problem ?? "");
        assert.equal(lock.helper, "perl");
        assert.equal(pythonIsLocked(file), true);
        lock.release();
      } finally {
        process.env["PATH"] = saved;
        scratch.remove();
      }
    });
  }

  test("held from spawn until BOOT, not inherited by the child, released by BOOT", async () => {
    const scratch = tempDir();
    const file = path.join(scratch.dir, "launch.lock");
    const sidecar = await spawnSidecar({ ...slowBoot(null), launchLock: file });
    assert.equal(await isLocked(file), true, "not held while the stand-in boots");
    if (process.platform === "linux") {
      const fds = readdirSync(`/proc/${sidecar.pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${sidecar.pid}/fd/${fd}`);
        } catch {
          return "";
        }
      });
      assert.ok(!fds.includes(file), "the child inherited the lock file");
    }
    await sidecar.ready();
    assert.equal(await isLocked(file), false, "still held after READY");
    assert.equal(sidecar.launchLock?.problem, null);
    assert.ok((sidecar.launchLock?.heldMs ?? 0) > 0);
    await sidecar.stop();
    scratch.remove();
  });

  test("released when the process exits before BOOT, on a READY timeout, and when the spawn fails", async () => {
    const scratch = tempDir();
    const file = path.join(scratch.dir, "launch.lock");
    const early = shellSidecar(scratch.dir, "early.sh", "echo 'no engine here' >&2\nexit 5");
    await assert.rejects(start({ ...early, launchLock: file }), ExitedBeforeReady);
    assert.equal(await isLocked(file), false, "held after an exit before BOOT");
    const silent = { ...fixture("garbage_no_ready"), launchLock: file, readyTimeoutMs: 1000, stopTimeouts: QUICK_STOPS };
    await assert.rejects(start(silent), ReadyTimeout);
    assert.equal(await isLocked(file), false, "held after a READY timeout");
    const badCwd = { ...fixture("slow_boot"), launchLock: file, cwd: path.join(scratch.dir, "no", "such", "dir") };
    const failed = await start(badCwd).catch((err: unknown) => err);
    assert.ok(failed instanceof BinaryNotFound || failed instanceof SpawnFailed, String(failed));
    assert.equal(await isLocked(file), false, "held after a failed spawn");
    scratch.remove();
  });

  test("a lock held too long is waited for, then the launch goes ahead and says why", async () => {
    const scratch = tempDir();
    const file = path.join(scratch.dir, "launch.lock");
    const holder = await pythonHolder(file);
    try {
      const sidecar = await start({ ...slowBoot(null, 0), launchLock: file, launchLockWaitMs: 300 });
      assert.equal(sidecar.launchLock?.held, false);
      assert.match(sidecar.launchLock?.problem ?? "", /still held/);
      assert.equal(((await sidecar.call("system.ping")) as { pong: boolean }).pong, true);
      await sidecar.stop();
    } finally {
      holder.stdin.end();
      await once(holder, "exit");
      scratch.remove();
    }
  });

  for (const locked of [true, false]) {
    test(`a Node launch and a Python launch at once ${locked ? "boot one after the other" : "overlap without the lock (the control)"}`, async () => {
      const scratch = tempDir();
      const file = path.join(scratch.dir, "launch.lock");
      const trace = path.join(scratch.dir, "trace");
      const pyLock = locked ? JSON.stringify(file) : "False";
      const code = [
        "import sys, anyio",
        "from sidecar_host import SidecarClient",
        "async def main():",
        `    async with SidecarClient.spawn([sys.executable, ${JSON.stringify(path.join(REPO, "tests/fixtures/bad_sidecars/slow_boot.py"))}], launch_lock=${pyLock}):`,
        "        pass",
        "anyio.run(main)",
      ].join("\n");
      const python = spawn(PYTHON, ["-c", code], {
        env: { ...process.env, PYTHONPATH: REPO, SLOW_BOOT_S: "1.5", SLOW_BOOT_TRACE: trace },
        stdio: "inherit",
      });
      const pythonExited = once(python, "exit");
      trackPids([python.pid ?? 0]);
      // The Node launch starts once the Python one is under way (its stand-in has started,
      // so with the lock the Python host holds it): then only the lock can keep them apart.
      assert.ok(await eventually(() => existsSync(trace) && readFileSync(trace, "utf8").includes("start "), 20_000));
      const node = start({ ...slowBoot(trace, 1.5), launchLock: locked ? file : false }).then((s) => s.stop());
      const [[code_]] = (await Promise.all([pythonExited, node])) as [[number | null], unknown];
      assert.equal(code_, 0);
      const launches = readTrace(trace);
      assert.equal(launches.length, 2);
      const [first, second] = launches as [[number, number], [number, number]];
      if (locked) assert.ok(second[0] >= first[1], `the second launch started before the first printed BOOT: ${JSON.stringify(launches)}`);
      else assert.ok(second[0] < first[1], `without the lock both should start at once: ${JSON.stringify(launches)}`);
      scratch.remove();
    });
  }
});
