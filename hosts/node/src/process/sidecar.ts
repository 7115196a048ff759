/**
 * One running sidecar: spawn, READY, calls, notifications, stderr, the stop ladder.
 *
 * ```ts
 * const sidecar = await SidecarProcess.start({ command, args: ["--data-dir", dir] });
 * const status = await sidecar.call("system.status");
 * await sidecar.stop();
 * ```
 *
 * The process is a thin I/O shell around the sans-IO core (src/protocol/): stdout bytes
 * go through a {@link LineSplitter} into a {@link StdoutSession}, whose events this class
 * acts on; calls wait in {@link PendingCalls}. Every pending call fails with
 * {@link SidecarExited} when the process exits; a call that times out sends `rpc.cancel`.
 * Stopping is the ladder in stop.ts; the tree per platform is tree.ts.
 */

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

import type { CallArgs, CallOptions, HostOnlyMethod, HostParamsOf, NotificationParamsOf, ResultOf, SidecarNotification } from "../methods.js";
import type { GrantRecord } from "../generated/methods.js";
import { isOversize, type SplitLine } from "../protocol/framing.js";
import type { ErrorReply, Response } from "../protocol/jsonrpc.js";
import type { LifecycleLine } from "../protocol/lifecycle.js";
import { CallTable, StdoutSession, showLine, type StdoutEvent, type ViolationKind } from "../protocol/session.js";
import { PendingCalls } from "./calls.js";
import {
  CALL_TIMEOUT_MS,
  DEFAULT_STOP_TIMEOUTS,
  ERROR_STDERR_TAIL_LINES,
  LINES_KEPT_BEFORE_READY,
  MAX_STDERR_LINE_BYTES,
  MAX_STDOUT_LINE_BYTES,
  MAX_VIOLATIONS_KEPT,
  PIPE_DRAIN_TIMEOUT_MS,
  READY_TIMEOUT_MS,
  STDERR_TAIL_LINES,
  childEnv,
  type SidecarOptions,
  type StopTimeouts,
} from "./config.js";
import { Emitter } from "./emitter.js";
import { BinaryNotFound, ExitedBeforeReady, ReadyTimeout, SidecarExited, SpawnFailed, describeStatus, type ExitStatus } from "./errors.js";
import { checkExecutable } from "./executable.js";
import { newHostKey, paramsWithHostKey, scrubHostKey } from "./host-key.js";
import { LaunchLock, defaultLockPath } from "./launch-lock.js";
import { HostLog, StderrRing } from "./log.js";
import { readLines } from "./readers.js";
import { climbLadder, type StopReport } from "./stop.js";
import { ProcessTree, treeSpawnOptions } from "./tree.js";

export type { StopReport, StopStep } from "./stop.js";

/** Something on stdout that breaks the contract (kind as in {@link ViolationKind}). */
export interface ProtocolViolation {
  readonly kind: ViolationKind;
  readonly line: string;
}

/** An answer no pending call waited for (a call that timed out, or one sent with sendRaw). */
export interface UnmatchedAnswer {
  readonly message: Response | ErrorReply;
  /** The answer's decoded JSON. */
  readonly value: unknown;
}

/** What a {@link SidecarProcess} emits. */
export type SidecarEvents = {
  /** A notification from the sidecar (params decoded; null when absent). */
  notification: [SidecarNotification];
  /** A HEARTBEAT line. */
  heartbeat: [LifecycleLine];
  /** A protocol violation (also kept in `violations`). */
  violation: [ProtocolViolation];
  /** An answer no pending call waited for. */
  unmatched: [UnmatchedAnswer];
  /** The process exited (and its stdout was read to the end). */
  exit: [ExitStatus | null];
};

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One running sidecar process. Create it with {@link SidecarProcess.start} or {@link SidecarProcess.spawn}. */
export class SidecarProcess {
  /** The pid the host spawned (a onefile bootstrap under a packager). */
  readonly pid: number;
  /** The executable that was spawned (absolute path). */
  readonly program: string;
  /** Notifications, heartbeats, violations, unmatched answers, exit. */
  readonly events = new Emitter<SidecarEvents>();
  /** Protocol violations seen on stdout (at most {@link MAX_VIOLATIONS_KEPT}); [] for a clean run. */
  readonly violations: ProtocolViolation[] = [];
  /** Stdout lines printed before READY (at most {@link LINES_KEPT_BEFORE_READY}). */
  readonly linesBeforeReady: string[] = [];
  /** This launch's hold on the launch lock (null when spawned without one). */
  readonly launchLock: LaunchLock | null;
  /** Where stderr and the host's messages go. */
  readonly log: HostLog;
  /** When the process was spawned (performance.now()). */
  readonly spawnedAt: number;
  bootAt: number | null = null;
  readyAt: number | null = null;
  exitStatus: ExitStatus | null = null;

  readonly #hostKey: string | null;
  readonly #hostKeyBytes: Buffer | null;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #tree: ProcessTree;
  readonly #options: SidecarOptions;
  readonly #stopTimeouts: StopTimeouts;
  readonly #session = new StdoutSession();
  readonly #calls = new PendingCalls();
  readonly #stderr: StderrRing;
  #lastHeartbeat: { seq: number; at: number } | null = null;
  #running = true;
  #stdinBroken = false;
  #stopping: Promise<StopReport> | null = null;
  readonly #exited: Promise<ExitStatus | null>;
  readonly #stdoutClosed: Promise<void>;
  readonly #readySignal: Promise<void>;
  #markReady: () => void = () => {};
  #readyWaited: Promise<void> | null = null;
  readonly #exitHook: () => void;
  /** Whether the log was made for this process alone (then it is closed once the process is done). */
  readonly #ownsLog: boolean;

  private constructor(
    child: ChildProcessWithoutNullStreams,
    program: string,
    options: SidecarOptions,
    lock: LaunchLock | null,
    hostKey: string | null,
    log: HostLog,
    ownsLog: boolean,
    spawnedAt: number,
  ) {
    this.#child = child;
    this.#ownsLog = ownsLog;
    this.pid = child.pid ?? 0;
    this.program = program;
    this.#options = options;
    this.#stopTimeouts = { ...DEFAULT_STOP_TIMEOUTS, ...options.stopTimeouts };
    this.launchLock = lock;
    this.#hostKey = hostKey;
    this.#hostKeyBytes = hostKey === null ? null : Buffer.from(hostKey, "ascii");
    this.log = log;
    this.spawnedAt = spawnedAt;
    this.#tree = new ProcessTree(this.pid);
    this.#stderr = new StderrRing(options.stderrTailLines ?? STDERR_TAIL_LINES);
    this.#readySignal = new Promise((resolve) => (this.#markReady = resolve));
    this.#stdoutClosed = this.#readStdout();
    this.#readStderr();
    this.#exited = this.#watchExit();
    // Writing to a sidecar that just died raises EPIPE on the stream: a value, not a crash.
    child.stdin.on("error", () => {
      this.#stdinBroken = true;
    });
    // Node emits "error" when a signal cannot be sent; an unheard "error" would end the host.
    child.on("error", (err) => log.host(this.pid, `process error: ${err.message}`));
    child.stdout.on("error", (err) => log.host(this.pid, `stdout error: ${err.message}`));
    child.stderr.on("error", (err) => log.host(this.pid, `stderr error: ${err.message}`));
    this.#exitHook = () => this.#onHostExit();
    if (options.stopOnHostExit !== false) process.on("exit", this.#exitHook);
    if (lock !== null) {
      // BOOT may never come, and a caller may never wait for READY: hold it at most this long.
      setTimeout(() => this.#releaseLock("READY timeout"), options.readyTimeoutMs ?? READY_TIMEOUT_MS).unref();
    }
    log.host(this.pid, `spawned ${program} ${(options.args ?? []).join(" ")}`.trim());
  }

  // ------------------------------------------------------------------ starting

  /**
   * Spawn the sidecar and wait for READY. Rejects with a {@link SidecarStartError}
   * ({@link BinaryNotFound}, {@link ExitedBeforeReady}, {@link ReadyTimeout}, ...); the
   * process is gone by then.
   */
  static async start(options: SidecarOptions): Promise<SidecarProcess> {
    const sidecar = await SidecarProcess.spawn(options);
    await sidecar.ready();
    return sidecar;
  }

  /**
   * Spawn the sidecar and return as soon as the process exists (before READY); then
   * {@link ready}. Takes the launch lock first (released at BOOT). Rejects with
   * {@link BinaryNotFound} naming the path tried, or {@link SpawnFailed}.
   */
  static async spawn(options: SidecarOptions, log?: HostLog): Promise<SidecarProcess> {
    const hostLog = log ?? new HostLog(options.logFile ?? null);
    const hostKey = options.hostKey === false ? null : options.hostKey === true || options.hostKey === undefined ? newHostKey() : options.hostKey;
    const env = childEnv(options, hostKey);
    const program = checkExecutable(options.command, options.cwd, env);
    let lock: LaunchLock | null = null;
    if (options.launchLock !== false) {
      const lockPath = typeof options.launchLock === "string" ? options.launchLock : defaultLockPath(options.appName);
      lock = await LaunchLock.acquire(lockPath, {
        ...(options.launchLockWaitMs !== undefined ? { waitMs: options.launchLockWaitMs } : {}),
        ...(options.launchLockHelpers !== undefined ? { helpers: options.launchLockHelpers } : {}),
      });
      hostLog.host(0, lock.held ? `launch lock ${lock.path}: held (waited ${lock.waitedMs} ms, ${lock.helper ?? "?"})` : `launch lock: ${lock.problem ?? "not taken"}`);
    }
    const spawnedAt = performance.now();
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(program, [...(options.args ?? [])], {
        stdio: ["pipe", "pipe", "pipe"],
        env,
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        ...treeSpawnOptions(),
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (err) {
      lock?.release();
      const code = (err as NodeJS.ErrnoException).code;
      const reason = err instanceof Error ? err.message : String(err);
      if (code === "ENOENT" || code === "EACCES") throw new BinaryNotFound(program, reason);
      throw new SpawnFailed(program, reason);
    }
    return new SidecarProcess(child, program, options, lock, hostKey, hostLog, log === undefined, spawnedAt);
  }

  /**
   * Wait for READY (at most `readyTimeoutMs`). Rejects with {@link ExitedBeforeReady}
   * (status, stdout lines, stderr tail) or {@link ReadyTimeout} (the lines printed
   * instead; the process is then ended: SIGTERM, then SIGKILL of its group).
   */
  ready(): Promise<void> {
    this.#readyWaited ??= this.#waitReady();
    return this.#readyWaited;
  }

  async #waitReady(): Promise<void> {
    const timeoutMs = this.#options.readyTimeoutMs ?? READY_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.#readySignal.then(() => "ready" as const),
      this.#exited.then(() => "exited" as const),
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === "ready") return;
    this.#releaseLock("no READY");
    if (outcome === "exited") {
      throw new ExitedBeforeReady(this.exitStatus, this.stderrTail(ERROR_STDERR_TAIL_LINES), [...this.linesBeforeReady]);
    }
    const error = new ReadyTimeout(timeoutMs, [...this.linesBeforeReady], this.stderrTail(ERROR_STDERR_TAIL_LINES));
    this.log.host(this.pid, error.message);
    await this.terminate();
    throw error;
  }

  // ------------------------------------------------------------------ facts

  /** True until the process has exited. */
  get running(): boolean {
    return this.#running;
  }

  /** The latest BOOT line, once seen. */
  get boot(): LifecycleLine | null {
    return this.#session.boot;
  }

  /** The engine's own pid from BOOT (`pid=`): under a onefile packager not {@link pid}. */
  get enginePid(): number | null {
    const pid = Number(this.#session.boot?.fields["pid"]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  /** The sidecar version from BOOT. */
  get version(): string | null {
    return this.#session.boot?.fields["version"] ?? null;
  }

  /** The SHUTDOWN line's reason, once seen. */
  get shutdownReason(): string | null {
    return this.#session.shutdown?.fields["reason"] ?? null;
  }

  /** Milliseconds from spawn to READY, once ready. */
  get startupMs(): number | null {
    return this.readyAt === null ? null : Math.round(this.readyAt - this.spawnedAt);
  }

  /** The last HEARTBEAT's seq and how long ago it came (ms). */
  get lastHeartbeat(): { readonly seq: number; readonly agoMs: number } | null {
    const beat = this.#lastHeartbeat;
    return beat === null ? null : { seq: beat.seq, agoMs: Math.round(performance.now() - beat.at) };
  }

  /** How long since the last sign of life (HEARTBEAT, else READY, else the spawn), in ms. */
  silentForMs(): number {
    return performance.now() - (this.#lastHeartbeat?.at ?? this.readyAt ?? this.spawnedAt);
  }

  /** The last `n` stderr lines, oldest first. */
  stderrTail(n = STDERR_TAIL_LINES): string[] {
    return this.#stderr.tail(n);
  }

  /** The id the next call will use (for tests of rpc.cancel). */
  get nextRequestId(): number {
    return this.#calls.nextId;
  }

  /** Resolves with the exit status once the process has exited and its stdout was read. */
  exited(): Promise<ExitStatus | null> {
    return this.#exited;
  }

  /** Wait at most `ms` for the exit; true if it exited. */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.#running) {
      await this.#exited;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.#exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return done;
  }

  // ------------------------------------------------------------------ calls

  /**
   * Call `method` and resolve with its decoded result; rejects with {@link RpcCallError}
   * (an error answer: `code`, `errorKind`), {@link CallTimeout} (after sending `rpc.cancel`)
   * or {@link SidecarExited}. Params and result are typed from the engine's schema.
   */
  async call<M extends string>(method: M, ...args: CallArgs<M>): Promise<ResultOf<M>> {
    const [params, options] = args;
    const raw = await this.callRaw(method, params, options);
    return JSON.parse(raw) as ResultOf<M>;
  }

  /**
   * {@link call}, resolving with the result's raw JSON text: for a big-integer-aware
   * parser (BIGINT values past 2^53 lose digits in `JSON.parse`).
   */
  callRaw(method: string, params?: unknown, options: CallOptions = {}): Promise<string> {
    if (!this.#running || this.#stdinBroken) {
      return Promise.reject(this.#exitedError(method));
    }
    const timeoutMs = options.timeoutMs ?? this.#options.callTimeoutMs ?? CALL_TIMEOUT_MS;
    let call: ReturnType<PendingCalls["start"]>;
    try {
      // As every host does on a timeout: tell the sidecar to stop the work too.
      call = this.#calls.start(method, params, timeoutMs, (id) => void this.#write(CallTable.cancelFrame(id)).catch(() => {}));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new TypeError(String(err))); // params that are not JSON
    }
    this.#write(call.frame).catch(() => this.#calls.fail(call.id, (m) => this.#exitedError(m)));
    return call.answer;
  }

  /**
   * Call a host-only method (`files.grant`, `files.revoke`, `secrets.get`): {@link call}
   * with this launch's host key added. Only the host's own code can: the key is private.
   */
  async callHost<M extends HostOnlyMethod>(method: M, params: HostParamsOf<M>, options?: CallOptions): Promise<ResultOf<M>> {
    if (this.#hostKey === null) {
      throw new Error("this sidecar was spawned with hostKey: false: it has no host-only methods");
    }
    const raw = await this.callRaw(method, paramsWithHostKey(params, this.#hostKey), options);
    return JSON.parse(raw) as ResultOf<M>;
  }

  /** Let the engine reach a path the user chose (`files.grant`); resolves with the grant record. */
  grant(path: string, mode: "read" | "write" = "read"): Promise<GrantRecord> {
    return this.callHost("files.grant", { path, mode });
  }

  /** Send a notification (never answered). */
  notify(method: string, params?: unknown): Promise<void> {
    return this.#write(CallTable.notificationFrame(method, params));
  }

  /** Write a line to the sidecar's stdin as given (add the `\n` yourself). */
  sendRaw(line: string | Uint8Array): Promise<void> {
    return this.#write(line);
  }

  /**
   * Listen to one notification, typed from the engine's schema; returns the function that
   * stops listening. `onNotification("job.progress", (p) => bar(p.progress))`.
   */
  onNotification<N extends string>(method: N, listener: (params: NotificationParamsOf<N>) => void): () => void {
    return this.events.on("notification", (note) => {
      if (note.method === method) listener(note.params as NotificationParamsOf<N>);
    });
  }

  /** Listen to every notification. */
  onAnyNotification(listener: (note: SidecarNotification) => void): () => void {
    return this.events.on("notification", listener);
  }

  #write(data: string | Uint8Array): Promise<void> {
    const stdin = this.#child.stdin;
    if (!this.#running || this.#stdinBroken || stdin.destroyed || stdin.writableEnded) {
      return Promise.reject(this.#exitedError("write"));
    }
    return new Promise((resolve, reject) => {
      stdin.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  #exitedError(method: string): SidecarExited {
    return new SidecarExited(method, this.exitStatus, this.stderrTail(ERROR_STDERR_TAIL_LINES));
  }

  // ------------------------------------------------------------------ stopping

  /**
   * Stop gracefully, escalating step by step (see the module comment); each step and the
   * outcome go to the log. Calling it again returns the same stop.
   */
  stop(timeouts: Partial<StopTimeouts> = {}): Promise<StopReport> {
    this.#stopping ??= climbLadder(this, this.#tree, "shutdown_request", { ...this.#stopTimeouts, ...timeouts }).then((report) => {
      this.log.host(
        this.pid,
        `stopped by step ${report.step} in ${report.elapsedMs} ms: ${describeStatus(report.status)}, SHUTDOWN reason ${report.shutdownReason ?? "(none)"}`,
      );
      if (this.#ownsLog) this.log.close();
      return report;
    });
    return this.#stopping;
  }

  /** Stop a process that cannot answer (hung, or never ready): SIGTERM, then SIGKILL of the group. */
  terminate(timeouts: Partial<StopTimeouts> = {}): Promise<StopReport> {
    this.#stopping ??= climbLadder(this, this.#tree, "sigterm", { ...this.#stopTimeouts, ...timeouts }).then((report) => {
      if (this.#ownsLog) this.log.close();
      return report;
    });
    return this.#stopping;
  }

  /** Kill the whole process tree now (SIGKILL of the group; Windows: taskkill /T /F). */
  killTree(): Promise<void> {
    return this.#tree.kill();
  }

  /** Whether any process of the tree is still alive (Windows: the spawned process). */
  treeAlive(): boolean {
    return this.#tree.alive() ?? this.#running;
  }

  /** Close the sidecar's stdin (it answers with `SHUTDOWN reason=normal`). */
  closeStdin(): void {
    if (!this.#child.stdin.writableEnded) this.#child.stdin.end();
  }

  /** Send a signal to the spawned process itself (not its group); ignored once it exited. */
  signal(sig: NodeJS.Signals): void {
    if (this.#running) this.#child.kill(sig);
  }

  /** The host process is exiting: ask the sidecar to stop by itself (synchronous, graceful). */
  #onHostExit(): void {
    if (!this.#running) return;
    this.#child.stdin.destroy(); // EOF: the sidecar shuts down with reason=normal
    this.#tree.terminate(); // and SIGTERM on Unix, for a sidecar busy enough not to read stdin
  }

  #releaseLock(why: string): void {
    const lock = this.launchLock;
    if (lock !== null && lock.held) {
      lock.release();
      this.log.host(this.pid, `launch lock released (${why}) after ${lock.heldMs ?? 0} ms`);
    }
  }

  // ------------------------------------------------------------------ readers

  async #readStdout(): Promise<void> {
    const key = this.#hostKeyBytes;
    const last = await readLines(this.#child.stdout, this.#options.maxLineBytes ?? MAX_STDOUT_LINE_BYTES, (line) =>
      this.#onLine(isOversize(line) ? line : scrubHostKey(line, key)),
    );
    if (last !== null) {
      const shown = isOversize(last) ? `${last.size} bytes` : showLine(scrubHostKey(last, key));
      this.#violation("non_protocol_line", `(unterminated last line) ${shown}`);
    }
  }

  #readStderr(): void {
    const keep = (line: SplitLine): void => {
      const text = isOversize(line) ? `(a stderr line of ${line.size} bytes, not kept)` : scrubHostKey(line, this.#hostKeyBytes).toString("utf8");
      this.#stderr.push(text);
      this.log.write("stderr", this.pid, text);
    };
    void readLines(this.#child.stderr, MAX_STDERR_LINE_BYTES, keep).then((last) => {
      if (last !== null) keep(last);
    });
  }

  async #watchExit(): Promise<ExitStatus | null> {
    const status = await new Promise<ExitStatus>((resolve) => {
      this.#child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    this.exitStatus = status;
    this.#running = false;
    process.removeListener("exit", this.#exitHook);
    this.#releaseLock("exit before BOOT");
    // Read every line it printed first, bounded: a grandchild may keep the pipe open.
    await Promise.race([this.#stdoutClosed, delay(PIPE_DRAIN_TIMEOUT_MS)]);
    this.log.host(this.pid, `exited (${describeStatus(status)}), SHUTDOWN reason ${this.shutdownReason ?? "(none)"}`);
    this.#calls.failAll((method) => this.#exitedError(method));
    this.events.emit("exit", status);
    if (this.#ownsLog && this.#stopping === null) this.log.close(); // a stop closes it after its last line
    return status;
  }

  #onLine(line: SplitLine): void {
    if (this.readyAt === null && !isOversize(line) && this.linesBeforeReady.length < LINES_KEPT_BEFORE_READY) {
      this.linesBeforeReady.push(showLine(line));
    }
    for (const event of this.#session.onLine(line)) this.#onEvent(event);
  }

  #onEvent(event: StdoutEvent): void {
    switch (event.type) {
      case "boot":
        this.bootAt = performance.now();
        this.#releaseLock("BOOT"); // the bootstrap has unpacked and started the engine
        break;
      case "ready":
        this.readyAt = performance.now();
        this.#markReady();
        break;
      case "heartbeat": {
        const seq = Number(event.line.fields["seq"]);
        this.#lastHeartbeat = { seq: Number.isFinite(seq) ? seq : -1, at: performance.now() };
        this.events.emit("heartbeat", event.line);
        break;
      }
      case "shutdown":
        break; // kept by the session (shutdownReason)
      case "answer":
        this.#onAnswer(event.message);
        break;
      case "notification":
        this.events.emit("notification", {
          method: event.method,
          params: event.params === null ? null : (JSON.parse(event.params) as unknown),
        });
        break;
      case "violation":
        if (event.kind === "boot_not_first" && event.line.startsWith("BOOT")) this.bootAt = performance.now();
        this.#violation(event.kind, event.line);
        break;
    }
  }

  #onAnswer(message: Response | ErrorReply): void {
    if (this.#calls.answer(message)) return;
    const text = message.type === "response" ? `{"id":${message.id},"result":${message.result}}` : JSON.stringify({ id: JSON.parse(message.id) as unknown, error: message.error });
    this.events.emit("unmatched", { message, value: JSON.parse(text) as unknown });
  }

  #violation(kind: ViolationKind, line: string): void {
    const violation = { kind, line };
    if (this.violations.length < MAX_VIOLATIONS_KEPT) this.violations.push(violation);
    this.log.host(this.pid, `protocol violation (${kind}): ${line}`);
    this.events.emit("violation", violation);
  }
}
