/** Where the tests find the repository's shared files (the vectors, the fixtures, the sidecar's sources). */

import path from "node:path";
import { fileURLToPath } from "node:url";

/** hosts/node/ (the compiled tests live in hosts/node/dist/tests/). */
export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The repository root. */
export const REPO = path.resolve(PACKAGE_DIR, "..", "..");
export const VECTORS_DIR = path.join(REPO, "tests", "vectors");
export const BAD_SIDECARS_DIR = path.join(REPO, "tests", "fixtures", "bad_sidecars");
