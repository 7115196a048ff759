// Builds the frontend into dist-web/ (tauri.conf.json's frontendDist):
//   dist-web/main.js     src/main.ts and what it imports, @tauri-apps/api included, as one ES module
//   dist-web/index.html, dist-web/styles.css   copied as they are
// Type checking is tsc's job (`npm run typecheck`, scripts/check.sh); this only bundles.
//
// Why a bundler, and why esbuild: the app runs with withGlobalTauri: false, so the page
// imports invoke/listen from the npm package @tauri-apps/api, and a webview cannot resolve
// a bare specifier such as "@tauri-apps/api/core" by itself. An import map would do it,
// but an import map is an inline script, which the CSP (script-src 'self') refuses; copying
// the package's ESM files and rewriting the specifiers by hand would be a bundler of our own.
// esbuild is one pinned devDependency (a single prebuilt binary per platform, all of them in
// package-lock.json), maintained, fast (well under a second here) and needs no config file;
// tsc alone cannot rewrite import specifiers.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist-web");

rmSync(out, { recursive: true, force: true }); // no stale module from an older layout
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, "src", "main.ts")],
  outfile: join(out, "main.js"),
  bundle: true,
  format: "esm",
  target: "es2021",
  platform: "browser",
  legalComments: "eof", // @tauri-apps/api's licence notices stay in the bundle
  logLevel: "warning",
});
for (const file of ["index.html", "styles.css"]) copyFileSync(join(root, "src", file), join(out, file));
