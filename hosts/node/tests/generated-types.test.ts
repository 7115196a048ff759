/**
 * src/generated/methods.ts must be what the generator makes from the real sidecar's
 * rpc.discover right now: a method added or changed in the engine without regenerating
 * fails here, with the command that fixes it.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { GENERATED_FILE, currentTypes } from "../scripts/gen-types.js";

test("the committed types are current (else: npm run gen-types in hosts/node/)", async () => {
  const fresh = await currentTypes();
  const committed = readFileSync(GENERATED_FILE, "utf8");
  assert.ok(fresh.includes('"db.query": { params: DbQueryParams; result: QueryResult }'), "the generator lost db.query");
  assert.ok(fresh.includes('"job.progress": JobProgressNote;'), "the generator lost the notifications");
  assert.equal(committed, fresh, "src/generated/methods.ts is stale: run `npm run gen-types` in hosts/node/ and commit it");
});
