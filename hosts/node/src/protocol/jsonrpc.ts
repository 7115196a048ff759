/**
 * JSON-RPC 2.0 codec: one line in, one decoded value out; no I/O, no state
 * (docs/PROTOCOL.md sections 3 and 4; the Python core's `codec.py`, the Rust crate's
 * `protocol/jsonrpc.rs`).
 *
 * Ids, params and results travel as raw JSON text (see json-scan.ts), so
 * `123456789012345678901234567890` and `"a\u0041"` survive byte for byte. Nothing here
 * throws for bad input: a malformed line becomes an {@link InvalidMessage} carrying the
 * error the receiver would answer with.
 */

import {
  JsonSyntaxError,
  MAX_NESTING_DEPTH,
  arrayElements,
  nestingDepth,
  objectMembers,
  rawKind,
  validateJson,
} from "./json-scan.js";

/** JSON-RPC's standard codes and protocol 1's server errors (docs/PROTOCOL.md section 4). */
export const ErrorCodes = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  APPLICATION_ERROR: -32000,
  CANCELLED: -32001,
  SHUTTING_DOWN: -32002,
  FRAME_TOO_LARGE: -32003,
  TIMEOUT: -32004,
  UNHANDLED_EXCEPTION: -32099,
} as const;

/** The `error` member of an error answer. data: the sidecar always sends an object with `kind`. */
export interface ErrorObject {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/** A call that expects an answer. id, params: raw JSON text (params null when absent or null). */
export interface Request {
  readonly type: "request";
  readonly id: string;
  readonly method: string;
  readonly params: string | null;
}

/** A call that is never answered (from the sidecar: job.status, job.progress, ...). */
export interface Notification {
  readonly type: "notification";
  readonly method: string;
  readonly params: string | null;
}

/** A successful answer. id, result: raw JSON text. */
export interface Response {
  readonly type: "response";
  readonly id: string;
  readonly result: string;
}

/** An error answer. id: raw JSON text (`null` when the peer could not read the id). */
export interface ErrorReply {
  readonly type: "error_reply";
  readonly id: string;
  readonly error: ErrorObject;
}

/** Something the receiver must answer with an error (-32700 or -32600). id: raw, `null` when unknown. */
export interface InvalidMessage {
  readonly type: "invalid";
  readonly id: string;
  readonly error: ErrorObject;
}

/** One decoded message (a whole line, or one element of a batch). */
export type Message = Request | Notification | Response | ErrorReply | InvalidMessage;

/** A JSON array of messages, one per element, in order. */
export interface Batch {
  readonly type: "batch";
  readonly items: readonly Message[];
}

/** A blank line (only whitespace): ignored. */
export interface Ignored {
  readonly type: "ignored";
}

/** What one line decodes to. */
export type Decoded = Message | Batch | Ignored;

const NULL_ID = "null";
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

function localError(code: number, kind: string, detail: string, extra: Record<string, unknown> = {}): ErrorObject {
  const message = code === ErrorCodes.PARSE_ERROR ? "Parse error" : "Invalid Request";
  return { code, message, data: { kind, detail, ...extra } };
}

function parseError(detail: string, extra: Record<string, unknown> = {}): InvalidMessage {
  return { type: "invalid", id: NULL_ID, error: localError(ErrorCodes.PARSE_ERROR, "parse_error", detail, extra) };
}

function invalid(id: string, detail: string): InvalidMessage {
  return { type: "invalid", id, error: localError(ErrorCodes.INVALID_REQUEST, "invalid_request", detail) };
}

function isWs(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/** `line` without the whitespace JSON allows around a value. */
function strip(line: Uint8Array): Uint8Array {
  let start = 0;
  let end = line.length;
  while (start < end && isWs(line[start])) start += 1;
  while (end > start && isWs(line[end - 1])) end -= 1;
  return line.subarray(start, end);
}

/**
 * Turn one line (without its newline; a trailing `\r` is tolerated) into a {@link Decoded}.
 *
 * ```ts
 * decodeLine(Buffer.from('{"jsonrpc":"2.0","id":7,"result":{"pong":true}}'))
 * // { type: "response", id: "7", result: '{"pong":true}' }
 * ```
 */
export function decodeLine(line: Uint8Array): Decoded {
  const stripped = strip(line);
  if (stripped.length === 0) {
    return { type: "ignored" };
  }
  let text: string;
  try {
    text = utf8.decode(stripped);
  } catch {
    return parseError("not valid UTF-8");
  }
  const first = text[0];
  if ((first === "[" || first === "{") && nestingDepth(text) > MAX_NESTING_DEPTH) {
    return parseError(`nesting deeper than ${MAX_NESTING_DEPTH} levels`, { max_depth: MAX_NESTING_DEPTH });
  }
  try {
    if (first === "[") {
      const elements = arrayElements(text);
      if (elements.length === 0) {
        return invalid(NULL_ID, "empty batch");
      }
      return { type: "batch", items: elements.map(decodeElement) };
    }
    if (first === "{") {
      return fromMembers(text);
    }
    validateJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      return parseError(err.message);
    }
    throw err; // a bug in the scanner, not bad input
  }
  return invalid(NULL_ID, "a message must be a JSON object or array");
}

/** Decode one element of a batch (raw text, already known to be valid JSON). */
export function decodeElement(raw: string): Message {
  if (rawKind(raw) !== "object") {
    return invalid(NULL_ID, "a batch element must be a JSON object");
  }
  return fromMembers(raw);
}

interface Envelope {
  jsonrpc?: string;
  method?: string;
  params?: string;
  id?: string;
  result?: string;
  error?: string;
}

const ENVELOPE_KEYS = new Set<string>(["jsonrpc", "method", "params", "id", "result", "error"]);

function isEnvelopeKey(key: string): key is keyof Envelope {
  return ENVELOPE_KEYS.has(key);
}

/** The members of a message object that JSON-RPC defines (the last of a repeated one wins). */
function envelopeOf(text: string): Envelope {
  const envelope: Envelope = {};
  for (const { key, raw } of objectMembers(text)) {
    if (isEnvelopeKey(key)) {
      envelope[key] = raw;
    }
  }
  return envelope;
}

function fromMembers(text: string): Message {
  const env = envelopeOf(text);
  const id = env.id;
  if (id !== undefined && !["string", "number", "null"].includes(rawKind(id))) {
    return invalid(NULL_ID, "id must be a string, a number or null");
  }
  const replyId = id ?? NULL_ID;
  if (env.jsonrpc === undefined || !isVersion2(env.jsonrpc)) {
    return invalid(replyId, 'jsonrpc must be exactly "2.0"');
  }
  if (env.method === undefined) {
    return responseFrom(env, replyId);
  }
  if (rawKind(env.method) !== "string") {
    return invalid(replyId, "method must be a string");
  }
  const method = JSON.parse(env.method) as string;
  let params: string | null = null;
  if (env.params !== undefined) {
    const kind = rawKind(env.params);
    if (kind === "object" || kind === "array") {
      params = env.params;
    } else if (kind !== "null") {
      // "params": null is treated as absent (real clients send it)
      return invalid(replyId, "params must be an object or an array");
    }
  }
  if (id === undefined) {
    return { type: "notification", method, params };
  }
  return { type: "request", id, method, params };
}

/** `"jsonrpc": "2.0"` by value: an escaped spelling such as `"2\u002e0"` is "2.0" too. */
function isVersion2(raw: string): boolean {
  return raw === '"2.0"' || (rawKind(raw) === "string" && JSON.parse(raw) === "2.0");
}

function responseFrom(env: Envelope, replyId: string): Message {
  const { id, result, error } = env;
  if (id === undefined || (result === undefined) === (error === undefined)) {
    return invalid(replyId, "a message needs a method, or an id with exactly one of result/error");
  }
  if (result !== undefined) {
    return { type: "response", id, result };
  }
  const decoded = errorObject(error ?? "");
  if (typeof decoded === "string") {
    return invalid(replyId, `malformed error object: ${decoded}`);
  }
  return { type: "error_reply", id, error: decoded };
}

/** The error object in `raw`, or what is wrong with it: `code` an integer, `message` a string, `data` anything. */
function errorObject(raw: string): ErrorObject | string {
  if (rawKind(raw) !== "object") {
    return "expected an object";
  }
  let code: number | undefined;
  let message: string | undefined;
  let data: unknown;
  let hasData = false;
  for (const member of objectMembers(raw)) {
    if (member.key === "code") {
      if (!INTEGER.test(member.raw)) return "code must be an integer";
      code = Number(member.raw);
    } else if (member.key === "message") {
      if (rawKind(member.raw) !== "string") return "message must be a string";
      message = JSON.parse(member.raw) as string;
    } else if (member.key === "data") {
      data = JSON.parse(member.raw) as unknown;
      hasData = true;
    }
  }
  if (code === undefined) return "missing code";
  if (message === undefined) return "missing message";
  return hasData ? { code, message, data } : { code, message };
}

/** `data.kind`, the stable machine-readable name of an error, if present. */
export function errorKind(error: ErrorObject): string | null {
  const data = error.data;
  if (typeof data === "object" && data !== null && "kind" in data && typeof data.kind === "string") {
    return data.kind;
  }
  return null;
}

/**
 * Encode a request as one `\n`-terminated line; `params` undefined omits the member.
 *
 * ```ts
 * encodeRequest(1, "system.ping") // '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n'
 * ```
 */
export function encodeRequest(id: number, method: string, params?: unknown): string {
  const frame = params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
  return JSON.stringify(frame) + "\n";
}

/** Encode a notification (no id, never answered) as one `\n`-terminated line. */
export function encodeNotification(method: string, params?: unknown): string {
  const frame = params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params };
  return JSON.stringify(frame) + "\n";
}
