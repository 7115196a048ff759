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
