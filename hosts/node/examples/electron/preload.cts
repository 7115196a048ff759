/**
 * The preload script (CommonJS, `.cts` -> `.cjs`: a sandboxed preload cannot be an ES
 * module; its `require("electron")` is the one require Electron gives it). The only
 * bridge between the page and the main process. It exposes
 * a narrow, typed API as `window.sidecar` (contextIsolation keeps Node and ipcRenderer
 * out of the page): call a method the main process allows, status, restart, pick a file
 * to grant, and subscribe to state, notifications and logs. No host key, no process, no
 * path: bridge.ts decides what reaches the sidecar.
 */

import electron = require("electron");

import type { SidecarBridgeApi } from "./api.js";

const { contextBridge, ipcRenderer } = electron;
const CALL = "sidecar:call";

function subscribe<T>(channel: string, listener: (payload: T) => void): () => void {
  const wrapped = (_event: unknown, payload: unknown): void => listener(payload as T);
  ipcRenderer.on(channel, wrapped);
  return () => ipcRenderer.removeListener(channel, wrapped as (...args: unknown[]) => void);
}

const api: SidecarBridgeApi = {
  call: (method, params, timeoutMs) => ipcRenderer.invoke(CALL, { method, params, timeoutMs }) as ReturnType<SidecarBridgeApi["call"]>,
  status: () => ipcRenderer.invoke("sidecar:status") as ReturnType<SidecarBridgeApi["status"]>,
  restart: () => ipcRenderer.invoke("sidecar:restart") as ReturnType<SidecarBridgeApi["restart"]>,
  pickAndGrant: (mode) => ipcRenderer.invoke("sidecar:pick-and-grant", mode) as ReturnType<SidecarBridgeApi["pickAndGrant"]>,
  onState: (listener) => subscribe("sidecar:state", listener),
  onNotification: (listener) => subscribe("sidecar:notification", listener),
  onLog: (listener) => subscribe("sidecar:log", listener),
};

contextBridge.exposeInMainWorld("sidecar", api);
