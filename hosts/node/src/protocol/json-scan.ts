/**
 * A strict JSON (RFC 8259) scanner that keeps raw text.
 *
 * `JSON.parse` turns `123456789012345678901234567890` into a rounded double and
 * `"a\u0041"` into `"aA"`, but the protocol echoes ids byte for byte and the shared
 * vectors compare ids, params and results as the exact text received. So the decoder
 * validates a frame here and takes the top-level members as slices of the original
 * text; values are parsed (with `JSON.parse`) only where the host wants a value.
 * Nothing is copied or built except those slices.
 */

/** The deepest nesting of arrays and objects a frame may have (the message object is level 1). */
export const MAX_NESTING_DEPTH = 128;

/** Malformed JSON. offset: where in the text (UTF-16 index) the scanner gave up. */
export class JsonSyntaxError extends Error {
  override readonly name = "JsonSyntaxError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
  }
}

/** One member of a JSON object: the decoded key and the raw text of its value. */
export interface RawMember {
  readonly key: string;
  readonly raw: string;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
/** RFC 8259's number grammar, anchored at `lastIndex` (sticky). */
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Walks one JSON text; every method leaves `pos` just after what it read. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string): never {
    throw new JsonSyntaxError(message, this.pos);
  }

  skipWs(): void {
    while (this.pos < this.text.length && WS.has(this.text.charCodeAt(this.pos))) {
      this.pos += 1;
    }
  }

  /** Read one value (whitespace around it not included). */
  value(depth: number): void {
    const c = this.text[this.pos];
    if (c === "{") {
      this.object(depth + 1, null);
    } else if (c === "[") {
      this.array(depth + 1, null);
    } else if (c === '"') {
      this.string();
    } else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      this.number();
    } else if (c === "t") {
      this.literal("true");
    } else if (c === "f") {
      this.literal("false");
    } else if (c === "n") {
      this.literal("null");
    } else {
      this.fail(c === undefined ? "unexpected end of input" : `unexpected character ${JSON.stringify(c)}`);
    }
  }

  /** `{...}`; with `members`, each member's key and raw value are collected. */
  object(depth: number, members: RawMember[] | null): void {
    if (depth > MAX_NESTING_DEPTH) {
      this.fail(`nesting deeper than ${MAX_NESTING_DEPTH} levels`);
    }
    this.pos += 1; // {
    this.skipWs();
    if (this.text[this.pos] === "}") {
      this.pos += 1;
      return;
    }
    for (;;) {
      if (this.text[this.pos] !== '"') {
        this.fail("expected a string key");
      }
      const keyStart = this.pos;
      this.string();
      const keyEnd = this.pos;
      this.skipWs();
      if (this.text[this.pos] !== ":") {
        this.fail("expected ':'");
      }
      this.pos += 1;
      this.skipWs();
      const valueStart = this.pos;
      this.value(depth);
      if (members !== null) {
        const key = JSON.parse(this.text.slice(keyStart, keyEnd)) as string;
        members.push({ key, raw: this.text.slice(valueStart, this.pos) });
      }
      this.skipWs();
      const c = this.text[this.pos];
      this.pos += 1;
      if (c === "}") {
        return;
      }
      if (c !== ",") {
        this.pos -= 1;
        this.fail("expected ',' or '}'");
      }
      this.skipWs();
    }
  }

  /** `[...]`; with `elements`, each element's raw text is collected. */
  array(depth: number, elements: string[] | null): void {
    if (depth > MAX_NESTING_DEPTH) {
      this.fail(`nesting deeper than ${MAX_NESTING_DEPTH} levels`);
    }
    this.pos += 1; // [
    this.skipWs();
    if (this.text[this.pos] === "]") {
      this.pos += 1;
      return;
    }
    for (;;) {
      const start = this.pos;
      this.value(depth);
      elements?.push(this.text.slice(start, this.pos));
      this.skipWs();
      const c = this.text[this.pos];
      this.pos += 1;
      if (c === "]") {
        return;
      }
      if (c !== ",") {
        this.pos -= 1;
        this.fail("expected ',' or ']'");
      }
      this.skipWs();
    }
  }

  string(): void {
    const text = this.text;
    let i = this.pos + 1; // after the opening quote
    for (;;) {
      const code = text.charCodeAt(i);
      if (Number.isNaN(code)) {
        this.pos = i;
        this.fail("unterminated string");
      }
      if (code === 0x22) {
        this.pos = i + 1;
        return;
      }
      if (code < 0x20) {
        this.pos = i;
        this.fail("control character in a string");
      }
      if (code === 0x5c) {
        const next = text[i + 1];
        if (next === "u") {
          if (!/^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
            this.pos = i;
            this.fail("bad \\u escape");
          }
          i += 6;
          continue;
        }
        if (next === undefined || !ESCAPES.has(next)) {
          this.pos = i;
          this.fail("bad escape");
        }
        i += 2;
        continue;
      }
      i += 1;
    }
  }

  number(): void {
    NUMBER.lastIndex = this.pos;
    const found = NUMBER.exec(this.text);
    if (found === null) {
      this.fail("bad number");
    }
    this.pos += found[0].length;
  }

  literal(word: string): void {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
    } else {
      this.fail(`expected ${word}`);
    }
  }

  /** After the top-level value: only whitespace may follow. */
  end(): void {
    this.skipWs();
    if (this.pos !== this.text.length) {
      this.fail("trailing characters after the JSON value");
    }
  }
}

/** Throw {@link JsonSyntaxError} unless `text` is exactly one JSON value (whitespace around it allowed). */
export function validateJson(text: string): void {
  const scanner = new Scanner(text);
  scanner.skipWs();
  scanner.value(0);
  scanner.end();
}

/** The members of a JSON object text, in order, keys decoded, values as raw text; throws if malformed. */
export function objectMembers(text: string): RawMember[] {
  const scanner = new Scanner(text);
  scanner.skipWs();
  if (text[scanner.pos] !== "{") {
    scanner.fail("expected an object");
  }
  const members: RawMember[] = [];
  scanner.object(1, members);
  scanner.end();
  return members;
}

/** The elements of a JSON array text, in order, as raw text; throws if malformed. */
export function arrayElements(text: string): string[] {
  const scanner = new Scanner(text);
  scanner.skipWs();
  if (text[scanner.pos] !== "[") {
    scanner.fail("expected an array");
  }
  const elements: string[] = [];
  scanner.array(1, elements);
  scanner.end();
  return elements;
}

/** The JSON type of a raw value, by its first character. */
export type RawKind = "string" | "number" | "null" | "boolean" | "object" | "array";

/** Classify a raw (valid) JSON value by its first character. */
export function rawKind(raw: string): RawKind {
  const c = raw[0];
  if (c === '"') return "string";
  if (c === "{") return "object";
  if (c === "[") return "array";
  if (c === "n") return "null";
  if (c === "t" || c === "f") return "boolean";
  return "number";
}

/**
 * How deeply arrays and objects nest in `text`, ignoring brackets inside strings; or the
 * number of `[`/`{` when that is at most {@link MAX_NESTING_DEPTH} (it cannot nest deeper
 * than it has openers). A lower bound for malformed text. The cores apply the same rule.
 */
export function nestingDepth(text: string): number {
  let openers = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) openers += 1;
  }
  if (openers <= MAX_NESTING_DEPTH) {
    return openers;
  }
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth = Math.max(0, depth - 1);
  }
  return deepest;
}
