// Regenerates tauri-plugin-sidecar/guest-js/generated.ts, the guest client's types, from
// the engine's own schema: start a sidecar, ask it for `rpc.discover` (the OpenRPC document
// msgspec makes from the Structs that validate requests), turn it into TypeScript.
//
//   node scripts/gen-guest-types.mjs                    # from source (the repo's .venv), built-ins only
//   node scripts/gen-guest-types.mjs --app-module wordfreq=wordfreq_app:register \
//       --python-path ../examples/wordfreq-app/src      # from source with an app package loaded
//   node scripts/gen-guest-types.mjs --binary PATH      # from a built sidecar (its baked apps too)
//   node scripts/gen-guest-types.mjs --check [...]      # exit 1 if the committed file is stale
// `npm run gen-types` is the first form with the app this shell embeds (the wordfreq example;
// package.json has the arguments) and passes further arguments on (`-- --check`).
//
// The OpenRPC -> TypeScript step is the Node host's generator (hosts/node/src/codegen/
// openrpc-to-ts.ts), shared rather than duplicated: it is a pure module, so esbuild (already
// the frontend's bundler) compiles it on the fly; only the header comment differs.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const shell = path.resolve(here, "..");
const repo = path.resolve(shell, "..");
const target = path.join(shell, "tauri-plugin-sidecar", "guest-js", "generated.ts");
const codegen = path.join(repo, "hosts", "node", "src", "codegen", "openrpc-to-ts.ts");
/** How long a sidecar gets to answer rpc.discover (a cold onefile start takes seconds). */
const DISCOVER_TIMEOUT_MS = 60_000;

function usage(message) {
  process.stderr.write(
    `gen-guest-types: ${message}\nusage: gen-guest-types.mjs [--check] [--binary PATH | [--app-module NAME=MODULE:FUNC]... [--python-path DIR]...]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = { check: false, binary: null, appModules: [], pythonPath: [] };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--check") args.check = true;
    else if (argv[i] === "--binary") args.binary = argv[++i] ?? usage("--binary needs a path");
    else if (argv[i] === "--app-module") args.appModules.push(argv[++i] ?? usage("--app-module needs NAME=MODULE:FUNC"));
    else if (argv[i] === "--python-path") args.pythonPath.push(path.resolve(argv[++i] ?? usage("--python-path needs a dir")));
    else usage(`unknown argument ${argv[i]}`);
  }
  if (args.binary && (args.appModules.length || args.pythonPath.length)) usage("--binary has its apps baked in");
  return args;
}

/** The generator module, compiled from the Node host's TypeScript into a temp file and imported. */
async function loadGenerator(scratch) {
  const out = path.join(scratch, "openrpc-to-ts.mjs");
  await build({ entryPoints: [codegen], outfile: out, format: "esm", platform: "node", bundle: true, logLevel: "warning" });
  return import(pathToFileURL(out).href);
}

/** rpc.discover of one sidecar run: one request on stdin, the answer from stdout, then stdin closed. */
function discover(command, args, dataDir, pythonPath) {
  const env = { ...process.env, PYTHONPATH: [repo, ...pythonPath].join(path.delimiter) };
  // Only the arguments decide what the sidecar serves (no test methods, no apps from the environment).
  for (const name of ["SIDECAR_TEST_METHODS", "SIDECAR_APP_MODULES", "SIDECAR_DATA_DIR", "APP_DATA_DIR", "SIDECAR_HOST_KEY"]) {
    delete env[name];
  }
  const child = spawn(command, [...args, "--data-dir", dataDir, "--heartbeat-interval", "0"], {
    env,
    stdio: ["pipe", "pipe", "ignore"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no rpc.discover answer from ${command} within ${DISCOVER_TIMEOUT_MS} ms`));
    }, DISCOVER_TIMEOUT_MS);
    let buffered = "";
    let answer = null;
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === "READY") child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}\n');
        if (!line.startsWith("{")) continue; // BOOT, READY, SHUTDOWN
        const frame = JSON.parse(line);
        if (frame.id !== 1) continue;
        if (frame.error) reject(new Error(`rpc.discover failed: ${JSON.stringify(frame.error)}`));
        answer = frame.result;
        child.stdin.end(); // EOF: the sidecar shuts down normally
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (answer !== null) resolve(answer);
      else reject(new Error(`${command} exited (${code}) before answering rpc.discover`));
    });
  });
}

const args = parseArgs(process.argv.slice(2));
const scratch = mkdtempSync(path.join(os.tmpdir(), "sidecar-guest-types-"));
try {
  const { generateTypes } = await loadGenerator(scratch);
  const apps = args.appModules.flatMap((spec) => ["--app-module", spec]);
  const [command, commandArgs, source] = args.binary
    ? [path.resolve(args.binary), [], path.basename(args.binary)]
    : [
        path.join(repo, ".venv", "bin", "python"),
        ["-m", "sidecar", ...apps],
        apps.length ? `the sidecar from source with ${args.appModules.join(", ")}` : "the sidecar from source",
      ];
  const doc = await discover(command, commandArgs, path.join(scratch, "data"), args.pythonPath);
  const body = generateTypes(doc).replace(/^(\/\/[^\n]*\n)+\n/, ""); // the Node host's header
  const header =
    `// Generated by tauri-shell/scripts/gen-guest-types.mjs from rpc.discover of ${source}\n` +
    `// (protocol ${doc.info?.["x-protocol-version"] ?? "?"}; ${doc.methods.length} methods). Do not edit: run\n` +
    "// `npm run gen-types` in tauri-shell/ (scripts/check.sh fails while this file is stale).\n\n";
  const text = header + body;
  const relative = path.relative(process.cwd(), target);
  if (args.check) {
    const committed = readFileSync(target, "utf8");
    // The header names where the document came from; the types are what must match.
    const strip = (t) => t.replace(/^(\/\/[^\n]*\n)+\n/, "");
    if (strip(committed) !== strip(text)) {
      process.stderr.write(`gen-guest-types: ${relative} is stale: run \`npm run gen-types\` in tauri-shell/ and commit it\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`gen-guest-types: ${relative} is current (${source})\n`);
    }
  } else {
    writeFileSync(target, text);
    process.stderr.write(`gen-guest-types: wrote ${relative} (${doc.methods.length} methods, from ${source})\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
