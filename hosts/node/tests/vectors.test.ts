/**
 * The sans-IO core against the shared vectors in tests/vectors/ (the same files the
 * Python core's tests/unit/test_protocol_vectors.py and the Rust crate's tests/vectors.rs read).
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";

import {
  LifecycleError,
  LineSplitter,
  decodeLine,
  formatLifecycle,
  isOversize,
  parseLifecycle,
  type Decoded,
  type Message,
} from "../src/protocol/index.js";
import { VECTORS_DIR } from "./paths.js";

interface JsonRpcCase {
  name: string;
  input?: string;
  input_hex?: string;
  decode: Record<string, unknown>;
}
interface LifecycleCase {
  line: string;
  token: string;
  fields: Record<string, string>;
}
interface LifecycleVectors {
  valid: LifecycleCase[];
  invalid: { line: string; why: string }[];
  format_invalid: { token: string; fields: Record<string, string>; why: string }[];
}
interface FramingCase {
  name: string;
  max_frame_bytes: number;
  chunks: string[];
  lines: (string | { oversize: number })[];
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(VECTORS_DIR, name), "utf8")) as T;
}

const JSONRPC = load<{ cases: JsonRpcCase[] }>("jsonrpc.json").cases;
const LIFECYCLE = load<LifecycleVectors>("lifecycle.json");
const FRAMING = load<{ cases: FramingCase[] }>("framing.json").cases;

function vectorInput(c: JsonRpcCase): Buffer {
  if (c.input_hex !== undefined) return Buffer.from(c.input_hex, "hex");
  return Buffer.from(c.input ?? "", "utf8");
}

/** A decoded value in the vectors' `decode` shape. */
function describeDecoded(event: Decoded | Message): Record<string, unknown> {
  switch (event.type) {
    case "ignored":
      return { type: "ignored" };
    case "request":
      return { type: "request", id: event.id, method: event.method, params: event.params };
    case "notification":
      return { type: "notification", method: event.method, params: event.params };
    case "invalid":
      return { type: "invalid", id: event.id, code: event.error.code };
    case "response":
      return { type: "response", id: event.id, result: event.result };
    case "error_reply":
      return { type: "error_reply", id: event.id, code: event.error.code };
    case "batch":
      return { type: "batch", items: event.items.map(describeDecoded) };
  }
}

/** The vector's expectation with its defaults filled in (params absent = null). */
function normalise(expected: Record<string, unknown>): Record<string, unknown> {
  const out = { ...expected };
  if (out["type"] === "request" || out["type"] === "notification") {
    out["params"] ??= null;
  }
  if (out["type"] === "batch") {
    out["items"] = (out["items"] as Record<string, unknown>[]).map(normalise);
  }
  return out;
}

describe("jsonrpc.json", () => {
  for (const c of JSONRPC) {
    test(c.name, () => {
      let line = vectorInput(c);
      if (line[line.length - 1] === 0x0d) line = line.subarray(0, -1); // what the framer hands over
      assert.deepEqual(describeDecoded(decodeLine(line)), normalise(c.decode));
    });
  }

  test("the decoder accepts a trailing CR itself", () => {
    assert.equal(decodeLine(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"m"}\r')).type, "request");
  });

  test("invalid messages always name their kind and a detail", () => {
    for (const c of JSONRPC) {
      const event = decodeLine(vectorInput(c));
      const items = event.type === "batch" ? event.items : [event];
      for (const item of items) {
        if (item.type !== "invalid") continue;
        const data = item.error.data as { kind?: unknown; detail?: unknown };
        assert.ok(data.kind === "parse_error" || data.kind === "invalid_request", c.name);
        assert.equal(typeof data.detail, "string", c.name);
        assert.ok((data.detail as string).length > 0, c.name);
      }
    }
  });
});

describe("lifecycle.json", () => {
  for (const c of LIFECYCLE.valid) {
    test(`valid: ${JSON.stringify(c.line)}`, () => {
      const parsed = parseLifecycle(c.line);
      assert.equal(parsed.token, c.token);
      assert.deepEqual({ ...parsed.fields }, c.fields);
      assert.deepEqual(parseLifecycle(Buffer.from(c.line + "\n")), parsed);
    });
  }
  for (const c of LIFECYCLE.invalid) {
    test(`invalid: ${c.why}`, () => {
      assert.throws(() => parseLifecycle(c.line), LifecycleError);
    });
  }
  for (const c of LIFECYCLE.format_invalid) {
    test(`the encoder refuses: ${c.why}`, () => {
      assert.throws(() => formatLifecycle(c.token, c.fields), LifecycleError);
    });
  }
  for (const c of LIFECYCLE.valid.filter((v) => !v.line.endsWith("\r") && !v.line.includes("=b"))) {
    test(`round trip: ${c.line}`, () => {
      const line = formatLifecycle(c.token, c.fields);
      assert.equal(line, c.line + "\n");
    });
  }
});

describe("framing.json", () => {
  for (const c of FRAMING) {
    test(c.name, () => {
      const splitter = new LineSplitter(c.max_frame_bytes);
      const out = c.chunks.flatMap((chunk) => splitter.feed(Buffer.from(chunk, "latin1")));
      const last = splitter.finish();
      if (last !== null) out.push(last);
      const rendered = out.map((line) => (isOversize(line) ? { oversize: line.size } : line.toString("latin1")));
      assert.deepEqual(rendered, c.lines);
    });
  }

  test("memory stays bounded: a 50 MiB line in 64 KiB chunks never holds more than cap + chunk", () => {
    const cap = 1 << 20;
    const splitter = new LineSplitter(cap);
    const chunk = Buffer.alloc(65536, "x");
    let peak = 0;
    for (let i = 0; i < 800; i += 1) {
      assert.deepEqual(splitter.feed(chunk), []);
      peak = Math.max(peak, splitter.buffered);
    }
    assert.ok(peak <= cap + chunk.length, `peak ${peak}`);
    const rest = splitter.feed(Buffer.from("\nnext\n"));
    assert.deepEqual(rest, [{ kind: "oversize", size: 800 * 65536, limit: cap }, Buffer.from("next")]);
  });
});
