/**
 * Lifecycle lines: `TOKEN( key=value)*`, one per line on stdout (docs/PROTOCOL.md section 2).
 *
 * TOKEN is BOOT, READY, HEARTBEAT or SHUTDOWN; a key matches `[A-Za-z_][A-Za-z0-9_]*`;
 * a value is one or more printable ASCII characters other than space (`=` allowed).
 * Unknown keys are kept, never rejected: fields may be added in any version.
 */

export const LIFECYCLE_TOKENS = ["BOOT", "READY", "HEARTBEAT", "SHUTDOWN"] as const;

/** One of the four lifecycle tokens. */
export type LifecycleToken = (typeof LIFECYCLE_TOKENS)[number];

/** A parsed lifecycle line. token: which one. fields: its `key=value` pairs in order. */
export interface LifecycleLine {
  readonly token: LifecycleToken;
  readonly fields: Readonly<Record<string, string>>;
}

/** A line that claims to be a lifecycle line but breaks the grammar, or a value an encoder must refuse. */
export class LifecycleError extends Error {
  override readonly name = "LifecycleError";
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VALUE = /^[\x21-\x7e]+$/;

function isToken(text: string): text is LifecycleToken {
  return (LIFECYCLE_TOKENS as readonly string[]).includes(text);
}

/** Cheap test: does this stdout line start with a lifecycle token? */
export function isLifecycleLine(line: string | Uint8Array): boolean {
  const text = typeof line === "string" ? line : Buffer.from(line).toString("latin1");
  const space = text.indexOf(" ");
  const head = (space < 0 ? text : text.slice(0, space)).replace(/[\r\n]+$/, "");
  return isToken(head);
}

/**
 * Parse one lifecycle line (a trailing `\n` or `\r\n` is trimmed).
 * Throws {@link LifecycleError} for an unknown token, a malformed field or non-ASCII text.
 */
export function parseLifecycle(line: string | Uint8Array): LifecycleLine {
  let text: string;
  if (typeof line === "string") {
    text = line;
  } else {
    const bytes = Buffer.from(line.buffer, line.byteOffset, line.byteLength);
    if (bytes.some((byte) => byte > 0x7f)) {
      throw new LifecycleError("lifecycle lines are ASCII");
    }
    text = bytes.toString("latin1");
  }
  if (text.endsWith("\n")) {
    text = text.slice(0, -1);
  }
  if (text.endsWith("\r")) {
    text = text.slice(0, -1);
  }
  const [token = "", ...pairs] = text.split(" ");
  if (!isToken(token)) {
    throw new LifecycleError(`unknown lifecycle token ${JSON.stringify(token)}`);
  }
  const fields: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? "" : pair.slice(eq + 1);
    if (eq < 0 || !KEY.test(key) || !VALUE.test(value)) {
      throw new LifecycleError(`malformed lifecycle field ${JSON.stringify(pair)}`);
    }
    fields[key] = value;
  }
  return { token, fields };
}

/**
 * Encode one lifecycle line, `\n`-terminated. A value that would break the grammar
 * (empty, whitespace, non-ASCII) throws instead of producing an ambiguous line.
 */
export function formatLifecycle(token: string, fields: Readonly<Record<string, string | number>> = {}): string {
  if (!isToken(token)) {
    throw new LifecycleError(`unknown lifecycle token ${JSON.stringify(token)}`);
  }
  const parts: string[] = [token];
  for (const [key, raw] of Object.entries(fields)) {
    const value = String(raw);
    if (!KEY.test(key)) {
      throw new LifecycleError(`bad lifecycle key ${JSON.stringify(key)}`);
    }
    if (!VALUE.test(value)) {
      throw new LifecycleError(`bad lifecycle value for ${key}: ${JSON.stringify(value)}`);
    }
    parts.push(`${key}=${value}`);
  }
  return parts.join(" ") + "\n";
}
