/**
 * A plain Node program that plays an app's main process for tests/host-exit.test.ts:
 * it starts the sidecar under test, prints `{"pid":..,"enginePid":..}` on one line, then
 *
 *   wait     waits for ever (the test SIGKILLs this process);
 *   exit     calls process.exit(0) at once (the sidecar's exit hook must stop it);
 *   signals  installs stopOnSignals and waits (the test sends SIGTERM), printing the stop report.
 *
 * usage: node dist/tests/host-script.js <mode> <data dir>
 */

import { SidecarProcess, stopOnSignals } from "../src/index.js";
import { sidecarOptions } from "./support.js";

const [mode, dataDir] = process.argv.slice(2);
if (dataDir === undefined || !["wait", "exit", "signals"].includes(mode ?? "")) {
  process.stderr.write("usage: host-script.js wait|exit|signals DATA_DIR\n");
  process.exit(2);
}
const sidecar = await SidecarProcess.start(sidecarOptions(dataDir));
if (mode === "signals") {
  // Before the pids line: the test sends SIGTERM as soon as it has read it.
  stopOnSignals({
    stop: async () => {
      const report = await sidecar.stop();
      process.stdout.write(JSON.stringify(report) + "\n");
    },
  });
}
process.stdout.write(JSON.stringify({ pid: sidecar.pid, enginePid: sidecar.enginePid }) + "\n");
if (mode === "exit") {
  process.exit(0);
}
setInterval(() => {}, 1 << 30); // keep the event loop alive until told otherwise
