/** The pieces without processes: restart policy and budget, the state table, the logs, paths, the emitter, errors. */

import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, test } from "node:test";

import {
  Emitter,
  ExitedBeforeReady,
  HostLog,
  IllegalTransition,
  LOG_ROTATE_BYTES,
  MOVES,
  RestartBudget,
  StderrRing,
  backoffMs,
  canMove,
  checkExecutable,
  checkMove,
  externalBinFileName,
  hangLimitMs,
  sidecarPathInResources,
  statusNumber,
  targetTriple,
  type StateName,
} from "../src/index.js";
import { newHostKey, paramsWithHostKey } from "../src/process/host-key.js";
import { cleanUp, tempDir } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

describe("restart policy", () => {
  const policy = { maxRestarts: 3, windowMs: 1000, initialBackoffMs: 100, maxBackoffMs: 700 };

  test("the delay doubles up to the cap", () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffMs(policy, n)), [100, 200, 400, 700, 700]);
    assert.equal(backoffMs(policy, 10_000), 700);
  });

  test("the budget counts restarts in a sliding window, and a reset forgets them", () => {
    const budget = new RestartBudget(policy);
    assert.deepEqual(budget.next(0), { attempt: 1, delayMs: 100 });
    assert.deepEqual(budget.next(10), { attempt: 2, delayMs: 200 });
    assert.deepEqual(budget.next(20), { attempt: 3, delayMs: 400 });
    assert.equal(budget.next(30), null, "a fourth restart within the window");
    assert.equal(budget.spent(30), 3);
    assert.deepEqual(budget.next(1005), { attempt: 3, delayMs: 400 }, "the first one left the window");
    budget.reset();
    assert.deepEqual(budget.next(1006), { attempt: 1, delayMs: 100 });
    assert.equal(new RestartBudget({ ...policy, maxRestarts: 0 }).next(0), null);
  });

  test("hung after `missed` silent intervals", () => {
    assert.equal(hangLimitMs({ intervalMs: 2000, missed: 3 }), 6000);
    assert.equal(hangLimitMs({ intervalMs: 2000, missed: 0 }), 2000);
  });
});

describe("the state table", () => {
  test("the moves the supervisor makes are allowed, others are not", () => {
    assert.ok(canMove("starting", "ready") && canMove("ready", "restarting") && canMove("restarting", "starting"));
    assert.ok(canMove("failed", "starting") && canMove("stopping", "stopped") && canMove("stopped", "starting"));
    for (const [from, to] of [
      ["stopped", "ready"],
      ["ready", "starting"],
      ["stopping", "ready"],
      ["ready", "ready"],
    ] as [StateName, StateName][]) {
      assert.equal(canMove(from, to), false, `${from} -> ${to}`);
      assert.throws(() => checkMove(from, to), IllegalTransition);
    }
  });

  test("every state can be stopped, except while stopping", () => {
    for (const from of Object.keys(MOVES) as StateName[]) {
      assert.equal(canMove(from, "stopping"), from !== "stopping" && from !== "stopped", from);
    }
  });
});

describe("logs", () => {
  test("the ring keeps the last lines", () => {
    const ring = new StderrRing(3);
    for (let i = 0; i < 5; i += 1) ring.push(`l${i}`);
    assert.deepEqual(ring.tail(10), ["l2", "l3", "l4"]);
    assert.deepEqual(ring.tail(1), ["l4"]);
  });

  test("the log file gets every line (0600), listeners too; it rotates once past the size", () => {
    const scratch = tempDir();
    const file = path.join(scratch.dir, "sub", "host.log");
    const log = new HostLog(file);
    const live: string[] = [];
    const off = log.subscribe((line) => live.push(`${line.source}:${line.line}`));
    log.write("stderr", 7, '{"msg":"hi"}');
    log.host(7, "state ready");
    off();
    log.host(7, "unheard");
    const text = readFileSync(file, "utf8");
    assert.match(text, /^\d+ stderr pid=7 \{"msg":"hi"\}\n\d+ host pid=7 state ready\n/);
    assert.deepEqual(live, ['stderr:{"msg":"hi"}', "host:state ready"]);
    if (process.platform !== "win32") assert.equal(statSync(file).mode & 0o777, 0o600);
    const big = "x".repeat(64 * 1024);
    for (let written = 0; written <= LOG_ROTATE_BYTES; written += big.length) log.host(7, big);
    assert.ok(statSync(file + ".1").size > LOG_ROTATE_BYTES - big.length, "no rotation");
    assert.ok(statSync(file).size < LOG_ROTATE_BYTES);
    log.close();
    scratch.remove();
  });

  test("a log file that cannot be opened is a problem, not a crash", () => {
    const scratch = tempDir();
    writeFileSync(path.join(scratch.dir, "blocker"), "");
    const log = new HostLog(path.join(scratch.dir, "blocker", "host.log"));
    log.host(1, "goes nowhere");
    assert.match(log.problem ?? "", /cannot write/);
    scratch.remove();
  });
});

describe("paths", () => {
  test("target triples and externalBin names", () => {
    assert.equal(targetTriple("linux", "x64"), "x86_64-unknown-linux-gnu");
    assert.equal(targetTriple("darwin", "arm64"), "aarch64-apple-darwin");
    assert.equal(targetTriple("win32", "x64"), "x86_64-pc-windows-msvc");
    assert.equal(targetTriple("aix", "ppc64"), null);
    assert.equal(externalBinFileName("sidecar", "x86_64-pc-windows-msvc"), "sidecar-x86_64-pc-windows-msvc.exe");
    assert.equal(externalBinFileName("sidecar", "aarch64-apple-darwin"), "sidecar-aarch64-apple-darwin");
  });

  test("the packaged binary sits under process.resourcesPath/sidecar/", () => {
    const resources = "/opt/My App/resources";
    assert.equal(
      sidecarPathInResources(resources, { triple: "x86_64-unknown-linux-gnu" }),
      path.join(resources, "sidecar", "sidecar-x86_64-unknown-linux-gnu"),
    );
    assert.equal(sidecarPathInResources(resources, { folder: "bin", name: "engine", triple: "aarch64-apple-darwin" }), path.join(resources, "bin", "engine-aarch64-apple-darwin"));
  });

  test("checkExecutable resolves relative paths and names on PATH", () => {
    assert.equal(checkExecutable("sh", process.cwd(), { PATH: "/nonexistent:/bin:/usr/bin" }).endsWith("/sh"), true);
    assert.throws(() => checkExecutable("./no-such-file", "/tmp"), /\/tmp\/no-such-file \(no such file\)/);
    assert.throws(() => checkExecutable("/tmp"), /not a file/);
  });
});

describe("small things", () => {
  test("a listener that throws does not stop the others", () => {
    const emitter = new Emitter<{ tick: [number] }>();
    const errors: unknown[] = [];
    emitter.onListenerError = (err) => errors.push(err);
    const seen: number[] = [];
    emitter.on("tick", () => {
      throw new Error("boom");
    });
    emitter.on("tick", (n) => seen.push(n));
    emitter.once("tick", (n) => seen.push(n * 10));
    emitter.emit("tick", 1);
    emitter.emit("tick", 2);
    assert.deepEqual(seen, [1, 10, 2]);
    assert.equal(errors.length, 2);
  });

  test("host keys are 64 fresh hex characters, added to params", () => {
    const a = newHostKey();
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.notEqual(a, newHostKey());
    assert.deepEqual(paramsWithHostKey({ path: "/x" }, a), { path: "/x", host_key: a });
  });

  test("statuses as one number: the code, or minus the signal", () => {
    assert.equal(statusNumber({ code: 7, signal: null }), 7);
    assert.equal(statusNumber({ code: null, signal: "SIGKILL" }), -9);
    assert.equal(statusNumber(null), null);
  });

  test("start errors show the first stdout lines and the last stderr lines", () => {
    const lines = Array.from({ length: 12 }, (_, i) => `l${i}`);
    const error = new ExitedBeforeReady({ code: 1, signal: null }, lines, lines);
    assert.match(error.message, /\["l0", .*"l9"\] \(and 2 more\)/);
    assert.ok(error.message.endsWith("l2\n  l3\n  l4\n  l5\n  l6\n  l7\n  l8\n  l9\n  l10\n  l11"), error.message);
  });
});
