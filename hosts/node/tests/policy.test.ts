/** The page policy (src/policy.ts) with plain values: the Rust crate's policy.rs cases, ported. */

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { InvalidRule, MAX_METHOD_NAME_LENGTH, MethodPolicy, UnpinnableParams, applyPins, explainRefusal, privilegedInDiscovery } from "../src/policy.js";

function refusal(policy: MethodPolicy, method: string): string | null {
  const decision = policy.decide(method);
  return decision.ok ? null : decision.refusal;
}

describe("the page policy", () => {
  test("deny by default", () => {
    for (const method of ["system.ping", "db.query", "jobs.list", "rpc.discover"]) assert.equal(refusal(new MethodPolicy([]), method), "not_granted");
  });

  test("exact names match only themselves; a namespace its methods and nothing beside", () => {
    const exact = new MethodPolicy(["db.query"]);
    assert.equal(refusal(exact, "db.query"), null);
    for (const other of ["db.query2", "db.quer", "db", "db.query.x", "xdb.query", "DB.QUERY", "db.export"]) assert.notEqual(refusal(exact, other), null, other);
    const jobs = new MethodPolicy(["jobs.*"]);
    for (const method of ["jobs.list", "jobs.get", "jobs.submit", "jobs.a.b"]) assert.equal(refusal(jobs, method), null, method);
    for (const other of ["jobs", "jobsx.list", "job.list", "db.query"]) assert.equal(refusal(jobs, other), "not_granted", other);
    assert.equal(refusal(jobs, "jobs."), "malformed");
  });

  test("privileged methods are never matched: not by a wildcard, not by *, not by name", () => {
    const everyWay = new MethodPolicy(["*", "system.*", "secrets.*", "files.*", "rpc.*", "test.*", "testing.*", "system.shutdown", "secrets.get", "files.grant", "files.revoke", "rpc.cancel", "test.echo"]);
    for (const method of ["system.shutdown", "secrets.get", "files.grant", "files.revoke", "rpc.cancel", "test.echo", "test.notify", "testing.anything"]) {
      assert.equal(refusal(everyWay, method), "privileged", method);
    }
    for (const method of ["system.ping", "system.status", "secrets.list", "secrets.set", "files.grants", "rpc.discover"]) assert.equal(refusal(everyWay, method), null, method);
  });

  test("discovery adds privileged methods", () => {
    const doc = { methods: [{ name: "system.ping" }, { name: "engine.reset", "x-host-only": true }, { name: "files.forget", "x-privileged": true }, { name: "db.query", "x-host-only": false }] };
    const found = privilegedInDiscovery(doc);
    assert.deepEqual(found, ["engine.reset", "files.forget"]);
    const policy = new MethodPolicy(["*"], [], found);
    assert.equal(refusal(policy, "engine.reset"), "privileged");
    assert.equal(refusal(policy, "db.query"), null);
    assert.deepEqual(privilegedInDiscovery({ no: "methods" }), []);
  });

  test("deny rules beat allow rules", () => {
    assert.equal(refusal(new MethodPolicy(["db.*"], ["db.export"]), "db.export"), "denied");
    assert.equal(refusal(new MethodPolicy(["db.*"], ["db.export"]), "db.query"), null);
    assert.equal(refusal(new MethodPolicy(["db.query"], ["db.*"]), "db.query"), "denied");
  });

  test("malformed names are refused before anything else", () => {
    const any = new MethodPolicy(["*"]);
    for (const method of ["", " ", "db.query ", " db.query", "db..query", ".db", "db.", "db/query", "db.qu\0ery", "dé.query", "a." + "b".repeat(MAX_METHOD_NAME_LENGTH)]) {
      assert.equal(refusal(any, method), "malformed", JSON.stringify(method));
    }
  });

  test("odd patterns are refused when the policy is made", () => {
    for (const bad of ["jobs*", "*.list", "db.*.x", "db", "", ".*", "db.q*"]) assert.throws(() => new MethodPolicy([bad]), InvalidRule, bad);
  });

  test("pinned params are forced on the call; positional params cannot carry a pin; a wider grant lifts it", () => {
    const readOnly = { method: "db.query", params: { allow_write: false } };
    const decision = new MethodPolicy([readOnly]).decide("db.query");
    assert.ok(decision.ok);
    assert.deepEqual(applyPins(decision.permit, { sql: "CREATE TABLE t(x INT)", allow_write: true }), { sql: "CREATE TABLE t(x INT)", allow_write: false });
    assert.deepEqual(applyPins(decision.permit, undefined), { allow_write: false });
    assert.throws(() => applyPins(decision.permit, ["CREATE TABLE t(x INT)", null, null, null, true]), UnpinnableParams);
    const wide = new MethodPolicy([readOnly, "db.*"]).decide("db.query");
    assert.ok(wide.ok);
    assert.equal(wide.permit.pinned, null);
    assert.deepEqual(applyPins(wide.permit, [1]), [1]);
  });

  test("refusals say what to do", () => {
    assert.match(explainRefusal("not_granted", "db.export"), /allow-list/);
    assert.match(explainRefusal("privileged", "secrets.get"), /host/);
  });
});
