/**
 * Finding the sidecar executable: checking a path before spawning it (so a wrong path
 * fails naming the path tried), and where a packaged Electron app keeps it.
 *
 * The binary is built as `sidecar-<target triple>` (`.exe` on Windows), the name
 * Tauri's externalBin rule uses, so `dist/nuitka/` and `tauri-shell/src-tauri/binaries/`
 * can be shipped as they are. electron-builder's `extraResources` copies it beside the
 * app's `app.asar`, into `process.resourcesPath` (docs/NODE.md, "Packaging with
 * electron-builder"), where it can be executed: nothing inside `app.asar` can be.
 */

import { accessSync, constants as fsConstants, statSync } from "node:fs";
import path from "node:path";

import { BinaryNotFound } from "./errors.js";

/** The Rust target triple of the running platform, as the build names the binary; null when unknown. */
export function targetTriple(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | null {
  const cpu = arch === "x64" ? "x86_64" : arch === "arm64" ? "aarch64" : null;
  if (cpu === null) return null;
  switch (platform) {
    case "linux":
      return `${cpu}-unknown-linux-gnu`;
    case "darwin":
      return `${cpu}-apple-darwin`;
    case "win32":
      return `${cpu}-pc-windows-msvc`;
    default:
      return null;
  }
}

/** The built file's name for a target triple: `<name>-<triple>[.exe]`. */
export function externalBinFileName(name: string, triple: string): string {
  return `${name}-${triple}${triple.includes("windows") ? ".exe" : ""}`;
}

/**
 * Where a packaged Electron app finds the sidecar: `<resourcesPath>/<folder>/<name>-<triple>[.exe]`,
 * with electron-builder's `extraResources: [{ from: "<dir with the binary>", to: "sidecar", filter: ["sidecar-*"] }]`.
 * Pass Electron's `process.resourcesPath`.
 */
export function sidecarPathInResources(
  resourcesPath: string,
  options: { readonly name?: string; readonly folder?: string; readonly triple?: string } = {},
): string {
  const triple = options.triple ?? targetTriple();
  if (triple === null) {
    throw new BinaryNotFound(resourcesPath, `no sidecar build for ${process.platform}/${process.arch}`);
  }
  return path.join(resourcesPath, options.folder ?? "sidecar", externalBinFileName(options.name ?? "sidecar", triple));
}

/**
 * Fail early, naming the path, when `program` cannot be run; returns the path to spawn.
 * A program with a path separator must exist, be a file and be executable; a bare name
 * must be found on `PATH` (of `env`, default this process's).
 */
export function checkExecutable(program: string, cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  if (program.includes("/") || (process.platform === "win32" && program.includes("\\"))) {
    const absolute = path.resolve(cwd, program);
    let isFile: boolean;
    try {
      isFile = statSync(absolute).isFile();
    } catch {
      throw new BinaryNotFound(absolute, "no such file");
    }
    if (!isFile) throw new BinaryNotFound(absolute, "not a file");
    if (process.platform !== "win32") {
      try {
        accessSync(absolute, fsConstants.X_OK);
      } catch {
        throw new BinaryNotFound(absolute, "not executable");
      }
    }
    return absolute;
  }
  const suffixes = process.platform === "win32" ? ["", ".exe", ".cmd", ".bat"] : [""];
  for (const dir of (env["PATH"] ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    for (const suffix of suffixes) {
      const candidate = path.join(dir, program + suffix);
      try {
        if (statSync(candidate).isFile()) {
          if (process.platform !== "win32") accessSync(candidate, fsConstants.X_OK);
          return candidate;
        }
      } catch {
        // not here, or not executable: keep looking
      }
    }
  }
  throw new BinaryNotFound(program, "not found on PATH");
}
