/**
 * One real sidecar (from source, or SIDECAR_BINARY) through SidecarProcess: the handshake,
 * calls and their errors, host-only calls, notifications as typed events (test.notify and
 * a real ingest job), a timed-out call cancelled in the sidecar, stdout purity against
 * every way of printing, the stderr ring and the log file, pending calls failing on exit,
 * and start/stop cycles checked by pid.
 */

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";

import { CallTimeout, RpcCallError, SidecarExited, SidecarProcess, type UnmatchedAnswer } from "../src/index.js";
import { cleanUp, eventually, pidAlive, sidecarOptions, start, tempDir, underTestIsBinary, waitGone } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

describe("a running sidecar", () => {
  const scratch = tempDir("sidecar-node-", false); // shared by the suite: after() removes it
  const logFile = path.join(scratch.dir, "host", "sidecar-host.log");
  let sidecar: SidecarProcess;

  before(async () => {
    sidecar = await SidecarProcess.start(sidecarOptions(path.join(scratch.dir, "data"), { logFile })); // after() stops it
  });

  after(async () => {
    const report = await sidecar.stop();
    assert.equal(report.step, "shutdown_request");
    assert.deepEqual(report.status, { code: 0, signal: null });
    assert.equal(report.shutdownReason, "normal");
    assert.deepEqual(sidecar.violations, [], "stdout held something other than protocol lines");
    scratch.remove();
  });

  test("the handshake: BOOT names the engine's pid and version, READY came, the launch lock is released", async () => {
    const status = await sidecar.call("system.status");
    assert.equal(sidecar.enginePid, status.pid);
    assert.equal(sidecar.version, status.version);
    assert.equal(sidecar.boot?.fields["protocol"], "1");
    assert.ok(sidecar.readyAt !== null && sidecar.startupMs !== null);
    if (!underTestIsBinary()) assert.equal(status.pid, sidecar.pid, "from source the spawned process is the engine");
    assert.equal(sidecar.launchLock?.held, false);
    assert.equal(sidecar.launchLock?.problem, null);
  });

  test("calls: results are typed values, twenty concurrent calls each get their own answer", async () => {
    const pong = await sidecar.call("system.ping");
    assert.equal(pong.pong, true);
    const values = Array.from({ length: 20 }, (_, i) => ({ i, text: "é".repeat(i) }));
    const answers = await Promise.all(values.map((value) => sidecar.call("test.echo", { value })));
    assert.deepEqual(answers, values);
  });

  test("error answers carry the code, data.kind and the JSON path", async () => {
    const missing = await sidecar.call("no.such.method").catch((err: unknown) => err);
    assert.ok(missing instanceof RpcCallError);
    assert.equal(missing.code, -32601);
    assert.equal(missing.errorKind, "method_not_found");
    const bad = await sidecar.call("test.sleep", { seconds: "soon" }).catch((err: unknown) => err);
    assert.ok(bad instanceof RpcCallError);
    assert.equal(bad.code, -32602);
    assert.equal((bad.data as { path?: string }).path, "$.seconds");
  });

  test("host-only calls carry the launch's key; without it the engine refuses them", async () => {
    const grant = await sidecar.grant(scratch.dir, "write");
    assert.equal(grant.mode, "write");
    assert.equal(grant.kind, "folder");
    const grants = await sidecar.call("files.grants");
    assert.ok(grants.grants.some((g) => g.grant_id === grant.grant_id));
    const revoked = await sidecar.callHost("files.revoke", { grant_id: grant.grant_id });
    assert.equal(revoked.revoked, true);
    // Frames without the key, or with a guess (what a page that slipped past the host could send):
    const refused = await sidecar.callRaw("files.grant", { path: scratch.dir, mode: "read" }).catch((err: unknown) => err);
    assert.ok(refused instanceof RpcCallError);
    assert.equal(refused.errorKind, "invalid_params"); // host_key is a required param
    const guessed = await sidecar
      .callRaw("files.grant", { path: scratch.dir, mode: "read", host_key: "0".repeat(64) })
      .catch((err: unknown) => err);
    assert.ok(guessed instanceof RpcCallError && guessed.errorKind === "host_only");
  });

  test("the host key is in the sidecar's environment only, never in this process's or on the command line", () => {
    assert.equal(process.env["SIDECAR_HOST_KEY"], undefined);
    if (process.platform === "linux") {
      const cmdline = readFileSync(`/proc/${sidecar.pid}/cmdline`, "utf8");
      assert.ok(!/[0-9a-f]{64}/.test(cmdline), "a 64-hex-digit key on the command line");
    }
    assert.ok(!JSON.stringify(sidecar).match(/[0-9a-f]{64}/), "the key is reachable by serialising the object");
  });

  test("notifications arrive as events, in order, before the answer that follows them", async () => {
    const seqs: number[] = [];
    const off = sidecar.onNotification("test.note", (params) => seqs.push((params as { seq: number }).seq));
    const count = await sidecar.call("test.notify", { count: 50 });
    off();
    assert.equal(count, 50);
    assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i));
  });

  test("a timed-out call raises CallTimeout and is cancelled in the sidecar (rpc.cancel)", async () => {
    const unmatched: UnmatchedAnswer[] = [];
    const off = sidecar.events.on("unmatched", (u) => unmatched.push(u));
    const id = sidecar.nextRequestId;
    const timedOut = await sidecar.call("test.sleep", { seconds: 30 }, { timeoutMs: 300 }).catch((err: unknown) => err);
    assert.ok(timedOut instanceof CallTimeout, String(timedOut));
    assert.ok(
      await eventually(async () => (await sidecar.call("system.status")).inflight.length === 0, 5000),
      "the sleep kept running after the timeout",
    );
    assert.ok(await eventually(() => unmatched.length > 0, 5000), "no late answer to the cancelled call");
    off();
    const late = unmatched[0]?.value as { id: number; error: { data: { kind: string } } };
    assert.equal(late.id, id);
    assert.equal(late.error.data.kind, "cancelled");
  });

  test("stdout stays pure whatever the engine prints: print(), write(1), C printf, a child's stdout", async () => {
    for (const method of ["test.print", "test.write_fd1", "test.c_printf"]) {
      assert.equal(await sidecar.call(method, { text: `stray output from ${method}\n` }), true);
    }
    const child = (await sidecar.call("test.child_stdout", { text: "from a child" })) as { exit_code: number };
    assert.equal(child.exit_code, 0);
    assert.equal((await sidecar.call("system.ping")).pong, true);
    assert.deepEqual(sidecar.violations, []);
  });

  test("stderr is kept in the ring and written to the log file with the host's own messages", async () => {
    await sidecar.call("test.print", { text: "marker-for-the-log" });
    assert.ok(await eventually(() => sidecar.stderrTail().some((l) => l.includes("marker-for-the-log")), 5000));
    const text = readFileSync(logFile, "utf8");
    assert.match(text, new RegExp(`\\d+ stderr pid=${sidecar.pid} .*marker-for-the-log`));
    assert.match(text, new RegExp(`\\d+ host pid=${sidecar.pid} spawned `));
    assert.match(text, /host pid=0 launch lock .*: held/);
  });
});

describe("jobs: the engine's notifications as typed events", () => {
  test("an ingest job reports job.status and job.progress until it succeeded", async () => {
    const scratch = tempDir();
    const data = path.join(scratch.dir, "data");
    mkdirSync(path.join(data, "imports"), { recursive: true, mode: 0o700 });
    const rows = Array.from({ length: 500 }, (_, i) => `${i},region${i % 4},${i * 1.5}`);
    writeFileSync(path.join(data, "imports", "sales.csv"), ["id,region,amount", ...rows].join("\n") + "\n");
    const sidecar = await start(sidecarOptions(data));
    try {
      const statuses: string[] = [];
      const progress: number[] = [];
      let resolveDone: (result: unknown) => void = () => {};
      const done = new Promise((resolve) => (resolveDone = resolve));
      sidecar.onNotification("job.status", (note) => {
        statuses.push(note.status);
        if (note.status === "succeeded" || note.status === "failed") resolveDone(note.result ?? note.error);
      });
      sidecar.onNotification("job.progress", (note) => progress.push(note.progress));
      const submitted = await sidecar.call("jobs.submit", { type: "ingest", payload: { table: "sales", source: "sales.csv" } });
      assert.equal(submitted.status, "queued");
      const result = (await done) as { rows: number; table: string };
      assert.deepEqual(statuses, ["queued", "running", "succeeded"]);
      assert.equal(result.rows, 500);
      assert.equal(progress.at(-1), 1);
      assert.deepEqual([...progress].sort((a, b) => a - b), progress, "progress went down");
      const counted = await sidecar.call("db.query", { sql: "SELECT count(*) AS n FROM sales" });
      assert.deepEqual(counted.rows, [[500]]);
    } finally {
      await sidecar.stop();
      scratch.remove();
    }
  });
});

describe("the process ends", () => {
  test("pending calls fail with SidecarExited, naming the status, when the sidecar is killed", async () => {
    const scratch = tempDir();
    const sidecar = await start(sidecarOptions(scratch.dir));
    try {
      const pending = sidecar.call("test.sleep", { seconds: 30 }).catch((err: unknown) => err);
      assert.equal((await sidecar.call("system.ping")).pong, true); // the sleep is in flight
      await sidecar.killTree();
      const failed = await pending;
      assert.ok(failed instanceof SidecarExited, String(failed));
      assert.equal(failed.status?.signal, "SIGKILL");
      assert.equal(failed.method, "test.sleep");
      const after = await sidecar.call("system.ping").catch((err: unknown) => err);
      assert.ok(after instanceof SidecarExited, "a call after the exit must fail at once");
    } finally {
      await sidecar.stop();
      scratch.remove();
    }
  });

  test("six start/stop cycles on one data dir leave no process behind (checked by pid)", async () => {
    const scratch = tempDir();
    const pids: number[] = [];
    try {
      for (let cycle = 0; cycle < 6; cycle += 1) {
        const sidecar = await start(sidecarOptions(scratch.dir));
        assert.equal((await sidecar.call("system.ping")).pong, true, `cycle ${cycle}`);
        const engine = sidecar.enginePid;
        assert.ok(engine !== null);
        const report = await sidecar.stop();
        assert.equal(report.step, "shutdown_request", `cycle ${cycle}`);
        assert.deepEqual(report.status, { code: 0, signal: null }, `cycle ${cycle}`);
        assert.equal(pidAlive(sidecar.pid), false, `cycle ${cycle}: pid ${sidecar.pid} alive after stop`);
        assert.deepEqual(await waitGone([engine], 2000), [], `cycle ${cycle}: engine ${engine} alive`);
        assert.equal(sidecar.treeAlive(), false, `cycle ${cycle}: the process group outlived stop`);
        pids.push(sidecar.pid, engine);
      }
      assert.deepEqual(pids.filter(pidAlive), []);
    } finally {
      scratch.remove();
    }
  });
});
