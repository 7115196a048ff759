/**
 * The launch lock: sidecar launches on one machine pass spawn -> BOOT one at a time.
 *
 * Why (issue-log 0012): two Nuitka onefile bootstraps started together on an empty
 * extraction cache rewrite files the other has mapped, and one dies of SIGBUS. Every
 * host (Python: hosts/python/sidecar_host/launch_lock.py, Rust: process/launch_lock.rs,
 * this one) holds one exclusive lock from just before the spawn until BOOT, on the same
 * file, locked the same way, so a Node launch and a Python or Rust launch exclude each
 * other too (docs/TAURI.md "The launch lock" gives the reasons for one file per user).
 *
 * Where: `/tmp/sidecar-launch-<uid>-<app>.lock` on Unix (not `os.tmpdir()`: it reads `$TMPDIR`,
 * which differs between shells and test runners, and every host must agree);
 * `<GetTempPath()>\sidecar-launch.lock` on Windows (there `os.tmpdir()` is libuv's
 * GetTempPathW, the same function the other hosts call).
 *
 * How, on Unix. The other hosts take `flock(LOCK_EX)` on the file. Node's standard
 * library has no flock, and `fs.open(..., "wx")` lock files or `fcntl` record locks would
 * not conflict with it. But a flock lock belongs to the open file description, not to
 * the process that asked: so this host opens the file itself (O_NOFOLLOW, mode 0600,
 * used only if this user owns it; libuv opens it close-on-exec, so the sidecar never
 * inherits it) and hands that descriptor as fd 3 to a tiny helper, `flock -x -w SECS 3`
 * from util-linux, or where that is missing (macOS, the BSDs) a five-line `perl` script
 * that polls `flock(LOCK_EX|LOCK_NB)`. The helper takes the lock on the shared
 * description and exits; the lock stays held through this process's descriptor until
 * {@link LaunchLock.release} closes it, or until this process dies and the kernel closes
 * it: exactly the lifetime the Python and Rust hosts' locks have. Cost: one short-lived
 * process per launch (a few ms). Limit: without either helper there is no lock (the
 * launch goes ahead and `problem` says why).
 *
 * How, on Windows. The other hosts lock byte 0 (`LockFileEx`, `msvcrt.locking`), a lock
 * that belongs to a handle and cannot be handed over. So a PowerShell helper opens the
 * file, locks byte 0 (`FileStream.Lock`, i.e. `LockFile`: the ranges overlap), prints
 * `held`, and keeps the lock until its stdin closes: at release, or when this process
 * dies (the pipe closes with it). This path is written for Windows but not run by the
 * tests here (there is no Windows machine); docs/NODE.md says so.
 *
 * A held lock is waited for at most `waitMs`; after that, or when the file or the helper
 * cannot be used, the launch goes ahead without it: the lock guards one race, it is never
 * a reason not to start.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, constants as fsConstants, fstatSync, openSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Longest wait for another launch's lock before starting without it (the other hosts use 30 s too). */
export const LAUNCH_LOCK_WAIT_MS = 30_000;
/** How often the perl and PowerShell helpers try a held lock again (flock(1) blocks instead). */
export const LAUNCH_LOCK_POLL_MS = 20;

/** Which helper takes the lock: util-linux flock(1), a perl one-liner, or PowerShell (Windows). */
export type LockHelper = "flock" | "perl" | "powershell";

/** The app name of this repository's own app, the sidecar's default. */
export const DEFAULT_APP_NAME = "PlutoDuck";

/**
 * The lock file every host on this machine uses for this user and app: the app name the
 * binary was built with, every character outside `[A-Za-z0-9._-]` replaced by `_` (the
 * same rule as sidecar_host.launch_lock and the Rust host).
 */
export function defaultLockPath(appName: string = DEFAULT_APP_NAME): string {
  const app = appName.replace(/[^A-Za-z0-9._-]/g, "_");
  if (process.platform === "win32") {
    return path.join(os.tmpdir(), `sidecar-launch-${app}.lock`);
  }
  return `/tmp/sidecar-launch-${process.getuid?.() ?? 0}-${app}.lock`;
}

/** Options of {@link LaunchLock.acquire}. */
export interface AcquireOptions {
  /** Longest wait for a lock another launch holds (default {@link LAUNCH_LOCK_WAIT_MS}). */
  readonly waitMs?: number;
  /** Helpers to try, in order (default: flock then perl on Unix, powershell on Windows). */
  readonly helpers?: readonly LockHelper[];
}

/** How a helper run ended. */
type HelperOutcome =
  | { readonly held: true; readonly holder: ChildProcess | null }
  | { readonly held: false; readonly problem: string; /** true: the helper could not do its job, try the next */ readonly missing: boolean };

/**
 * One launch's hold on the lock file.
 *
 * path: the lock file. waitedMs: how long acquiring took. helper: the helper that took it.
 * problem: why the launch went ahead without the lock, else null. heldMs: how long it was held, once released.
 */
export class LaunchLock {
  waitedMs = 0;
  problem: string | null = null;
  heldMs: number | null = null;
  helper: LockHelper | null = null;
  private fd: number | null = null;
  private holder: ChildProcess | null = null;
  private since = 0;
  private holding = false;

  private constructor(readonly path: string) {}

  /** True while the lock is held. */
  get held(): boolean {
    return this.holding;
  }

  /** Take the lock on `lockPath`, waiting up to `waitMs`; never throws for a lock problem. */
  static async acquire(lockPath: string, options: AcquireOptions = {}): Promise<LaunchLock> {
    const lock = new LaunchLock(lockPath);
    const waitMs = options.waitMs ?? LAUNCH_LOCK_WAIT_MS;
    const helpers = options.helpers ?? (process.platform === "win32" ? ["powershell"] : ["flock", "perl"]);
    const started = performance.now();
    let fd: number | null = null;
    if (process.platform !== "win32") {
      try {
        fd = openLockFile(lockPath);
      } catch (err) {
        lock.problem = `cannot open ${lockPath}: ${errorText(err)}`;
        return lock;
      }
    }
    const problems: string[] = [];
    for (const helper of helpers) {
      const outcome = await runHelper(helper, lockPath, fd, waitMs);
      if (outcome.held) {
        lock.fd = fd;
        lock.holder = outcome.holder;
        lock.helper = helper;
        lock.holding = true;
        lock.since = performance.now();
        break;
      }
      problems.push(`${helper}: ${outcome.problem}`);
      if (!outcome.missing) break; // the helper said another launch holds it: the next one would say the same
    }
    if (!lock.holding) {
      if (fd !== null) closeSync(fd);
      lock.problem = `launch lock ${lockPath} not taken (${problems.join("; ")})`;
    }
    lock.waitedMs = Math.round(performance.now() - started);
    return lock;
  }

  /** Drop the lock (idempotent). */
  release(): void {
    if (!this.holding) return;
    this.holding = false;
    this.heldMs = Math.round(performance.now() - this.since);
    if (this.fd !== null) {
      closeSync(this.fd); // the last descriptor of the locked description: the kernel drops the lock
      this.fd = null;
    }
    if (this.holder !== null) {
      this.holder.stdin?.end(); // the PowerShell helper unlocks and exits when its stdin closes
      this.holder = null;
    }
  }
}

/** Whether another open file holds the lock on `lockPath` right now (for tests and diagnostics). */
export async function isLocked(lockPath: string, helpers?: readonly LockHelper[]): Promise<boolean> {
  const lock = await LaunchLock.acquire(lockPath, { waitMs: 0, ...(helpers ? { helpers } : {}) });
  if (lock.held) {
    lock.release();
    return false;
  }
  return lock.problem !== null && lock.problem.includes("still held");
}

function openLockFile(lockPath: string): number {
  const flags = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;
  const fd = openSync(lockPath, flags, 0o600);
  const uid = process.getuid?.();
  if (uid !== undefined && fstatSync(fd).uid !== uid) {
    closeSync(fd); // another user's file in a shared /tmp: not ours to trust
    throw new Error("owned by another user");
  }
  return fd;
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** Lock fd 3 (the shared description) with a bounded wait: exit 0 held, 1 still held by another. */
const PERL_LOCK = `
use Fcntl qw(:flock);
open(my $fh, "+<&=", 3) or exit 3;
my $tries = int($ARGV[0] / ${LAUNCH_LOCK_POLL_MS});
for (my $i = 0; ; $i++) {
  exit 0 if flock($fh, LOCK_EX | LOCK_NB);
  exit 1 if $i >= $tries;
  select(undef, undef, undef, ${LAUNCH_LOCK_POLL_MS / 1000});
}`;

/** Lock byte 0 of the file, say `held`, keep it until stdin closes. Exit 1: still held by another. */
function powershellScript(lockPath: string, waitMs: number): string {
  const quoted = lockPath.replace(/'/g, "''");
  return `
$f = [System.IO.File]::Open('${quoted}', 'OpenOrCreate', 'ReadWrite', 'ReadWrite')
$sw = [Diagnostics.Stopwatch]::StartNew()
while ($true) {
  try { $f.Lock(0, 1); break } catch [System.IO.IOException] {
    if ($sw.ElapsedMilliseconds -ge ${waitMs}) { exit 1 }
    Start-Sleep -Milliseconds ${LAUNCH_LOCK_POLL_MS}
  }
}
[Console]::Out.WriteLine('held'); [Console]::Out.Flush()
$null = [Console]::In.ReadToEnd()
$f.Unlock(0, 1); $f.Close()`;
}

function helperCommand(helper: LockHelper, lockPath: string, waitMs: number): [string, string[]] {
  switch (helper) {
    case "flock":
      // Short options: the ones every flock(1) knows (a BusyBox one has no -w: it prints its usage, see below).
      return ["flock", waitMs > 0 ? ["-x", "-w", String(waitMs / 1000), "3"] : ["-x", "-n", "3"]];
    case "perl":
      return ["perl", ["-e", PERL_LOCK, String(waitMs)]];
    case "powershell": {
      const encoded = Buffer.from(powershellScript(lockPath, waitMs), "utf16le").toString("base64");
      return ["powershell.exe", ["-NoProfile", "-NonInteractive", "-EncodedCommand", encoded]];
    }
  }
}

/** Run one helper; resolves once it holds the lock, gave up, or could not run. */
function runHelper(helper: LockHelper, lockPath: string, fd: number | null, waitMs: number): Promise<HelperOutcome> {
  const [program, args] = helperCommand(helper, lockPath, waitMs);
  const holds = helper === "powershell"; // it keeps the lock itself; the others lock our fd and exit
  if (!holds && fd === null) {
    return Promise.resolve({ held: false, problem: "no lock file descriptor", missing: false });
  }
  return new Promise((resolve) => {
    let stderr = "";
    let settled = false;
    const settle = (outcome: HelperOutcome): void => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const child = spawn(program, args, {
      stdio: holds ? ["pipe", "pipe", "pipe"] : ["ignore", "ignore", "pipe", fd],
      windowsHide: true,
    });
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderr = (stderr + text).slice(-500);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      settle({ held: false, problem: `cannot run ${program}: ${errorText(err)}`, missing: err.code === "ENOENT" });
    });
    if (holds) {
      child.stdin?.on("error", () => {}); // it may exit before we write or close: not our error
      child.stdout?.setEncoding("utf8").on("data", (text: string) => {
        if (text.includes("held")) settle({ held: true, holder: child });
      });
    }
    child.on("exit", (code, signal) => {
      if (code === 0 && !holds) {
        settle({ held: true, holder: null });
      } else if (code === 1 && stderr.trim() === "") {
        // A clean "no" (flock(1) prints nothing when its wait runs out): another launch holds it.
        settle({ held: false, problem: `still held by another launch after ${waitMs} ms`, missing: false });
      } else {
        // The helper itself failed (a usage error, a broken install): the next one may work.
        const how = code !== null ? `exit status ${code}` : `signal ${signal ?? "?"}`;
        settle({ held: false, problem: `${program} failed (${how}) ${stderr.trim()}`.trim(), missing: true });
      }
    });
  });
}
