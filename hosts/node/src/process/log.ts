/**
 * Where the sidecar's stderr goes: a bounded ring of recent lines (for error messages
 * and a status view), an optional log file (everything, rotated once at
 * {@link LOG_ROTATE_BYTES}), and live listeners (a UI's log pane). The same shapes as the
 * Rust crate's `process/log.rs`; the file's lines read the same too.
 */

import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import path from "node:path";

/** Rotate the log file when it grows past this size (the old one becomes `<file>.1`). */
export const LOG_ROTATE_BYTES = 5 * 1024 * 1024;

/** Where a log line came from: the sidecar's stderr, or the host itself (states, stop steps, errors). */
export type LogSource = "stderr" | "host";

/** One log line. tsMs: when the host saw it (ms since the epoch). pid: the process it concerns (0: none). */
export interface LogLine {
  readonly tsMs: number;
  readonly source: LogSource;
  readonly pid: number;
  readonly line: string;
}

/** The last `capacity` lines, oldest dropped first. */
export class StderrRing {
  private readonly lines: string[] = [];
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  /** Append a line, dropping the oldest when full. */
  push(line: string): void {
    if (this.lines.length === this.capacity) this.lines.shift();
    this.lines.push(line);
  }

  /** The last `n` lines, oldest first. */
  tail(n: number = this.capacity): string[] {
    return this.lines.slice(-Math.max(0, n));
  }
}

/**
 * The host's log: an append-only file (optional) plus live listeners. Writes are
 * synchronous and small (one line), so a line is on disk before the next is read and
 * nothing is queued in memory; a file that cannot be written is given up on, never fatal.
 */
export class HostLog {
  private fd: number | null = null;
  private written = 0;
  private readonly listeners = new Set<(line: LogLine) => void>();
  /** Why the file is not being written, if it is not. */
  problem: string | null = null;

  /** A log writing to `file` (its folder is created), or only to listeners when null. */
  constructor(readonly file: string | null = null) {
    if (file !== null) this.open(file);
  }

  /** Call `listener` for every line from now on; returns the unsubscribe function. */
  subscribe(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Log one line. */
  write(source: LogSource, pid: number, line: string): void {
    const entry: LogLine = { tsMs: Date.now(), source, pid, line };
    if (this.fd !== null && this.file !== null) {
      const text = `${entry.tsMs} ${source} pid=${pid} ${line}\n`;
      const bytes = Buffer.byteLength(text);
      if (this.written + bytes > LOG_ROTATE_BYTES) this.rotate(this.file);
      if (this.fd !== null) {
        try {
          writeSync(this.fd, text);
          this.written += bytes;
        } catch (err) {
          this.giveUp(err); // a full disk must not take the host down
        }
      }
    }
    for (const listener of this.listeners) listener(entry);
  }

  /** Log a message from the host. */
  host(pid: number, message: string): void {
    this.write("host", pid, message);
  }

  /** Stop writing the file. */
  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private open(file: string): void {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      this.fd = openSync(file, "a", 0o600);
      this.written = fstatSync(this.fd).size;
    } catch (err) {
      this.giveUp(err);
    }
  }

  private rotate(file: string): void {
    this.close();
    try {
      renameSync(file, file + ".1");
    } catch {
      // keep appending to the same file rather than lose lines
    }
    this.open(file);
    this.written = 0;
  }

  private giveUp(err: unknown): void {
    this.close();
    this.problem = `cannot write ${this.file ?? "(no file)"}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
