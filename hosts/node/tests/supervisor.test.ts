/**
 * The Supervisor with real processes: a restart with backoff after the sidecar is
 * SIGKILLed, a hung sidecar (event loop blocked, no HEARTBEAT) declared hung and
 * restarted, the restart budget spent -> failed, a missing binary failing at once, a
 * requested restart, notifications forwarded across restarts, calls refused while not ready.
 */

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { NotRunning, SidecarExited, Supervisor, type SidecarState, type SupervisorOptions } from "../src/index.js";
import { cleanUp, fixture, pidAlive, sidecarOptions, supervise, tempDir, waitGone } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

/** Record every state; `until(pred)` resolves with the first state (seen or coming) matching it. */
function recorder(supervisor: Supervisor): { states: SidecarState[]; until: (pred: (s: SidecarState) => boolean, from?: number) => Promise<SidecarState> } {
  const states: SidecarState[] = [];
  const waiters: { pred: (s: SidecarState) => boolean; from: number; resolve: (s: SidecarState) => void }[] = [];
  supervisor.events.on("state", (s) => {
    states.push(s);
    for (const w of [...waiters]) {
      if (states.length - 1 >= w.from && w.pred(s)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(s);
      }
    }
  });
  const until = (pred: (s: SidecarState) => boolean, from = 0): Promise<SidecarState> => {
    const seen = states.slice(from).find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.push({ pred, from, resolve }));
  };
  return { states, until };
}

const FAST_RESTARTS = { initialBackoffMs: 50, maxBackoffMs: 1000, maxRestarts: 5, windowMs: 60_000 };

describe("the supervisor", () => {
  test("restarts a SIGKILLed sidecar with backoff: a new pid, the old one gone, notifications from the new one", async () => {
    const scratch = tempDir();
    const supervisor = supervise({ sidecar: sidecarOptions(scratch.dir), restart: FAST_RESTARTS });
    const { states, until } = recorder(supervisor);
    try {
      await supervisor.waitReady(30_000);
      const first = supervisor.process;
      assert.ok(first !== null);
      const oldPid = first.pid;
      const oldEngine = first.enginePid ?? oldPid;
      const mark = states.length;
      process.kill(oldPid, "SIGKILL");
      const restarting = await until((s) => s.state === "restarting", mark);
      assert.ok(restarting.state === "restarting");
      assert.equal(restarting.attempt, 1);
      assert.equal(restarting.delayMs, FAST_RESTARTS.initialBackoffMs);
      assert.match(restarting.reason, /SIGKILL/);
      const ready = await until((s) => s.state === "ready", mark);
      assert.ok(ready.state === "ready" && ready.pid !== oldPid);
      assert.deepEqual(await waitGone([oldPid, oldEngine], 2000), []);
      assert.equal(supervisor.status().restarts, 1);
      const seqs: number[] = [];
      supervisor.onNotification("test.note", (p) => seqs.push((p as { seq: number }).seq));
      assert.equal(await supervisor.call("test.notify", { count: 3 }), 3);
      assert.deepEqual(seqs, [0, 1, 2]);
    } finally {
      await supervisor.stop();
      scratch.remove();
    }
    assert.equal(supervisor.state.state, "stopped");
  });

  test("a sidecar whose HEARTBEATs stop is declared hung, killed and restarted; its pending call fails", async () => {
    const scratch = tempDir();
    const options: SupervisorOptions = {
      sidecar: sidecarOptions(scratch.dir, { heartbeat: 0.3 }),
      heartbeat: { intervalMs: 300, missed: 3 },
      restart: FAST_RESTARTS,
    };
    const supervisor = supervise(options);
    const { states, until } = recorder(supervisor);
    try {
      await supervisor.waitReady(30_000);
      const hungPid = supervisor.process?.pid ?? 0;
      const mark = states.length;
      const blocked = supervisor.call("test.block", { seconds: 60 }).catch((err: unknown) => err);
      const restarting = await until((s) => s.state === "restarting", mark);
      assert.ok(restarting.state === "restarting");
      assert.match(restarting.reason, /declared hung: no HEARTBEAT/);
      assert.ok((await blocked) instanceof SidecarExited);
      const ready = await until((s) => s.state === "ready", mark);
      assert.ok(ready.state === "ready" && ready.pid !== hungPid);
      assert.equal(pidAlive(hungPid), false);
    } finally {
      await supervisor.stop();
      scratch.remove();
    }
  });

  test("gives up when the restart budget is spent (delays doubling), restarts on request, stops", async () => {
    const supervisor = supervise({ sidecar: fixture("exits_before_ready"), restart: { ...FAST_RESTARTS, maxRestarts: 3 } });
    const { states, until } = recorder(supervisor);
    const failed = await until((s) => s.state === "failed");
    assert.ok(failed.state === "failed");
    assert.equal(failed.kind, "restart_limit");
    assert.match(failed.error, /status 7/);
    const delays = states.flatMap((s) => (s.state === "restarting" ? [s.delayMs] : []));
    assert.deepEqual(delays, [50, 100, 200]);
    assert.deepEqual(
      states.map((s) => s.state),
      ["starting", "restarting", "starting", "restarting", "starting", "restarting", "starting", "failed"],
    );
    await assert.rejects(supervisor.waitReady(1000), NotRunning);
    await assert.rejects(supervisor.call("system.ping"), NotRunning);
    const mark = states.length;
    await supervisor.restart(); // a fresh budget
    const again = await until((s) => s.state === "failed", mark);
    assert.ok(again.state === "failed");
    assert.equal(states.filter((s, i) => i >= mark && s.state === "restarting").length, 3);
    assert.equal(await supervisor.stop(), null); // nothing was running
    assert.equal(supervisor.state.state, "stopped");
  });

  test("a missing binary fails at once, without restarts", async () => {
    const supervisor = supervise({ sidecar: { command: "/nonexistent/sidecar-x86_64-unknown-linux-gnu" } });
    const { states, until } = recorder(supervisor);
    const failed = await until((s) => s.state === "failed");
    assert.ok(failed.state === "failed");
    assert.equal(failed.kind, "binary_not_found");
    assert.match(failed.error, /\/nonexistent\/sidecar-x86_64-unknown-linux-gnu/);
    assert.deepEqual(
      states.map((s) => s.state),
      ["starting", "failed"],
    );
    await supervisor.stop();
  });

  test("a requested restart stops the old process gracefully and does not spend the budget", async () => {
    const scratch = tempDir();
    const supervisor = supervise({ sidecar: sidecarOptions(scratch.dir), restart: FAST_RESTARTS });
    const { states, until } = recorder(supervisor);
    try {
      await supervisor.waitReady(30_000);
      const old = supervisor.process;
      assert.ok(old !== null);
      const mark = states.length;
      await supervisor.restart();
      assert.equal(old.running, false, "restart() resolved before the old process was gone");
      assert.equal(old.shutdownReason, "normal");
      const ready = await until((s) => s.state === "ready", mark);
      assert.ok(ready.state === "ready" && ready.pid !== old.pid);
      const restarting = states.slice(mark).find((s) => s.state === "restarting");
      assert.deepEqual(restarting, { state: "restarting", attempt: 0, reason: "restart requested", delayMs: 0 });
      assert.equal(supervisor.status().restarts, 0);
    } finally {
      const report = await supervisor.stop();
      assert.equal(report?.step, "shutdown_request");
      assert.equal(await supervisor.stop(), report, "a second stop gives the same answer");
      scratch.remove();
    }
    await assert.rejects(supervisor.call("system.ping"), NotRunning);
  });
});
