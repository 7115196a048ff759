/**
 * Regenerate src/generated/methods.ts from the engine's own schema: start the sidecar
 * from source (the repo's .venv, no test methods), ask it for `rpc.discover`, turn the
 * OpenRPC document into TypeScript (src/codegen/openrpc-to-ts.ts), write the file.
 *
 *   npm run gen-types                        # write it
 *   node dist/scripts/gen-types.js --check   # exit 1 if the committed file is stale
 *
 * tests/generated-types.test.ts runs the same function and fails while the file is stale.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { generateTypes, type OpenRpcDocument } from "../src/codegen/openrpc-to-ts.js";
import { SidecarProcess } from "../src/index.js";

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const REPO = path.resolve(PACKAGE_DIR, "..", "..");
/** The committed file. */
export const GENERATED_FILE = path.join(PACKAGE_DIR, "src", "generated", "methods.ts");

/** The OpenRPC document of the sidecar from source (only the methods a shipped binary has). */
export async function discoverFromSource(): Promise<OpenRpcDocument> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "sidecar-gen-types-"));
  try {
    const sidecar = await SidecarProcess.start({
      command: path.join(REPO, ".venv", "bin", "python"),
      args: ["-m", "sidecar", "--data-dir", dataDir, "--heartbeat-interval", "0"],
      env: { PYTHONPATH: REPO, SIDECAR_TEST_METHODS: undefined, SIDECAR_DATA_DIR: undefined, APP_DATA_DIR: undefined },
      launchLock: false,
    });
    try {
      return (await sidecar.call("rpc.discover")) as unknown as OpenRpcDocument;
    } finally {
      await sidecar.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The text src/generated/methods.ts should have now. */
export async function currentTypes(): Promise<string> {
  return generateTypes(await discoverFromSource());
}

async function main(argv: readonly string[]): Promise<number> {
  const text = await currentTypes();
  const relative = path.relative(process.cwd(), GENERATED_FILE);
  if (argv.includes("--check")) {
    const committed = readFileSync(GENERATED_FILE, "utf8");
    if (committed !== text) {
      process.stderr.write(`gen-types: ${relative} is stale: run \`npm run gen-types\` in hosts/node/ and commit it\n`);
      return 1;
    }
    process.stderr.write(`gen-types: ${relative} is current\n`);
    return 0;
  }
  writeFileSync(GENERATED_FILE, text);
  process.stderr.write(`gen-types: wrote ${relative}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
