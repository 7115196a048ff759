/**
 * Reading a child's pipe as lines: each chunk through a {@link LineSplitter} (bounded),
 * each complete line handed on at once, the unterminated rest at the end. The stdout and
 * stderr readers of a sidecar are two of these.
 */

import type { Readable } from "node:stream";

import { LineSplitter, type SplitLine } from "../protocol/framing.js";

/**
 * Call `onLine` for every line of `stream` (at most `maxLineBytes`; longer ones arrive as an
 * oversize marker); resolves, once the stream has closed, with its last line if it had no newline.
 */
export function readLines(stream: Readable, maxLineBytes: number, onLine: (line: SplitLine) => void): Promise<SplitLine | null> {
  const splitter = new LineSplitter(maxLineBytes);
  stream.on("data", (chunk: Buffer) => {
    for (const line of splitter.feed(chunk)) onLine(line);
  });
  return new Promise((resolve) => stream.once("close", () => resolve(splitter.finish())));
}
