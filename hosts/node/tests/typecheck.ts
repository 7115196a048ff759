/**
 * Compile-time checks of the generated types: every `@ts-expect-error` line below must
 * fail to type-check (tsc reports an unused one as an error), so the types really
 * constrain calls. Compiled with the rest of the package; never run (no `.test.` in its name).
 */

import type { SidecarProcess, Supervisor } from "../src/index.js";

export async function typedCalls(sidecar: SidecarProcess, supervisor: Supervisor): Promise<void> {
  const rows = await sidecar.call("db.query", { sql: "SELECT 1", limit: 5 });
  const count: number = rows.row_count; // the result is typed
  void count;
  await sidecar.call("system.ping"); // no params needed
  await sidecar.call("jobs.list"); // all params optional
  await sidecar.call("app.custom", { anything: true }); // a method the types do not know: unknown in, unknown out
  const grant = await sidecar.grant("/home/me/sales.csv");
  const id: string = grant.grant_id;
  void id;
  await sidecar.callHost("secrets.get", { name: "api_token" }); // the host key is added, never passed

  // @ts-expect-error sql must be a string
  await sidecar.call("db.query", { sql: 1 });
  // @ts-expect-error sql is required
  await sidecar.call("db.query", {});
  // @ts-expect-error db.query has no such param
  await sidecar.call("db.query", { sql: "SELECT 1", sqll: "typo" });
  // @ts-expect-error db.query needs params
  await sidecar.call("db.query");
  // @ts-expect-error system.ping takes no params
  await sidecar.call("system.ping", { x: 1 });
  // @ts-expect-error host-only methods go through callHost, which adds the key
  await sidecar.call("files.grant", { path: "/x", mode: "read", host_key: "guess" });
  // @ts-expect-error mode is "read" or "write"
  await sidecar.grant("/x", "execute");
  // @ts-expect-error a non-host-only method through callHost
  await sidecar.callHost("db.query", { sql: "SELECT 1" });
  // @ts-expect-error the result's fields are typed
  const wrong: string = (await supervisor.call("system.status")).pid;
  void wrong;

  sidecar.onNotification("job.progress", (params) => {
    const progress: number = params.progress;
    void progress;
    // @ts-expect-error job.progress has no such field
    void params.percent;
  });
}
