/**
 * The host key stays in the host: a fresh one per launch, in the child's environment
 * only, and scrubbed (`***`) from everything the host passes on should a sidecar ever
 * print it (a stand-in that echoes it on stderr, in a notification and in a result).
 */

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { SidecarProcess } from "../src/index.js";
import { cleanUp, shellSidecar, spawnSidecar, start, tempDir } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

const ECHO_KEY = [
  'echo "BOOT sidecar=sh version=0 protocol=1 pid=$$"',
  "echo READY",
  'echo "leaked key: $SIDECAR_HOST_KEY" >&2',
  'echo "{\\"jsonrpc\\":\\"2.0\\",\\"method\\":\\"leak\\",\\"params\\":{\\"key\\":\\"$SIDECAR_HOST_KEY\\"}}"',
  "read line",
  'id=$(echo "$line" | sed \'s/.*"id":\\([0-9]*\\).*/\\1/\')',
  'echo "{\\"jsonrpc\\":\\"2.0\\",\\"id\\":$id,\\"result\\":{\\"echo\\":\\"k=$SIDECAR_HOST_KEY\\"}}"',
  "cat >/dev/null",
].join("\n");

describe("the host key", { skip: process.platform === "win32" ? "a shell stand-in" : false }, () => {
  test("is scrubbed from stderr, notifications and results", async () => {
    const scratch = tempDir();
    const key = "ab".repeat(32);
    const notes: unknown[] = [];
    const sidecar = await spawnSidecar({ ...shellSidecar(scratch.dir, "leak.sh", ECHO_KEY), hostKey: key });
    sidecar.onAnyNotification((note) => notes.push(note));
    await sidecar.ready();
    const result = await sidecar.call("anything");
    assert.deepEqual(result, { echo: "k=***" });
    assert.deepEqual(notes, [{ method: "leak", params: { key: "***" } }]);
    assert.ok(sidecar.stderrTail().includes("leaked key: ***"), JSON.stringify(sidecar.stderrTail()));
    assert.ok(!JSON.stringify({ result, notes, stderr: sidecar.stderrTail(), violations: sidecar.violations }).includes(key));
    await sidecar.stop({ shutdownRequestMs: 300, stdinCloseMs: 2000 });
    scratch.remove();
  });

  test("reaches the child (scrubbed even from BOOT); with hostKey: false none does, not even an inherited one", async () => {
    const scratch = tempDir();
    const show = 'echo "BOOT sidecar=sh version=0 protocol=1 pid=$$ key=${SIDECAR_HOST_KEY:-none}"\necho READY\ncat >/dev/null';
    const options = shellSidecar(scratch.dir, "show.sh", show);
    const seen: string[] = [];
    for (const hostKey of [true, true, false] as const) {
      const sidecar = await start({ ...options, hostKey, env: { SIDECAR_HOST_KEY: "inherited-from-the-host-environment" } });
      seen.push(sidecar.boot?.fields["key"] ?? "");
      await sidecar.stop({ shutdownRequestMs: 100 });
    }
    // The two keys are scrubbed in BOOT too; the third launch has none, not the inherited one.
    assert.deepEqual(seen, ["***", "***", "none"]);
    scratch.remove();
  });
});
