/**
 * The per-launch host key: how the host proves to the sidecar that a host-only call
 * (files.grant, files.revoke, secrets.get) is its own (docs/SECURITY.md, PROTOCOL.md 12).
 *
 * A fresh key per launch (32 random bytes from the OS, as hex), handed to the sidecar in
 * its environment (`SIDECAR_HOST_KEY`, never on the command line, which other users can
 * read) and added to the params of host-only methods. It lives in a private field of the
 * process object, so it is not reachable from a renderer even when that object is handed
 * around: a preload or a page never gets it.
 */

import { randomBytes } from "node:crypto";

export const HOST_KEY_ENV = "SIDECAR_HOST_KEY";

/** 32 random bytes as 64 hex characters. */
export function newHostKey(): string {
  return randomBytes(32).toString("hex");
}

/** Host-only params: `params` plus `host_key`. */
export function paramsWithHostKey(params: object | undefined, key: string): Record<string, unknown> {
  return { ...(params ?? {}), host_key: key };
}

/** What stands in for the key wherever it is scrubbed. */
export const HOST_KEY_MASK = "***";
const MASK = Buffer.from(HOST_KEY_MASK);

/**
 * `line` with every occurrence of `key` replaced by {@link HOST_KEY_MASK}: the host scrubs
 * each line the sidecar prints before anything else sees it, so even a sidecar bug that
 * echoed the key could not hand it to a page (the Rust host does the same).
 */
export function scrubHostKey(line: Buffer, key: Buffer | null): Buffer {
  if (key === null || key.length === 0 || line.indexOf(key) < 0) return line;
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = line.indexOf(key); at >= 0; at = line.indexOf(key, from)) {
    parts.push(line.subarray(from, at), MASK);
    from = at + key.length;
  }
  parts.push(line.subarray(from));
  return Buffer.concat(parts);
}
