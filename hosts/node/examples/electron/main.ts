/**
 * An Electron main process that ships the sidecar (seed 003 section 4.1): finds the binary
 * (packaged: under process.resourcesPath; in development: the repo's source sidecar),
 * passes APP_DATA_DIR and LOG_DIR under userData, supervises it (READY, heartbeat watch,
 * restarts), answers the page's narrow IPC (bridge.ts), grants files the user picks in a
 * native dialog, and stops the sidecar gracefully before the app quits.
 *
 * Type-checked by scripts/check.sh (tsconfig.json beside it); tests/electron-example.test.ts
 * drives bridge.ts the same way from a plain Node script.
 */

import path from "node:path";
import { fileURLToPath } from "node:url";

import { BrowserWindow, app, dialog, ipcMain } from "electron";
import { sidecarPathInResources, stopOnSignals } from "sidecar-host";

import { startSidecarBridge, stopBeforeQuit } from "./bridge.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The sidecar: beside app.asar when packaged (electron-builder extraResources), else from source. */
function sidecarCommand(): { command: string; args: string[] } {
  if (app.isPackaged) {
    return { command: sidecarPathInResources(process.resourcesPath), args: [] };
  }
  const repo = path.resolve(here, "..", "..", "..", "..", "..");
  return { command: path.join(repo, ".venv", "bin", "python"), args: ["-m", "sidecar"] };
}

await app.whenReady();
const win = new BrowserWindow({
  width: 1100,
  height: 760,
  title: "Sidecar",
  webPreferences: { preload: path.join(here, "preload.cjs"), contextIsolation: true, nodeIntegration: false, sandbox: true },
});

const userData = app.getPath("userData");
const { command, args } = sidecarCommand();
const bridge = startSidecarBridge({
  supervisor: {
    sidecar: {
      command,
      args: [...args, "--heartbeat-interval", "2"],
      appDataDir: path.join(userData, "sidecar"),
      logDir: path.join(userData, "logs"),
      logFile: path.join(userData, "logs", "sidecar-host.log"),
      readyTimeoutMs: 20_000,
    },
    heartbeat: { intervalMs: 2_000, missed: 3 },
  },
  ipc: ipcMain,
  send: (channel, payload) => {
    if (!win.isDestroyed()) win.webContents.send(channel, payload);
  },
  pickFile: async () => {
    const chosen = await dialog.showOpenDialog(win, { title: "Choose a file to import", properties: ["openFile"] });
    return chosen.canceled ? null : (chosen.filePaths[0] ?? null);
  },
});

stopBeforeQuit(app, bridge); // Cmd-Q, the last window closed, app.quit()
stopOnSignals(bridge.supervisor, { then: () => app.exit(0) }); // SIGTERM/SIGINT from a session manager or a terminal
app.on("window-all-closed", () => app.quit());
await win.loadFile(path.join(here, "index.html"));
