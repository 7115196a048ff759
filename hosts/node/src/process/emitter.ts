/**
 * A small typed event emitter: `on(name, listener)` returns the unsubscribe function,
 * and the listener's arguments are checked against the event map. Listeners run
 * synchronously, in the order they were added; one that throws does not stop the
 * others or the reader that emitted (the error is reported through `onListenerError`).
 */

/** Event name -> the listener's argument tuple. */
export type EventMap = Record<string, readonly unknown[]>;

export class Emitter<Events extends EventMap> {
  private readonly listeners: { [K in keyof Events]?: Set<(...args: Events[K]) => void> } = {};

  /** Called when a listener throws (default: rethrown on the next tick, as Node does for an unhandled error). */
  onListenerError: (err: unknown) => void = (err) => {
    queueMicrotask(() => {
      throw err;
    });
  };

  /** Listen to `event`; returns the function that stops listening. */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    const set = this.listeners[event] ?? new Set();
    this.listeners[event] = set;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Listen to the next `event` only. */
  once<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  /** Call every listener of `event` with `args`. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners[event];
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof Events): number {
    return this.listeners[event]?.size ?? 0;
  }
}
