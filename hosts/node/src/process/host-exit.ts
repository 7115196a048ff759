/**
 * Stopping the sidecar when the host itself is asked to stop.
 *
 * Node runs `process.on("exit")` hooks on a normal exit (every SidecarProcess has one:
 * it closes the sidecar's stdin and sends SIGTERM, so the sidecar shuts down on its own),
 * but a SIGTERM, SIGINT or SIGHUP that the program does not handle ends Node at once,
 * without any hook. {@link stopOnSignals} handles them: run the graceful stop, then exit
 * with the conventional status (128 + the signal number). A second signal while stopping
 * is not caught again, so it ends the host at once, as a user pressing Ctrl-C twice expects.
 * If the host is killed outright (SIGKILL), nothing runs in it: the sidecar notices by
 * itself (stdin EOF, and its parent watch: docs/PROTOCOL.md section 6).
 */

import { constants } from "node:os";

/** Something with a graceful stop: a {@link SidecarProcess} or a {@link Supervisor}. */
export interface Stoppable {
  stop(): Promise<unknown>;
}

/** The signals a desktop or terminal session sends to ask a program to stop. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = process.platform === "win32" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * On any of `signals`, stop `target` gracefully, then exit with 128 + the signal number
 * (or call `then` instead of exiting, e.g. Electron's `app.exit()`). Returns the function
 * that removes the handlers.
 */
export function stopOnSignals(
  target: Stoppable,
  options: { readonly signals?: readonly NodeJS.Signals[]; readonly then?: (signal: NodeJS.Signals) => void } = {},
): () => void {
  const signals = options.signals ?? STOP_SIGNALS;
  const uninstall = (): void => {
    for (const sig of signals) process.removeListener(sig, handler);
  };
  const handler = (sig: NodeJS.Signals): void => {
    uninstall(); // a second signal takes Node's default action: the host ends at once
    const done = (): void => {
      if (options.then !== undefined) options.then(sig);
      else process.exit(128 + (constants.signals[sig] ?? 0));
    };
    target.stop().then(done, done);
  };
  for (const sig of signals) process.on(sig, handler);
  return uninstall;
}
