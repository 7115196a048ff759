/** The page's view of the sidecar: what preload.ts exposes as `window.sidecar`. Types only. */

import type { GrantRecord, LogLine, SidecarNotification, SidecarState, SidecarStatus } from "sidecar-host";

import type { PageResult } from "./bridge.js";

export interface SidecarBridgeApi {
  /** Call a method the main process allows; errors come back as `{ ok: false, error: { kind, message, code?, errorKind? } }`. */
  call(method: string, params?: unknown, timeoutMs?: number): Promise<PageResult>;
  status(): Promise<Omit<SidecarStatus, "recentLogs"> & { recentLogs: string[] }>;
  restart(): Promise<PageResult>;
  /** Ask main to show an open dialog and grant the chosen file; result: the grant record, or null if cancelled. */
  pickAndGrant(mode: "read" | "write"): Promise<PageResult & ({ ok: false } | { ok: true; result: GrantRecord | null })>;
  onState(listener: (state: SidecarState) => void): () => void;
  onNotification(listener: (note: SidecarNotification) => void): () => void;
  onLog(listener: (line: LogLine) => void): () => void;
}

declare global {
  interface Window {
    readonly sidecar: SidecarBridgeApi;
  }
}
