/**
 * The README's "Use it from Electron or Node" snippet is examples/quickstart.ts, byte for
 * byte (the README marks the block with `<!-- snippet: hosts/node/examples/quickstart.ts -->`),
 * and that program runs against the sidecar under test and prints what its comments say.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, test } from "node:test";

import { PACKAGE_DIR, REPO } from "./paths.js";
import { cleanUp, sidecarCommand, sidecarEnv, tempDir } from "./support.js";

afterEach(cleanUp); // a failed assertion must not leave processes (or keep this file from ending)

const SNIPPET = "hosts/node/examples/quickstart.ts";

/** The fenced block right after the README's marker for `file`. */
export function readmeSnippet(readme: string, file: string): string {
  const marker = `<!-- snippet: ${file} -->`;
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README.md has no ${marker}`);
  const block = /^```ts\n([\s\S]*?)^```$/m.exec(readme.slice(at + marker.length));
  assert.ok(block !== null && block.index < 5, `no \`\`\`ts block right after ${marker}`);
  return block[1] ?? "";
}

test("the README's Node snippet is examples/quickstart.ts", () => {
  const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
  assert.equal(readmeSnippet(readme, SNIPPET), readFileSync(path.join(REPO, SNIPPET), "utf8"));
});

test("the snippet runs: a query, an error's code and kind, a graceful stop", async () => {
  const scratch = tempDir();
  const env: NodeJS.ProcessEnv = { ...process.env, APP_DATA_DIR: scratch.dir };
  for (const [key, value] of Object.entries(sidecarEnv())) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  env["APP_DATA_DIR"] = scratch.dir;
  const script = path.join(PACKAGE_DIR, "dist", "examples", "quickstart.js");
  const { stdout } = await promisify(execFile)(process.execPath, [script, ...sidecarCommand()], { env, timeout: 60_000 });
  assert.deepEqual(stdout.trim().split("\n"), ["[[42]]", "-32000 sql_syntax", "shutdown_request normal"]);
  scratch.remove();
});
