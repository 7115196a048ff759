/**
 * The no-orphan guarantees when the host process itself goes away, with a real Node host
 * program (tests/host-script.ts) and the real sidecar, checked by pid:
 * the host SIGKILLed (nothing runs in it: the sidecar must notice and exit), the host
 * calling process.exit() (the exit hook), and the host sent SIGTERM (stopOnSignals runs
 * the graceful stop first).
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { cleanUp, tempDir, trackPids, waitGone } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

const HOST_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "host-script.js");

interface Host {
  readonly hostPid: number;
  readonly pids: number[];
  readonly lines: AsyncIterator<string>;
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
}

async function startHost(mode: string, dataDir: string): Promise<Host> {
  const child = spawn(process.execPath, [HOST_SCRIPT, mode, dataDir], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  assert.ok(!first.done, "the host printed nothing");
  const { pid, enginePid } = JSON.parse(first.value as string) as { pid: number; enginePid: number | null };
  trackPids([child.pid ?? 0, pid, enginePid ?? pid]);
  return { hostPid: child.pid ?? 0, pids: [...new Set([pid, enginePid ?? pid])], lines, exited };
}

/** The sidecar's own log records (its log file in the data dir): [msg, reason]. */
function loggedRecords(dataDir: string): [string, string | null][] {
  const text = readFileSync(path.join(dataDir, "logs", "sidecar.log"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { msg?: string; reason?: string })
    .map((record): [string, string | null] => [record.msg ?? "", record.reason ?? null]);
}

describe("when the host goes away", { skip: process.platform === "win32" ? "Unix signals" : false }, () => {
  test("SIGKILL of the host: the sidecar exits by itself (parent death, stdin EOF)", async () => {
    const scratch = tempDir();
    const host = await startHost("wait", scratch.dir);
    process.kill(host.hostPid, "SIGKILL");
    await host.exited;
    assert.deepEqual(await waitGone(host.pids, 5000), [], "the sidecar outlived its SIGKILLed host");
    scratch.remove();
  });

  test("process.exit() in the host: the exit hook stops the sidecar, gracefully", async () => {
    const scratch = tempDir();
    const host = await startHost("exit", scratch.dir);
    const [code] = await host.exited;
    assert.equal(code, 0);
    assert.deepEqual(await waitGone(host.pids, 5000), [], "the sidecar outlived its host's exit");
    // It was asked to stop (stdin EOF, SIGTERM), not killed. Its last records may be missing:
    // the launcher is gone too, and the sidecar's watchdog ends it 0.9 s after that (PROTOCOL.md 6).
    const asked = loggedRecords(scratch.dir).filter(([msg]) => msg === "stdin closed" || msg === "signal received");
    assert.ok(asked.length > 0, JSON.stringify(loggedRecords(scratch.dir).slice(-5)));
    scratch.remove();
  });

  test("SIGTERM to the host: stopOnSignals runs the stop ladder, then the host exits 143", async () => {
    const scratch = tempDir();
    const host = await startHost("signals", scratch.dir);
    process.kill(host.hostPid, "SIGTERM");
    const report = await host.lines.next();
    assert.ok(!report.done);
    const parsed = JSON.parse(report.value as string) as { step: string; shutdownReason: string | null };
    assert.equal(parsed.step, "shutdown_request");
    assert.equal(parsed.shutdownReason, "normal");
    const [code] = await host.exited;
    assert.equal(code, 143);
    assert.deepEqual(await waitGone(host.pids, 2000), []);
    scratch.remove();
  });
});
