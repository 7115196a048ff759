/**
 * The calls waiting for an answer: the sans-IO {@link CallTable} (ids, matching) plus, per
 * call, its promise and its timer. A call that times out is finished here (a later answer
 * is unmatched) and reported through `onTimeout`, which sends `rpc.cancel`.
 */

import type { ErrorReply, Response } from "../protocol/jsonrpc.js";
import { CallTable } from "../protocol/session.js";
import { CallTimeout, RpcCallError } from "./errors.js";

interface Pending {
  readonly method: string;
  readonly resolve: (raw: string) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class PendingCalls {
  private readonly table = new CallTable();
  private readonly pending = new Map<number, Pending>();

  /** The id the next call will use. */
  get nextId(): number {
    return this.table.nextId;
  }

  /**
   * A new call: its id, the frame to write, and the promise of its raw result (rejected with
   * {@link RpcCallError}, or {@link CallTimeout} after `timeoutMs`, when `onTimeout(id)` runs).
   * Throws (TypeError) for params that are not JSON, before taking an id.
   */
  start(method: string, params: unknown, timeoutMs: number, onTimeout: (id: number) => void): { id: number; frame: string; answer: Promise<string> } {
    const { id, frame } = this.table.start(method, params);
    const answer = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.take(id);
        reject(new CallTimeout(method, timeoutMs));
        onTimeout(id);
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
    });
    return { id, frame, answer };
  }

  /** Settle the call `message` answers; false when it answers none (unknown, or given up on). */
  answer(message: Response | ErrorReply): boolean {
    const id = this.table.match(message);
    const pending = id === null ? undefined : this.take(id);
    if (pending === undefined) return false;
    if (message.type === "response") pending.resolve(message.result);
    else pending.reject(new RpcCallError(pending.method, message.error));
    return true;
  }

  /** Fail one call (its frame could not be written). */
  fail(id: number, error: (method: string) => Error): void {
    const pending = this.take(id);
    pending?.reject(error(pending.method));
  }

  /** Fail every call still waiting (the process is gone). */
  failAll(error: (method: string) => Error): void {
    for (const id of [...this.pending.keys()]) this.fail(id, error);
  }

  private take(id: number): Pending | undefined {
    this.table.finish(id);
    const pending = this.pending.get(id);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
    }
    return pending;
  }
}
