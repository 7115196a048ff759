/** The host-side session and call table with plain lists of lines (no processes). */

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CallTable, LineSplitter, StdoutSession, type StdoutEvent } from "../src/protocol/index.js";

function feed(session: StdoutSession, lines: string[]): StdoutEvent[] {
  const splitter = new LineSplitter(1 << 20);
  return splitter.feed(Buffer.from(lines.map((l) => l + "\n").join(""))).flatMap((line) => session.onLine(line));
}

function kinds(events: StdoutEvent[]): string[] {
  return events.map((e) => (e.type === "violation" ? `violation:${e.kind}` : e.type));
}

describe("StdoutSession", () => {
  test("a well-behaved sidecar: boot, ready, heartbeat, answer, notification, shutdown", () => {
    const session = new StdoutSession();
    const events = feed(session, [
      "BOOT sidecar=sidecar version=0.1.0 protocol=1 pid=42",
      "READY",
      "HEARTBEAT seq=1 uptime_ms=5",
      '{"jsonrpc":"2.0","id":1,"result":{"pong":true}}',
      '{"jsonrpc":"2.0","method":"job.progress","params":{"job_id":"j","progress":0.5,"message":null}}',
      "SHUTDOWN reason=normal",
    ]);
    assert.deepEqual(kinds(events), ["boot", "ready", "heartbeat", "answer", "notification", "shutdown"]);
    assert.equal(session.boot?.fields["pid"], "42");
    const shutdown = events.at(-1);
    assert.equal(shutdown?.type === "shutdown" && shutdown.reason, "normal");
  });

  test("violations are values: stray text, READY twice, READY before BOOT, lines after SHUTDOWN", () => {
    const session = new StdoutSession();
    const events = feed(session, [
      "READY",
      "Hello from a stray print",
      "BOOT sidecar=x version=1 protocol=1 pid=1",
      "READY",
      "BOOT oops",
      "SHUTDOWN reason=normal",
      "HEARTBEAT seq=9 uptime_ms=1",
    ]);
    assert.deepEqual(kinds(events), [
      "violation:boot_not_first",
      "ready",
      "violation:non_protocol_line",
      "violation:boot_not_first",
      "violation:duplicate_ready",
      "violation:malformed_lifecycle",
      "shutdown",
      "violation:line_after_shutdown",
      "heartbeat",
    ]);
  });

  test("a batch line carries one answer per element; a request from the sidecar is a violation", () => {
    const session = new StdoutSession();
    const events = feed(session, [
      "BOOT sidecar=x version=1 protocol=1 pid=1",
      '[{"jsonrpc":"2.0","id":1,"result":1},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"m"}}]',
      '{"jsonrpc":"2.0","id":3,"method":"host.do"}',
      "{not json",
    ]);
    assert.deepEqual(kinds(events), [
      "boot",
      "answer",
      "answer",
      "violation:non_protocol_line",
      "violation:non_protocol_line",
    ]);
  });

  test("an oversize line is a violation that names its size", () => {
    const session = new StdoutSession();
    const events = session.onLine({ kind: "oversize", size: 99, limit: 10 });
    assert.equal(events[0]?.type === "violation" && events[0].line, "line of 99 bytes over the host's limit of 10");
  });
});

describe("CallTable", () => {
  test("ids count up, answers match only pending calls, a finished call no longer matches", () => {
    const table = new CallTable();
    const a = table.start("system.ping");
    const b = table.start("db.query", { sql: "SELECT 1" });
    assert.deepEqual([a.id, b.id, table.nextId], [1, 2, 3]);
    assert.equal(a.frame, '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    assert.equal(b.frame, '{"jsonrpc":"2.0","id":2,"method":"db.query","params":{"sql":"SELECT 1"}}\n');
    assert.equal(table.match({ type: "response", id: "2", result: "1" }), 2);
    table.finish(2);
    assert.equal(table.match({ type: "response", id: "2", result: "1" }), null);
    for (const id of ['"1"', "1.0", "null", "-1", "01"]) {
      assert.equal(table.match({ type: "response", id, result: "1" }), null, id);
    }
    assert.deepEqual(table.pending(), [1]);
  });

  test("params that cannot be JSON take no id", () => {
    const table = new CallTable();
    assert.throws(() => table.start("x", { big: 1n }), TypeError);
    assert.equal(table.nextId, 1);
    assert.deepEqual(table.pending(), []);
  });

  test("the cancel frame is an rpc.cancel notification for the id", () => {
    assert.equal(CallTable.cancelFrame(7), '{"jsonrpc":"2.0","method":"rpc.cancel","params":{"id":7}}\n');
  });
});
