/**
 * The host's side of one sidecar's stdout, without I/O (the Python core's
 * `host_session.py`, the Rust crate's `protocol/session.rs`).
 *
 * {@link StdoutSession} takes one stdout line (from a {@link LineSplitter}) and returns
 * what it means: a lifecycle step, an answer, a notification, or a protocol violation.
 * It enforces the order the protocol promises: BOOT first, READY exactly once, nothing
 * after SHUTDOWN. {@link CallTable} numbers the host's requests and matches answers to
 * them. Both are tested with plain lists of lines; the client puts processes around them.
 */

import { isOversize, type SplitLine } from "./framing.js";
import { decodeLine, encodeNotification, encodeRequest, type ErrorReply, type Message, type Response } from "./jsonrpc.js";
import { LifecycleError, isLifecycleLine, parseLifecycle, type LifecycleLine } from "./lifecycle.js";

/** How much of an offending line is kept for messages. */
export const SHOWN_LINE_CHARS = 500;

/** What a violation is about. */
export type ViolationKind =
  | "non_protocol_line"
  | "malformed_lifecycle"
  | "boot_not_first"
  | "duplicate_ready"
  | "line_after_shutdown"
  | "oversize";

/** `BOOT ...`, the first one. line: its fields (`pid`, `version`, `protocol`, ...). */
export interface BootEvent {
  readonly type: "boot";
  readonly line: LifecycleLine;
}

/** `READY`, the first one. */
export interface ReadyEvent {
  readonly type: "ready";
}

/** `HEARTBEAT seq=N ...`. line: its fields. */
export interface HeartbeatEvent {
  readonly type: "heartbeat";
  readonly line: LifecycleLine;
}

/** `SHUTDOWN reason=...`: the last line the sidecar writes. reason: the reason given, or `unknown`. */
export interface ShutdownEvent {
  readonly type: "shutdown";
  readonly line: LifecycleLine;
  readonly reason: string;
}

/** A response or error reply. message: the decoded answer. line: the raw line it came in (a batch carries several). */
export interface AnswerEvent {
  readonly type: "answer";
  readonly message: Response | ErrorReply;
  readonly line: Uint8Array;
}

/** A server-to-host notification. method: its name. params: raw JSON text, or null when absent. */
export interface NotificationEvent {
  readonly type: "notification";
  readonly method: string;
  readonly params: string | null;
}

/** Something on stdout that breaks the contract. kind: what. line: the offending line (shortened). */
export interface ViolationEvent {
  readonly type: "violation";
  readonly kind: ViolationKind;
  readonly line: string;
}

/** What one stdout line means to the host. */
export type StdoutEvent =
  | BootEvent
  | ReadyEvent
  | HeartbeatEvent
  | ShutdownEvent
  | AnswerEvent
  | NotificationEvent
  | ViolationEvent;

/** A line as text for messages and logs, at most {@link SHOWN_LINE_CHARS} characters. */
export function showLine(line: Uint8Array | string): string {
  const text = typeof line === "string" ? line : Buffer.from(line).toString("utf8");
  return text.slice(0, SHOWN_LINE_CHARS);
}

/** Tracks the lifecycle order of one sidecar's stdout and classifies every line. */
export class StdoutSession {
  /** The latest BOOT line (a second one is a violation but still recorded, as in the other hosts). */
  boot: LifecycleLine | null = null;
  ready = false;
  shutdown: LifecycleLine | null = null;

  /** What one stdout line (without its newline) means, in order. */
  onLine(line: SplitLine): StdoutEvent[] {
    if (isOversize(line)) {
      return [violation("oversize", `line of ${line.size} bytes over the host's limit of ${line.limit}`)];
    }
    const out: StdoutEvent[] = [];
    if (this.shutdown !== null) {
      out.push(violation("line_after_shutdown", showLine(line)));
    }
    const first = line[0];
    if (first === 0x7b || first === 0x5b) {
      this.onFrame(line, out);
    } else if (isLifecycleLine(line)) {
      this.onLifecycle(line, out);
    } else {
      out.push(violation("non_protocol_line", showLine(line)));
    }
    return out;
  }

  private onLifecycle(line: Buffer, out: StdoutEvent[]): void {
    let parsed: LifecycleLine;
    try {
      parsed = parseLifecycle(line);
    } catch (err) {
      if (!(err instanceof LifecycleError)) throw err;
      out.push(violation("malformed_lifecycle", showLine(line)));
      return;
    }
    if (parsed.token === "BOOT") {
      if (this.boot !== null || this.ready) {
        out.push(violation("boot_not_first", showLine(line)));
      } else {
        out.push({ type: "boot", line: parsed });
      }
      this.boot = parsed;
      return;
    }
    if (this.boot === null) {
      out.push(violation("boot_not_first", showLine(line)));
    }
    if (parsed.token === "READY") {
      if (this.ready) {
        out.push(violation("duplicate_ready", showLine(line)));
      } else {
        this.ready = true;
        out.push({ type: "ready" });
      }
    } else if (parsed.token === "HEARTBEAT") {
      out.push({ type: "heartbeat", line: parsed });
    } else {
      this.shutdown = parsed;
      out.push({ type: "shutdown", line: parsed, reason: parsed.fields["reason"] ?? "unknown" });
    }
  }

  private onFrame(line: Buffer, out: StdoutEvent[]): void {
    const decoded = decodeLine(line);
    if (decoded.type === "batch") {
      for (const item of decoded.items) {
        onMessage(item, line, out);
      }
    } else if (decoded.type !== "ignored") {
      onMessage(decoded, line, out);
    }
  }
}

function violation(kind: ViolationKind, line: string): ViolationEvent {
  return { type: "violation", kind, line };
}

function onMessage(message: Message, line: Buffer, out: StdoutEvent[]): void {
  switch (message.type) {
    case "response":
    case "error_reply":
      out.push({ type: "answer", message, line });
      break;
    case "notification":
      out.push({ type: "notification", method: message.method, params: message.params });
      break;
    case "request":
      out.push(violation("non_protocol_line", "sidecar sent a request: " + showLine(line)));
      break;
    case "invalid":
      out.push(violation("non_protocol_line", showLine(line)));
      break;
  }
}

/** The host's outstanding calls: integer ids handed out in order, answers matched to them. */
export class CallTable {
  private nextIdValue = 1;
  private readonly pendingCalls = new Map<number, string>();

  /** The id the next {@link start} will use. */
  get nextId(): number {
    return this.nextIdValue;
  }

  /** Allocate an id for a call; returns it and the request line to write (throws if params cannot be JSON). */
  start(method: string, params?: unknown): { id: number; frame: string } {
    const id = this.nextIdValue;
    const frame = encodeRequest(id, method, params); // first: a params that cannot be encoded takes no id
    this.nextIdValue += 1;
    this.pendingCalls.set(id, method);
    return { id, frame };
  }

  /** The call is over (answered, timed out or abandoned): a later answer to it is unmatched. */
  finish(id: number): void {
    this.pendingCalls.delete(id);
  }

  /** The id of the pending call `answer` belongs to, or null (unknown, not ours, or already over). */
  match(answer: Response | ErrorReply): number | null {
    if (!/^[1-9][0-9]{0,15}$/.test(answer.id)) {
      return null; // ours are small positive integers; anything else (strings, null, fractions) is not
    }
    const id = Number(answer.id);
    return this.pendingCalls.has(id) ? id : null;
  }

  /** The ids still waiting for an answer, oldest first. */
  pending(): number[] {
    return [...this.pendingCalls.keys()];
  }

  /** The `rpc.cancel` notification for a call the host gave up on (what every host sends). */
  static cancelFrame(id: number): string {
    return encodeNotification("rpc.cancel", { id });
  }

  /** A notification line (never answered). */
  static notificationFrame(method: string, params?: unknown): string {
    return encodeNotification(method, params);
  }
}
