/**
 * Every failure fixture of tests/fixtures/bad_sidecars/ through the Node host: each start
 * error has its own class and an actionable message, and no process is left behind
 * (checked by pid).
 */

import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, test } from "node:test";

import {
  BinaryNotFound,
  ExitedBeforeReady,
  ReadyTimeout,
  SidecarExited,
  SidecarProcess,
  type SidecarOptions,
} from "../src/index.js";
import { QUICK_STOPS, childrenOf, cleanUp, fixture, pidAlive, spawnSidecar, start, tempDir, waitGone } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

/** Start `options` and return the error it fails with, and every pid it spawned. */
async function startError(options: SidecarOptions): Promise<{ error: unknown; pids: number[] }> {
  const sidecar = await spawnSidecar(options);
  const pids = [sidecar.pid, ...childrenOf(sidecar.pid)];
  const error = await sidecar.ready().then(
    () => null,
    (err: unknown) => err,
  );
  return { error, pids };
}

describe("start errors", () => {
  test("a missing binary names the path tried", async () => {
    const scratch = tempDir();
    const missing = path.join(scratch.dir, "binaries", "sidecar-x86_64-unknown-linux-gnu");
    const error = await start({ command: missing }).catch((err: unknown) => err);
    assert.ok(error instanceof BinaryNotFound, String(error));
    assert.equal(error.path, missing);
    assert.match(error.message, /no such file/);
    assert.equal(error.kind, "binary_not_found");
    scratch.remove();
  });

  test("a file that is not executable says so", async () => {
    const scratch = tempDir();
    const plain = path.join(scratch.dir, "sidecar");
    writeFileSync(plain, "#!/bin/sh\n");
    chmodSync(plain, 0o644);
    const error = await start({ command: plain }).catch((err: unknown) => err);
    assert.ok(error instanceof BinaryNotFound && /not executable/.test(error.message), String(error));
    scratch.remove();
  });

  test("a bare name not on PATH says where it looked", async () => {
    const error = await start({ command: "no-such-sidecar-binary" }).catch((err: unknown) => err);
    assert.ok(error instanceof BinaryNotFound && /not found on PATH/.test(error.message), String(error));
  });

  test("exit before READY: the status, the stdout lines and the stderr tail", async () => {
    const { error, pids } = await startError(fixture("exits_before_ready"));
    assert.ok(error instanceof ExitedBeforeReady, String(error));
    assert.equal(error.status?.code, 7);
    assert.ok(error.linesSeen[0]?.startsWith("BOOT "));
    assert.ok(error.stderrTail.some((line) => line.includes("permission denied")));
    assert.match(error.message, /status 7/);
    assert.match(error.message, /permission denied/);
    assert.deepEqual(await waitGone(pids, 2000), []);
  });

  test("garbage and no READY: a READY timeout listing the lines printed instead; the process is gone", async () => {
    const { error, pids } = await startError({ ...fixture("garbage_no_ready"), readyTimeoutMs: 1500, stopTimeouts: QUICK_STOPS });
    assert.ok(error instanceof ReadyTimeout, String(error));
    assert.deepEqual(error.linesSeen, ["Hello from a stray debug print", "Loading models..."]);
    assert.match(error.message, /1500 ms/);
    assert.match(error.message, /Hello from a stray debug print/);
    assert.deepEqual(await waitGone(pids, 2000), [], "the fixture outlived its READY timeout");
  });

  test("BOOT then silence: a READY timeout that shows the BOOT line; the process is gone", async () => {
    const { error, pids } = await startError({ ...fixture("silent_no_ready"), readyTimeoutMs: 1500, stopTimeouts: QUICK_STOPS });
    assert.ok(error instanceof ReadyTimeout, String(error));
    assert.equal(error.linesSeen.length, 1);
    assert.ok(error.linesSeen[0]?.startsWith("BOOT sidecar=bad-fixture"));
    assert.deepEqual(await waitGone(pids, 2000), []);
  });
});

describe("after READY", () => {
  test("READY twice is a violation, not a failure: calls work", async () => {
    const sidecar = await start(fixture("ready_twice"));
    assert.equal(((await sidecar.call("system.ping")) as { pong: boolean }).pong, true);
    const report = await sidecar.stop();
    assert.equal(report.step, "shutdown_request");
    assert.deepEqual(
      sidecar.violations.map((v) => v.kind),
      ["duplicate_ready"],
    );
  });

  test("a sidecar that ignores stdin, SIGTERM and SIGINT is ended by SIGKILL of its group", async () => {
    const sidecar = await start({ ...fixture("hang_after_ready"), stopTimeouts: QUICK_STOPS });
    const report = await sidecar.stop();
    assert.equal(report.step, "sigkill");
    assert.equal(report.shutdownReason, null);
    assert.equal(report.status?.signal, "SIGKILL");
    assert.equal(pidAlive(sidecar.pid), false);
  });

  test("a crash after READY fails the pending call with the exit status and the stderr tail", async () => {
    const sidecar = await start(fixture("crash_after_ready"));
    const error = await sidecar.call("system.ping").catch((err: unknown) => err);
    assert.ok(error instanceof SidecarExited, String(error));
    assert.equal(error.status?.code, 3);
    assert.ok(error.stderrTail.some((line) => line.includes("segfault simulated")));
    assert.match(error.message, /status 3/);
    const report = await sidecar.stop();
    assert.equal(report.step, "already_exited");
  });
});
