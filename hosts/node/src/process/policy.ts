/**
 * When the supervisor restarts a sidecar and when it declares one hung: the restart
 * budget (exponential backoff within a sliding window) and the heartbeat watch. Pure:
 * the clock is passed in, so the tests check the rules without waiting.
 */

/** Automatic restarts allowed within {@link RESTART_WINDOW_MS}. */
export const MAX_RESTARTS = 5;
/** The sliding window restarts are counted in. */
export const RESTART_WINDOW_MS = 60_000;
/** The delay before the first restart; doubled for each further one in the window. */
export const INITIAL_BACKOFF_MS = 250;
/** The longest delay. */
export const MAX_BACKOFF_MS = 8_000;
/** Doublings at most (2^20 times any sensible initial backoff is past any sensible cap). */
const MAX_BACKOFF_DOUBLINGS = 20;

/** When an unexpected exit (or a hang) leads to a new start. */
export interface RestartPolicy {
  /** At most this many automatic restarts within `windowMs`; then the supervisor gives up (0: never restart). */
  readonly maxRestarts: number;
  readonly windowMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  maxRestarts: MAX_RESTARTS,
  windowMs: RESTART_WINDOW_MS,
  initialBackoffMs: INITIAL_BACKOFF_MS,
  maxBackoffMs: MAX_BACKOFF_MS,
};

/** The delay before restart number `n` (0-based) within the window. */
export function backoffMs(policy: RestartPolicy, n: number): number {
  const factor = 2 ** Math.min(Math.max(0, n), MAX_BACKOFF_DOUBLINGS);
  return Math.min(policy.initialBackoffMs * factor, policy.maxBackoffMs);
}

/** The restarts spent in the sliding window. */
export class RestartBudget {
  private readonly times: number[] = [];

  constructor(readonly policy: RestartPolicy) {}

  /** Restarts counted in the window right now. */
  spent(now: number): number {
    this.forget(now);
    return this.times.length;
  }

  /** Spend one restart: its number (1-based) and delay, or null when the budget is spent. */
  next(now: number): { readonly attempt: number; readonly delayMs: number } | null {
    this.forget(now);
    if (this.times.length >= this.policy.maxRestarts) return null;
    const n = this.times.length;
    this.times.push(now);
    return { attempt: n + 1, delayMs: backoffMs(this.policy, n) };
  }

  /** Forget every restart (the host asked for one: a fresh start). */
  reset(): void {
    this.times.length = 0;
  }

  private forget(now: number): void {
    while (this.times.length > 0 && now - (this.times[0] ?? now) > this.policy.windowMs) this.times.shift();
  }
}

/**
 * Watching HEARTBEAT lines: `missed` intervals without one means hung. Start the sidecar
 * with `--heartbeat-interval` equal to `intervalMs / 1000`.
 */
export interface HeartbeatPolicy {
  readonly intervalMs: number;
  readonly missed: number;
}

/** The silence after which the sidecar is declared hung. */
export function hangLimitMs(policy: HeartbeatPolicy): number {
  return policy.intervalMs * Math.max(1, policy.missed);
}
