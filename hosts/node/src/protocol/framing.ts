/**
 * Split a byte stream into lines with a hard size cap (sans-IO), as the Python
 * core's `LineSplitter` and the Rust crate's `protocol/framing.rs` do.
 *
 * Memory never exceeds the cap plus one chunk: a line that grows past the cap is
 * dropped as it streams in, reported once as an {@link OversizeLine}, and the
 * splitter resynchronises at the next newline.
 */

/** A line longer than the cap, discarded. size: its length in bytes (newline excluded). limit: the cap. */
export interface OversizeLine {
  readonly kind: "oversize";
  readonly size: number;
  readonly limit: number;
}

/** One complete line (newline and one trailing CR removed), or an oversize one. */
export type SplitLine = Buffer | OversizeLine;

const NEWLINE = 0x0a;
const CR = 0x0d;

/** Feed bytes in, get complete lines out. */
export class LineSplitter {
  readonly maxLineBytes: number;
  private chunks: Buffer[] = [];
  private held = 0;
  private discarding = false;
  private discarded = 0;

  constructor(maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError("maxLineBytes must be a positive integer");
    }
    this.maxLineBytes = maxLineBytes;
  }

  /** Consume a chunk; returns every line it completed, in order. */
  feed(data: Uint8Array): SplitLine[] {
    const out: SplitLine[] = [];
    let chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.discarding) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) {
        this.discarded += chunk.length;
        return out;
      }
      out.push(this.oversize(this.discarded + nl));
      this.discarding = false;
      this.discarded = 0;
      chunk = chunk.subarray(nl + 1);
    }
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      const size = this.held + piece.length; // the line's length, its CR included
      if (size > this.maxLineBytes && !(size === this.maxLineBytes + 1 && endsWithCr(this.chunks, piece))) {
        out.push(this.oversize(size));
      } else {
        out.push(stripCr(this.take(piece)));
      }
      this.chunks = [];
      this.held = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.held + rest.length > this.maxLineBytes + 1) {
        // Past the cap (one byte of slack for a CR that may end the line): drop it as it streams.
        this.discarding = true;
        this.discarded = this.held + rest.length;
        this.chunks = [];
        this.held = 0;
      } else {
        this.chunks.push(Buffer.from(rest)); // a copy: the caller may reuse its chunk
        this.held += rest.length;
      }
    }
    return out;
  }

  /** At end of stream: the last line if it had no newline, else null. */
  finish(): SplitLine | null {
    if (this.discarding) {
      this.discarding = false;
      const size = this.discarded;
      this.discarded = 0;
      return this.oversize(size);
    }
    if (this.held === 0) {
      return null;
    }
    const line = stripCr(this.take(Buffer.alloc(0)));
    this.chunks = [];
    this.held = 0;
    if (line.length > this.maxLineBytes) {
      return this.oversize(line.length);
    }
    return line;
  }

  /** Bytes held right now (for tests of the memory bound). */
  get buffered(): number {
    return this.held;
  }

  private take(last: Buffer): Buffer {
    if (this.chunks.length === 0) {
      return Buffer.from(last);
    }
    return Buffer.concat([...this.chunks, last]);
  }

  private oversize(size: number): OversizeLine {
    return { kind: "oversize", size, limit: this.maxLineBytes };
  }
}

/** Whether a value from {@link LineSplitter} is an oversize marker. */
export function isOversize(line: SplitLine): line is OversizeLine {
  return !Buffer.isBuffer(line);
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
}

function endsWithCr(chunks: readonly Buffer[], last: Buffer): boolean {
  if (last.length > 0) {
    return last[last.length - 1] === CR;
  }
  const tail = chunks[chunks.length - 1];
  return tail !== undefined && tail.length > 0 && tail[tail.length - 1] === CR;
}
