/**
 * The Electron example's main-process code (examples/electron/bridge.ts, what main.ts
 * wires to Electron) driven by this plain Node script playing Electron: a stand-in
 * `ipcMain` whose handlers the "page" invokes, a `send` that records what the window
 * would receive, a "dialog" that picks a file, a stand-in `app` that emits before-quit.
 * The sidecar is real.
 */

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, test } from "node:test";

import { CHANNELS, startSidecarBridge, stopBeforeQuit, type IpcMainLike, type PageResult } from "../examples/electron/bridge.js";
import { cleanUp, eventually, pidAlive, sidecarOptions, tempDir, track } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

/** `ipcMain` as far as the bridge uses it; `invoke` plays `ipcRenderer.invoke` from the page. */
class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
  handle(channel: string, listener: (event: unknown, ...args: unknown[]) => unknown): void {
    assert.ok(!this.handlers.has(channel), `a second handler for ${channel}`); // Electron throws too
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel);
    if (handler === undefined) throw new Error(`No handler registered for '${channel}'`); // Electron's message
    return structuredClone(await handler({ sender: "page" }, ...structuredClone(args))); // IPC copies both ways
  }
}

/** `app` as far as stopBeforeQuit uses it: quit() emits before-quit, and quits unless prevented. */
class FakeApp extends EventEmitter {
  quits = 0;
  quitted = false;
  quit(): void {
    this.quits += 1;
    let prevented = false;
    this.emit("before-quit", { preventDefault: () => (prevented = true) });
    if (!prevented) this.quitted = true;
  }
}

describe("the Electron example's main process", () => {
  test("page calls and the policy's refusals, events, a file grant that survives a restart, the stop before quit", async () => {
    const scratch = tempDir();
    const ipc = new FakeIpcMain();
    const sent: { channel: string; payload: unknown }[] = [];
    const picked = path.join(scratch.dir, "picked.csv");
    writeFileSync(picked, "a,b\n1,2\n");
    const bridge = startSidecarBridge({
      supervisor: { sidecar: sidecarOptions(path.join(scratch.dir, "data")) },
      ipc,
      send: (channel, payload) => sent.push({ channel, payload: structuredClone(payload) }),
            pickFile: async () => picked,
    });
    track(bridge.supervisor);
    const app = new FakeApp();
    stopBeforeQuit(app, bridge);
    await bridge.supervisor.waitReady(30_000);
    const pid = bridge.supervisor.process?.pid ?? 0;

    const query = (await ipc.invoke(CHANNELS.call, { method: "db.query", params: { sql: "SELECT 42 AS answer" } })) as PageResult;
    assert.ok(query.ok);
    assert.deepEqual((query.result as { rows: unknown[][] }).rows, [[42]]);

    const sqlError = (await ipc.invoke(CHANNELS.call, { method: "db.query", params: { sql: "SELEC 1" } })) as PageResult;
    assert.ok(!sqlError.ok);
    assert.equal(sqlError.error.kind, "rpc_error");
    assert.equal(sqlError.error.errorKind, "sql_syntax");

    const call = async (method: string, params?: unknown): Promise<PageResult> => (await ipc.invoke(CHANNELS.call, { method, params })) as PageResult;
    for (const method of ["files.grant", "files.revoke", "system.shutdown", "secrets.get", "rpc.cancel", "test.echo"]) {
      const refused = await call(method, { path: "/etc", mode: "read", name: "x" });
      assert.ok(!refused.ok && refused.error.kind === "forbidden_method" && refused.error.errorKind === "privileged", method);
    }
    const notGranted = await call("settings.set", { values: { jobs_concurrency: 1 } });
    assert.ok(!notGranted.ok && notGranted.error.errorKind === "not_granted");
    // db.query is pinned read-only: a page asking to write gets the engine's read_only refusal.
    const write = await call("db.query", { sql: "CREATE TABLE t AS SELECT 1 AS x", allow_write: true });
    assert.ok(!write.ok && write.error.errorKind === "read_only", JSON.stringify(write));
    const positional = await call("db.query", ["CREATE TABLE t AS SELECT 1 AS x", null, null, null, true]);
    assert.ok(!positional.ok && positional.error.errorKind === "unpinnable_params", JSON.stringify(positional));
    const grants = await call("files.grants");
    assert.ok(grants.ok);
    assert.deepEqual((grants.result as { grants: unknown[] }).grants, [], "a refused call reached the sidecar");

    const granted = (await ipc.invoke(CHANNELS.pickAndGrant, "read")) as PageResult;
    assert.ok(granted.ok);
    assert.equal((granted.result as { path: string }).path, picked);

    // The page imports the file main granted: the job's notifications reach the window.
    const submitted = (await ipc.invoke(CHANNELS.call, {
      method: "jobs.submit",
      params: { type: "ingest", payload: { table: "picked", source: picked } },
    })) as PageResult;
    assert.ok(submitted.ok, JSON.stringify(submitted));
    const jobStatuses = (): string[] =>
      sent
        .filter((s) => s.channel === CHANNELS.notification && (s.payload as { method: string }).method === "job.status")
        .map((s) => (s.payload as { params: { status: string } }).params.status);
    assert.ok(await eventually(() => jobStatuses().includes("succeeded") || jobStatuses().includes("failed"), 20_000));
    assert.deepEqual(jobStatuses(), ["queued", "running", "succeeded"]);
    const states = (): string[] => sent.filter((s) => s.channel === CHANNELS.state).map((s) => (s.payload as { state: string }).state);
    assert.deepEqual(states(), ["starting", "ready"]);
    assert.ok(sent.some((s) => s.channel === CHANNELS.log), "no log line reached the window");
    const status = (await ipc.invoke(CHANNELS.status)) as { state: { state: string }; pid: number };
    assert.equal(status.state.state, "ready");
    assert.equal(status.pid, pid);

    // A restart from the page: a new process, which main grants the user's pick again.
    assert.ok(((await ipc.invoke(CHANNELS.restart)) as PageResult).ok);
    await bridge.supervisor.waitReady(30_000);
    const newPid = bridge.supervisor.process?.pid ?? 0;
    assert.notEqual(newPid, pid);
    assert.equal(pidAlive(pid), false);
    const regranted = async (): Promise<boolean> => {
      const now = await call("files.grants");
      return now.ok && (now.result as { grants: { path: string }[] }).grants.some((g) => g.path === picked);
    };
    assert.ok(await eventually(regranted, 10_000), "the pick was not granted again after the restart");
    assert.ok(!JSON.stringify(sent).match(/[0-9a-f]{64}/), "the host key reached the window");

    app.quit(); // Cmd-Q: held until the sidecar has stopped, then quit again
    assert.equal(app.quitted, false, "the app quit before the sidecar stopped");
    assert.ok(await eventually(() => app.quitted, 10_000), "the app never quit");
    assert.equal(app.quits, 2);
    assert.equal(pidAlive(newPid), false);
    assert.equal(bridge.supervisor.state.state, "stopped");
    assert.equal(ipc.handlers.size, 0, "IPC handlers left behind");
    scratch.remove();
  });
});
