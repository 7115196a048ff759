/**
 * sidecar-host: run the sidecar engine from Node (an Electron main process, a CLI, a server).
 *
 * ```ts
 * import { SidecarProcess } from "sidecar-host";
 * const sidecar = await SidecarProcess.start({ command: "/path/to/sidecar-x86_64-unknown-linux-gnu" });
 * const { rows } = await sidecar.call("db.query", { sql: "SELECT 42 AS answer" });
 * await sidecar.stop();
 * ```
 *
 * `Supervisor` keeps one alive (heartbeat watch, restarts with backoff); the protocol
 * core without I/O is in `sidecar-host/protocol` (src/protocol/).
 */

export * from "./process/config.js";
export * from "./process/errors.js";
export { Emitter, type EventMap } from "./process/emitter.js";
export { checkExecutable, externalBinFileName, sidecarPathInResources, targetTriple } from "./process/executable.js";
export { HOST_KEY_ENV } from "./process/host-key.js";
export { STOP_SIGNALS, stopOnSignals, type Stoppable } from "./process/host-exit.js";
export { LAUNCH_LOCK_WAIT_MS, LaunchLock, defaultLockPath, isLocked, type AcquireOptions, type LockHelper } from "./process/launch-lock.js";
export { HostLog, LOG_ROTATE_BYTES, StderrRing, type LogLine, type LogSource } from "./process/log.js";
export {
  SidecarProcess,
  type ProtocolViolation,
  type SidecarEvents,
  type StopReport,
  type StopStep,
  type UnmatchedAnswer,
} from "./process/sidecar.js";
export {
  DEFAULT_RESTART_POLICY,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
  MAX_RESTARTS,
  RESTART_WINDOW_MS,
  RestartBudget,
  backoffMs,
  hangLimitMs,
  type HeartbeatPolicy,
  type RestartPolicy,
} from "./process/policy.js";
export { IllegalTransition, MOVES, canMove, checkMove, describeState, type SidecarState, type StateName } from "./process/state.js";
export { Supervisor, type SidecarStatus, type SupervisorEvents, type SupervisorOptions } from "./process/supervisor.js";
export {
  DISCOVERY_PRIVILEGE_MARKERS,
  InvalidRule,
  MAX_METHOD_NAME_LENGTH,
  MethodPolicy,
  PRIVILEGED_METHODS,
  PRIVILEGED_NAMESPACES,
  UnpinnableParams,
  applyPins,
  explainRefusal,
  privilegedInDiscovery,
  type MethodRule,
  type Permit,
  type Refusal,
} from "./policy.js";
export type * from "./methods.js";
export type * from "./generated/methods.js";
export { HOST_ONLY_METHODS } from "./generated/methods.js";
