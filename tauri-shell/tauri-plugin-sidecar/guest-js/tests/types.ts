// Compile-time tests of the generated types (tsc --noEmit of tsconfig.json, in
// tauri-shell/scripts/check.sh). Each `@ts-expect-error` line must NOT compile: if the
// types stopped constraining it (everything `any`, a method gone), tsc fails on the
// unused directive. Nothing here runs.

import { call, onAnyNotification, onNotification } from "../index.js";

export async function samples(): Promise<void> {
  // Right: params and result typed from rpc.discover.
  const result = await call("db.query", { sql: "SELECT 42", allow_write: false });
  const rows: unknown[][] = result.rows;
  const count: number = result.row_count;
  const job = await call("jobs.submit", { type: "ingest", payload: { table: "t", source: "a.csv" } });
  const jobId: string = job.job_id;
  await call("system.ping"); // no required params: none needed
  await call("app.unknown", { anything: true }); // unknown to the types: unknown in and out
  // An app's own method (the wordfreq example, loaded when the types were generated).
  const counted = await call("wordfreq.count", { text: "a b a", top: 2 });
  const firstCount: number | undefined = counted.words[0]?.count;

  // @ts-expect-error: sql is a string
  await call("db.query", { sql: 42 });
  // @ts-expect-error: db.query needs its params
  await call("db.query");
  // @ts-expect-error: no such param
  await call("jobs.cancel", { job_id: "x", nope: 1 });
  // @ts-expect-error: the result has no such field
  void (await call("db.tables")).no_such_field;
  // @ts-expect-error: an app method's params are typed too: text is a string
  await call("wordfreq.count", { text: 3 });
  // @ts-expect-error: a privileged method does not compile through call
  await call("secrets.get", { name: "token" });
  // @ts-expect-error: nor does system.shutdown
  await call("system.shutdown", {});

  await onNotification("job.progress", (p) => {
    const progress: number = p.progress;
    // @ts-expect-error: job.progress has no status
    void p.status;
    void progress;
  });
  await onAnyNotification((n) => {
    if (n.method === "job.status") {
      const status: "canceled" | "failed" | "queued" | "running" | "succeeded" = n.params.status;
      void status;
    }
  });
  void rows;
  void count;
  void jobId;
  void firstCount;
}
