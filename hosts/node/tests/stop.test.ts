/**
 * The stop ladder, rung by rung, with tiny shell stand-ins that each give in at one rung
 * (as the Rust crate's tests do): system.shutdown, stdin close, SIGTERM, SIGKILL of the
 * whole group (a grandchild included), and the sweep of a group whose leader exited
 * cleanly. Unix only: signals and process groups.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, test } from "node:test";

import { SidecarProcess } from "../src/index.js";
import { PYTHON, QUICK_STOPS, cleanUp, pidAlive, shellSidecar, sidecarOptions, start, tempDir, waitGone } from "./support.js";
import { BAD_SIDECARS_DIR } from "./paths.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

const BOOT = "echo BOOT sidecar=sh version=0 protocol=1 pid=$$\necho READY";

describe("the stop ladder", { skip: process.platform === "win32" ? "Unix signals and process groups" : false }, () => {
  test("rung 1: the real sidecar answers system.shutdown and exits with SHUTDOWN reason=normal", async () => {
    const scratch = tempDir();
    const sidecar = await start(sidecarOptions(scratch.dir));
    const report = await sidecar.stop();
    assert.equal(report.step, "shutdown_request");
    assert.deepEqual(report.status, { code: 0, signal: null });
    assert.equal(report.shutdownReason, "normal");
    scratch.remove();
  });

  test("rung 2: a sidecar that never answers system.shutdown exits when its stdin closes", async () => {
    const scratch = tempDir();
    const options = shellSidecar(scratch.dir, "eof.sh", `${BOOT}\ncat >/dev/null\necho SHUTDOWN reason=normal`);
    const sidecar = await start({ ...options, stopTimeouts: QUICK_STOPS });
    const report = await sidecar.stop();
    assert.equal(report.step, "stdin_close");
    assert.deepEqual(report.status, { code: 0, signal: null });
    assert.equal(report.shutdownReason, "normal");
    scratch.remove();
  });

  test("rung 3: a sidecar that ignores stdin stops on SIGTERM", async () => {
    const scratch = tempDir();
    const body = `trap 'echo SHUTDOWN reason=signal; exit 0' TERM\n${BOOT}\nwhile :; do sleep 0.05; done`;
    const sidecar = await start({ ...shellSidecar(scratch.dir, "term.sh", body), stopTimeouts: QUICK_STOPS });
    const report = await sidecar.stop();
    assert.equal(report.step, "sigterm");
    assert.equal(report.shutdownReason, "signal");
    assert.deepEqual(await waitGone([sidecar.pid], 2000), []);
    scratch.remove();
  });

  test("rung 4: one that ignores SIGTERM too is killed with its whole process group, a grandchild included", async () => {
    const scratch = tempDir();
    const pidFile = path.join(scratch.dir, "grandchild.pid");
    const hang = path.join(BAD_SIDECARS_DIR, "hang_after_ready.py");
    const body = `sleep 1000 &\necho $! > ${pidFile}\nexec ${PYTHON} ${hang}`;
    const sidecar = await start({ ...shellSidecar(scratch.dir, "hang.sh", body), stopTimeouts: QUICK_STOPS });
    const grandchild = Number(readFileSync(pidFile, "utf8").trim());
    assert.ok(pidAlive(grandchild));
    const report = await sidecar.stop();
    assert.equal(report.step, "sigkill");
    assert.equal(report.status?.signal, "SIGKILL");
    assert.deepEqual(await waitGone([sidecar.pid, grandchild], 2000), [], "a process of the group survived the kill");
    scratch.remove();
  });

  test("after a clean exit, a grandchild left in the group is swept", async () => {
    const scratch = tempDir();
    const pidFile = path.join(scratch.dir, "grandchild.pid");
    const body = `sleep 1000 </dev/null >/dev/null 2>&1 &\necho $! > ${pidFile}\n${BOOT}\ncat >/dev/null`;
    const sidecar = await start({ ...shellSidecar(scratch.dir, "leave.sh", body), stopTimeouts: QUICK_STOPS });
    const grandchild = Number(readFileSync(pidFile, "utf8").trim());
    const report = await sidecar.stop();
    assert.equal(report.step, "stdin_close");
    assert.deepEqual(await waitGone([grandchild], 2000), [], `grandchild ${grandchild} was left running`);
    scratch.remove();
  });

  test("stop() twice is one stop; stop() after an exit reports already_exited", async () => {
    const scratch = tempDir();
    const sidecar = await start(sidecarOptions(scratch.dir));
    const [a, b] = await Promise.all([sidecar.stop(), sidecar.stop()]);
    assert.equal(a, b);
    const crashed = await start(sidecarOptions(scratch.dir));
    await crashed.killTree();
    await crashed.exited();
    assert.equal((await crashed.stop()).step, "already_exited");
    scratch.remove();
  });
});
