/**
 * Keeps one sidecar alive: start, READY, heartbeat watch, restart with exponential
 * backoff within a budget, graceful stop (the Rust crate's `Supervisor`).
 *
 * One loop owns the lifecycle and takes the handle's commands (restart, stop) from a
 * mailbox; calls go straight to the current process, so a slow call never delays a stop.
 * State changes, notifications and log lines are events.
 *
 * ```ts
 * const supervisor = Supervisor.start({ sidecar: { command, args: ["--heartbeat-interval", "2"] },
 *                                       heartbeat: { intervalMs: 2000, missed: 3 } });
 * supervisor.events.on("state", (s) => win.webContents.send("sidecar:state", s));
 * await supervisor.waitReady(20_000);
 * const status = await supervisor.call("system.status");
 * await supervisor.stop();
 * ```
 */

import type { CallArgs, CallOptions, HostOnlyMethod, HostParamsOf, NotificationParamsOf, ResultOf, SidecarNotification } from "../methods.js";
import type { GrantRecord } from "../generated/methods.js";
import type { SidecarOptions } from "./config.js";
import { Emitter } from "./emitter.js";
import { Hung, NotRunning, RestartLimit, SidecarError, SidecarExited, describeStatus } from "./errors.js";
import { HostLog, type LogLine } from "./log.js";
import { DEFAULT_RESTART_POLICY, RestartBudget, hangLimitMs, type HeartbeatPolicy, type RestartPolicy } from "./policy.js";
import { SidecarProcess, type StopReport } from "./sidecar.js";
import { checkMove, describeState, type SidecarState } from "./state.js";

/** Heartbeat checks per heartbeat interval (a hang is seen at most half an interval late). */
const HEARTBEAT_CHECKS_PER_INTERVAL = 2;
/** The shortest time between two heartbeat checks (a tiny interval must not spin). */
const MIN_HEARTBEAT_CHECK_MS = 50;
/** Stderr lines a failure reason quotes. */
const REASON_STDERR_LINES = 1;

/** Everything a {@link Supervisor} needs. */
export interface SupervisorOptions {
  /** How to start each process. */
  readonly sidecar: SidecarOptions;
  /** When to restart (each field defaults as in {@link DEFAULT_RESTART_POLICY}). */
  readonly restart?: Partial<RestartPolicy>;
  /** Heartbeat watch; absent or null: no hang detection. */
  readonly heartbeat?: HeartbeatPolicy | null;
}

/** A snapshot for status displays. */
export interface SidecarStatus {
  readonly state: SidecarState;
  readonly pid: number | null;
  readonly enginePid: number | null;
  readonly restarts: number;
  readonly lastHeartbeatSeq: number | null;
  readonly lastHeartbeatMsAgo: number | null;
  readonly logFile: string | null;
  readonly uptimeMs: number;
  readonly recentLogs: readonly string[];
}

/** What a {@link Supervisor} emits. */
export type SupervisorEvents = {
  /** The state changed. */
  state: [SidecarState];
  /** A notification from the current sidecar. */
  notification: [SidecarNotification];
  /** A stderr line or a host message. */
  log: [LogLine];
};

type Command =
  | { readonly kind: "restart"; readonly done: () => void }
  | { readonly kind: "stop"; readonly reason: string; readonly done: (report: StopReport | null) => void };

/**
 * Commands for the loop, taken one at a time. `wait()` never consumes: the loop races it
 * against other events and takes the command only when the wait won, so a lost race
 * (whose promise still resolves later) loses nothing.
 */
class Mailbox {
  private readonly queue: Command[] = [];
  private wake: (() => void) | null = null;
  private signal: Promise<void> = this.fresh();

  post(command: Command): void {
    this.queue.push(command);
    this.wake?.();
  }

  take(): Command | undefined {
    const command = this.queue.shift();
    if (this.queue.length === 0) this.signal = this.fresh();
    return command;
  }

  /** Resolves once a command is waiting. */
  wait(): Promise<void> {
    return this.queue.length > 0 ? Promise.resolve() : this.signal;
  }

  private fresh(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }
}

/** How one process's run ended. */
type Outcome =
  | { readonly kind: "not_ready"; readonly error: Error }
  | { readonly kind: "exited"; readonly error: SidecarExited }
  | { readonly kind: "hung"; readonly error: Hung }
  | { readonly kind: "command"; readonly command: Command };

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs and supervises the sidecar. */
export class Supervisor {
  /** State changes, notifications, log lines. */
  readonly events = new Emitter<SupervisorEvents>();
  /** The log every process of this supervisor writes to (stderr and host messages). */
  readonly log: HostLog;
  readonly #options: SupervisorOptions;
  readonly #policy: RestartPolicy;
  readonly #budget: RestartBudget;
  readonly #mailbox = new Mailbox();
  readonly #started = performance.now();
  readonly #recent: string[] = [];
  #state: SidecarState;
  #current: SidecarProcess | null = null;
  #restarts = 0;
  #done = false;
  #stopping: Promise<StopReport | null> | null = null;

  private constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#policy = { ...DEFAULT_RESTART_POLICY, ...options.restart };
    this.#budget = new RestartBudget(this.#policy);
    this.log = new HostLog(options.sidecar.logFile ?? null);
    this.log.subscribe((line) => {
      this.#recent.push(`${line.source} ${line.line}`);
      if (this.#recent.length > 50) this.#recent.shift();
      this.events.emit("log", line);
    });
    this.#state = { state: "starting", attempt: 0, program: options.sidecar.command };
  }

  /** Start supervising: the first process starts in the background; returns at once. */
  static start(options: SupervisorOptions): Supervisor {
    const supervisor = new Supervisor(options);
    // On the next turn: listeners added right after start() see the first `starting` state too.
    setImmediate(() => void supervisor.#run());
    return supervisor;
  }

  /** The current state. */
  get state(): SidecarState {
    return this.#state;
  }

  /** The running process, while there is one. */
  get process(): SidecarProcess | null {
    return this.#current;
  }

  /** A snapshot for status displays. */
  status(): SidecarStatus {
    const current = this.#current;
    const beat = current?.lastHeartbeat ?? null;
    return {
      state: this.#state,
      pid: current?.pid ?? null,
      enginePid: current?.enginePid ?? null,
      restarts: this.#restarts,
      lastHeartbeatSeq: beat?.seq ?? null,
      lastHeartbeatMsAgo: beat?.agoMs ?? null,
      logFile: this.log.file,
      uptimeMs: Math.round(performance.now() - this.#started),
      recentLogs: [...this.#recent],
    };
  }

  /** Resolves once the state is `ready`; rejects with {@link NotRunning} on `failed`, `stopped` or the timeout. */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.#state.state === "ready") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new NotRunning(`${describeState(this.#state)} (not ready after ${timeoutMs} ms)`));
      }, timeoutMs);
      const off = this.events.on("state", (state) => {
        if (state.state === "ready") resolve();
        else if (state.state === "failed" || state.state === "stopped") reject(new NotRunning(describeState(state)));
        else return;
        clearTimeout(timer);
        off();
      });
    });
  }

  /** Call the current sidecar; fails at once with {@link NotRunning} unless the state is `ready`. */
  call<M extends string>(method: M, ...args: CallArgs<M>): Promise<ResultOf<M>> {
    return this.#ready().then((proc) => proc.call(method, ...args));
  }

  /** {@link SidecarProcess.callRaw} on the current sidecar. */
  callRaw(method: string, params?: unknown, options?: CallOptions): Promise<string> {
    return this.#ready().then((proc) => proc.callRaw(method, params, options));
  }

  /** A host-only call with the current process's host key ({@link SidecarProcess.callHost}). */
  callHost<M extends HostOnlyMethod>(method: M, params: HostParamsOf<M>, options?: CallOptions): Promise<ResultOf<M>> {
    return this.#ready().then((proc) => proc.callHost(method, params, options));
  }

  /**
   * `files.grant` on the current process. Grants end with the process (PROTOCOL.md 12):
   * after a restart, grant again (listen to the `ready` state).
   */
  grant(path: string, mode: "read" | "write" = "read"): Promise<GrantRecord> {
    return this.#ready().then((proc) => proc.grant(path, mode));
  }

  /** Listen to one notification of whichever process is current, typed; returns the unsubscribe function. */
  onNotification<N extends string>(method: N, listener: (params: NotificationParamsOf<N>) => void): () => void {
    return this.events.on("notification", (note) => {
      if (note.method === method) listener(note.params as NotificationParamsOf<N>);
    });
  }

  /**
   * Stop the current process gracefully and start a new one; resets the restart budget.
   * Resolves once the old process is gone; follow the state for the new one.
   */
  restart(): Promise<void> {
    if (this.#done) return Promise.reject(new NotRunning("stopped: the supervisor has been shut down"));
    return new Promise((resolve) => this.#mailbox.post({ kind: "restart", done: resolve }));
  }

  /** Stop for good: the stop ladder, then `stopped`. Resolves with how the process ended (null if none ran). */
  stop(reason = "stopped by the host"): Promise<StopReport | null> {
    if (this.#done) return this.#stopping ?? Promise.resolve(null);
    this.#stopping ??= new Promise((resolve) => this.#mailbox.post({ kind: "stop", reason, done: resolve }));
    return this.#stopping;
  }

  #ready(): Promise<SidecarProcess> {
    const current = this.#current;
    if (current === null || this.#state.state !== "ready") {
      return Promise.reject(new NotRunning(describeState(this.#state)));
    }
    return Promise.resolve(current);
  }

  #set(next: SidecarState): void {
    if (next.state !== this.#state.state) checkMove(this.#state.state, next.state);
    this.#state = next;
    this.log.host(this.#current?.pid ?? 0, `state ${describeState(next)}`);
    this.events.emit("state", next);
  }

  // ------------------------------------------------------------------ the loop

  async #run(): Promise<void> {
    let attempt: number | null = 0;
    while (attempt !== null) {
      const program = this.#options.sidecar.command;
      if (attempt > 0 || this.#state.state !== "starting") this.#set({ state: "starting", attempt, program });
      else this.events.emit("state", this.#state); // the first state, for listeners added right after start()
      const ended = await this.#runOnce();
      // A requested restart starts again at once; anything else is a failure: back off, or give up.
      attempt = ended === "restarted" ? 0 : ended === "stopped" ? null : await this.#afterFailure(ended);
    }
  }

  /** Start one process and run it until it ends: how it ended, or the failure to act on. */
  async #runOnce(): Promise<"restarted" | "stopped" | Error> {
    let proc: SidecarProcess;
    try {
      proc = await SidecarProcess.spawn(this.#options.sidecar, this.log);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
    this.#current = proc;
    proc.onAnyNotification((note) => this.events.emit("notification", note));
    const outcome = await this.#runProcess(proc);
    if (outcome.kind === "command") {
      const { command } = outcome;
      if (command.kind === "stop") {
        await this.#stopAndQuit(proc, command);
        return "stopped";
      }
      this.#set({ state: "restarting", attempt: 0, reason: "restart requested", delayMs: 0 });
      await proc.stop();
      this.#current = null;
      this.#budget.reset();
      command.done();
      return "restarted";
    }
    if (outcome.kind === "hung") {
      this.log.host(proc.pid, outcome.error.message);
      const report = await proc.terminate();
      this.log.host(proc.pid, `hung sidecar ended by ${report.step}`);
    }
    this.#current = null;
    return outcome.error;
  }

  /** Wait for READY (unless a command comes first), then watch the ready process. */
  async #runProcess(proc: SidecarProcess): Promise<Outcome> {
    const first = await Promise.race([
      proc.ready().then(
        () => null,
        (error: unknown) => ({ kind: "not_ready", error: error instanceof Error ? error : new Error(String(error)) }) as const,
      ),
      this.#mailbox.wait().then(() => "command" as const),
    ]);
    if (first === "command") return this.#command();
    if (first !== null) return first;
    this.#set({
      state: "ready",
      pid: proc.pid,
      enginePid: proc.enginePid,
      version: proc.version,
      startupMs: proc.startupMs ?? 0,
    });
    return this.#supervise(proc);
  }

  #command(): Outcome {
    const command = this.#mailbox.take();
    if (command === undefined) throw new Error("BUG: woken without a command");
    return { kind: "command", command };
  }

  /** Watch a ready process until it exits, hangs, or a command arrives. */
  async #supervise(proc: SidecarProcess): Promise<Outcome> {
    const heartbeat = this.#options.heartbeat ?? null;
    let ticker: NodeJS.Timeout | undefined;
    const hung = new Promise<Outcome>((resolve) => {
      if (heartbeat === null) return;
      const limit = hangLimitMs(heartbeat);
      const every = Math.max(heartbeat.intervalMs / HEARTBEAT_CHECKS_PER_INTERVAL, MIN_HEARTBEAT_CHECK_MS);
      ticker = setInterval(() => {
        const silent = proc.silentForMs();
        if (silent > limit) resolve({ kind: "hung", error: new Hung(Math.round(silent), limit) });
      }, every);
    });
    const exited = proc.exited().then((status): Outcome => {
      const how = `pid ${proc.pid} exited with ${describeStatus(status)}`;
      return { kind: "exited", error: new SidecarExited(how, status, proc.stderrTail(20)) };
    });
    // Take a command only once this race is won: a lost race's wait() resolves later too.
    const outcome = await Promise.race([exited, hung, this.#mailbox.wait().then(() => "command" as const)]);
    clearInterval(ticker);
    return outcome === "command" ? this.#command() : outcome;
  }

  /** Decide and wait after a failure: the next attempt number, or null when the loop is done. */
  async #afterFailure(failure: Error): Promise<number | null> {
    const reason =
      failure instanceof SidecarExited
        ? `the sidecar exited unexpectedly (${describeStatus(failure.status)}); last stderr line: ` +
          JSON.stringify(failure.stderrTail.slice(-REASON_STDERR_LINES)[0] ?? "(none)")
        : failure.message;
    const retryable = !(failure instanceof SidecarError) || failure.retryable;
    const next = retryable ? this.#budget.next(performance.now()) : null;
    if (next !== null) {
      this.#restarts += 1;
      this.#set({ state: "restarting", attempt: next.attempt, reason, delayMs: next.delayMs });
      const woken = await Promise.race([delay(next.delayMs).then(() => false), this.#mailbox.wait().then(() => true)]);
      return woken ? this.#onCommandWhileDown() : next.attempt;
    }
    let error: SidecarError | Error = failure;
    if (retryable && this.#policy.maxRestarts > 0) {
      error = new RestartLimit(this.#budget.spent(performance.now()), this.#policy.windowMs, reason);
    }
    const kind = error instanceof SidecarError ? error.kind : "error";
    this.#set({ state: "failed", kind, error: error.message });
    await this.#mailbox.wait(); // failed: wait for the host to ask for a restart or a stop
    return this.#onCommandWhileDown();
  }

  /** A command that came while no process runs. */
  async #onCommandWhileDown(): Promise<number | null> {
    const command = this.#mailbox.take();
    if (command === undefined) throw new Error("BUG: woken without a command");
    if (command.kind === "restart") {
      this.#budget.reset();
      command.done();
      return 0;
    }
    await this.#stopAndQuit(null, command);
    return null;
  }

  /** Stop for good: the stop ladder if a process runs, then `stopped`, then answer. */
  async #stopAndQuit(proc: SidecarProcess | null, command: Extract<Command, { kind: "stop" }>): Promise<void> {
    this.#set({ state: "stopping", reason: command.reason });
    const report = proc === null ? null : await proc.stop();
    this.#current = null;
    const how =
      report === null
        ? command.reason
        : `${command.reason}; ended by ${report.step} (${describeStatus(report.status)}) in ${report.elapsedMs} ms`;
    this.#done = true;
    this.#set({ state: "stopped", reason: how });
    this.log.close();
    // Commands that came while stopping: a restart finds nothing to restart, a second stop the same answer.
    for (let c = this.#mailbox.take(); c !== undefined; c = this.#mailbox.take()) {
      if (c.kind === "stop") c.done(report);
      else c.done();
    }
    command.done(report);
  }
}
