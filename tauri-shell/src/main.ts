// The shell's UI: sidecar state, live logs, a query console, the job list, schedules.
// It reaches Rust only through ./sidecar-client.js.

import { initSchedules, loadSchedules, onScheduleNotification, setReady } from "./schedules-panel.js";
import * as sidecar from "./sidecar-client.js";
import { initWordfreq, setWordfreqAvailable } from "./wordfreq-panel.js";
import type { AnyNotification, CommandError, Grant, JobRecord, LogLine, QueryResult, SidecarState } from "./sidecar-client.js";

const MAX_LOG_LINES = 500;
const QUERY_ROW_LIMIT = 1000;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el;
}

function text(el: HTMLElement, value: string): void {
  el.textContent = value;
}

let available = new Set<string>();

// ------------------------------------------------------------------ state

function describe(state: SidecarState): string {
  switch (state.state) {
    case "starting":
      return state.attempt > 0 ? `starting (attempt ${state.attempt}): ${state.program}` : `starting ${state.program}`;
    case "ready":
      return `ready: pid ${state.pid}, engine pid ${state.engine_pid ?? "?"}, version ${state.version ?? "?"}, READY after ${state.startup_ms} ms`;
    case "restarting":
      return `restarting (restart ${state.attempt}) in ${state.delay_ms} ms: ${state.reason}`;
    case "stopping":
      return `stopping: ${state.reason}`;
    case "stopped":
      return `stopped: ${state.reason}`;
    case "failed":
      return `failed (${state.kind}): ${state.error}`;
  }
}

function showState(state: SidecarState): void {
  const badge = $("state");
  badge.dataset.state = state.state;
  text(badge, state.state);
  text($("state-detail"), describe(state));
  const problem = $("problem");
  if (state.state === "failed" || state.state === "restarting") {
    problem.hidden = false;
    text($("problem-text"), state.state === "failed" ? `${state.kind}: ${state.error}` : state.reason);
  } else if (state.state === "ready") {
    problem.hidden = true;
  }
  const ready = state.state === "ready";
  for (const id of ["run-query", "export-query", "pick-ingest", "submit-ingest"]) ($(id) as HTMLButtonElement).disabled = !ready;
  setReady(ready);
  setWordfreqAvailable(ready, available);
  if (ready) void refreshAfterReady();
}

async function refreshStatus(): Promise<void> {
  const st = await sidecar.status();
  showState(st.state);
  text($("restarts"), String(st.restarts));
  text($("heartbeat"), st.last_heartbeat_seq === null ? "-" : `#${st.last_heartbeat_seq}, ${st.last_heartbeat_ms_ago} ms ago`);
  return;
}

async function refreshAfterReady(): Promise<void> {
  try {
    available = await sidecar.methods();
  } catch (err) {
    available = new Set();
    appendLog({ ts_ms: Date.now(), source: "host", pid: 0, line: `rpc.discover failed: ${(err as CommandError).message}` });
  }
  text($("methods"), `${available.size} methods`);
  const engine = available.has("db.query");
  $("query-unavailable").hidden = engine;
  $("jobs-unavailable").hidden = available.has("jobs.submit");
  if (available.has("jobs.list")) void loadJobs();
  $("schedules-unavailable").hidden = available.has("schedules.list");
  setWordfreqAvailable(true, available);
  if (available.has("schedules.list")) void loadSchedules();
}

// ------------------------------------------------------------------ logs

function appendLog(line: LogLine): void {
  const pre = $("logs");
  const row = document.createElement("div");
  row.className = `log ${line.source}`;
  const ts = line.ts_ms ? new Date(line.ts_ms).toISOString().slice(11, 23) : "";
  row.textContent = `${ts} ${line.source === "host" ? "[host]" : "[sidecar]"} ${line.line}`;
  pre.appendChild(row);
  while (pre.childElementCount > MAX_LOG_LINES) pre.firstElementChild?.remove();
  pre.scrollTop = pre.scrollHeight;
}

// ------------------------------------------------------------------ query console

function cell(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function renderResult(result: QueryResult): void {
  const table = $("results") as HTMLTableElement;
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const col of result.columns) {
    const th = document.createElement("th");
    th.textContent = col.name;
    if (col.type) th.title = col.type;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of result.rows) {
    const tr = body.insertRow();
    const values = Array.isArray(row) ? row : result.columns.map((c) => (row as Record<string, unknown>)[c.name]);
    for (const v of values) tr.insertCell().textContent = cell(v);
  }
  const count = result.row_count ?? result.rows.length;
  text($("query-meta"), `${count} row${count === 1 ? "" : "s"}${result.truncated ? " (truncated)" : ""}${result.elapsed_ms !== undefined ? ` in ${result.elapsed_ms} ms` : ""}`);
}

async function runQuery(): Promise<void> {
  const sql = ($("sql") as HTMLTextAreaElement).value.trim();
  const error = $("query-error");
  error.hidden = true;
  if (!sql) return;
  text($("query-meta"), "running...");
  try {
    renderResult(await sidecar.call("db.query", { sql, limit: QUERY_ROW_LIMIT }));
  } catch (err) {
    const e = err as CommandError;
    error.hidden = false;
    text(error, e.kind === "rpc_error" && e.code === -32601 ? "db.query is not available in this sidecar build." : `${e.data?.kind ?? e.kind}: ${e.message}`);
    text($("query-meta"), "");
  }
}

/** A file name for an export made now: query-20261201-224457.csv. */
function exportName(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `query-${stamp}.csv`;
}

/** `folder` joined with `name` with the separator the folder path uses. */
function inFolder(folder: string, name: string): string {
  const sep = folder.includes("\\") && !folder.includes("/") ? "\\" : "/";
  return folder.endsWith(sep) ? folder + name : folder + sep + name;
}

/** Pick a folder (the host grants the engine write access to it), then export the query there as CSV. */
async function exportQuery(): Promise<void> {
  const sql = ($("sql") as HTMLTextAreaElement).value.trim();
  const error = $("query-error");
  const done = $("export-result");
  error.hidden = true;
  done.hidden = true;
  if (!sql) return;
  try {
    const folder = await sidecar.pickExportFolder();
    if (!folder) return; // cancelled
    const path = inFolder(folder.path, exportName());
    const result = await sidecar.call("db.export", { sql, format: "csv", path });
    done.hidden = false;
    done.dataset.path = result.path;
    text(done, `${result.row_count} row${result.row_count === 1 ? "" : "s"} exported to ${result.path} (${result.bytes} bytes)`);
  } catch (err) {
    const e = err as CommandError;
    error.hidden = false;
    text(error, `${e.data?.kind ?? e.kind}: ${e.message}`);
  }
}

// ------------------------------------------------------------------ jobs

/** What the page keeps of a job: the fields of JobRecord that job.status and job.progress update. */
type Job = Pick<JobRecord, "job_id" | "status"> & Partial<Pick<JobRecord, "type" | "progress" | "message">>;

const jobs = new Map<string, Job>();
const FINAL = new Set(["succeeded", "failed", "canceled"]);

/** Update the job's row in place (a progress tick must not replace the Cancel button under the pointer). */
function renderJob(job: Job): void {
  const list = $("jobs");
  let li = list.querySelector<HTMLLIElement>(`li[data-job-id="${CSS.escape(job.job_id)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.className = "job";
    li.dataset.jobId = job.job_id;
    const label = document.createElement("span");
    label.className = "job-label";
    const status = document.createElement("span");
    status.className = "job-status";
    const bar = document.createElement("progress");
    bar.max = 1;
    const message = document.createElement("span");
    message.className = "job-message";
    const cancel = document.createElement("button");
    cancel.className = "cancel";
    cancel.textContent = "Cancel";
    const id = job.job_id;
    cancel.onclick = () => void cancelJob(id);
    li.append(label, status, bar, message, cancel);
    list.prepend(li);
  }
  li.dataset.status = job.status;
  (li.querySelector(".job-label") as HTMLElement).textContent = `${job.type ?? "job"} ${job.job_id.slice(0, 8)}`;
  (li.querySelector(".job-status") as HTMLElement).textContent = job.status;
  (li.querySelector("progress") as HTMLProgressElement).value = job.progress ?? 0;
  (li.querySelector(".job-message") as HTMLElement).textContent = job.message ?? "";
  (li.querySelector(".cancel") as HTMLButtonElement).disabled = FINAL.has(job.status);
}

function mergeJob(update: Partial<Job> & { job_id: string }): void {
  const old = jobs.get(update.job_id) ?? { job_id: update.job_id, status: "queued" };
  const merged = { ...old, ...update };
  if (merged.progress !== undefined && old.progress !== undefined && merged.progress < old.progress) merged.progress = old.progress;
  jobs.set(update.job_id, merged);
  renderJob(merged);
}

async function loadJobs(): Promise<void> {
  try {
    const { jobs: list } = await sidecar.call("jobs.list", { limit: 50 });
    for (const job of list.reverse()) mergeJob(job);
  } catch (err) {
    appendLog({ ts_ms: Date.now(), source: "host", pid: 0, line: `jobs.list failed: ${(err as CommandError).message}` });
  }
}

async function submitIngest(): Promise<void> {
  const source = ($("ingest-source") as HTMLInputElement).value.trim();
  const table = ($("ingest-table") as HTMLInputElement).value.trim();
  const error = $("jobs-error");
  error.hidden = true;
  try {
    const job = await sidecar.call("jobs.submit", { type: "ingest", payload: { source, table } });
    mergeJob({ type: "ingest", ...job });
  } catch (err) {
    const e = err as CommandError;
    error.hidden = false;
    text(error, `${e.data?.kind ?? e.kind}: ${e.message}`);
  }
}

/** Pick a file (the host grants the engine read access to it) and put its path in the ingest form. */
async function pickIngestFile(): Promise<void> {
  const error = $("jobs-error");
  error.hidden = true;
  try {
    const grant: Grant | null = await sidecar.pickFileForIngest();
    if (!grant) return; // cancelled
    const source = $("ingest-source") as HTMLInputElement;
    source.value = grant.path;
    source.dataset.grantId = grant.grant_id;
    const table = $("ingest-table") as HTMLInputElement;
    if (!table.value.trim()) table.value = tableNameFor(grant.path);
  } catch (err) {
    const e = err as CommandError;
    error.hidden = false;
    text(error, `${e.data?.kind ?? e.kind}: ${e.message}`);
  }
}

/** A table name from a file name: "Sales 2024.csv" -> "sales_2024". */
function tableNameFor(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? "data";
  const stem = base.replace(/\.(gz|zst)$/i, "").replace(/\.[^.]*$/, "");
  const name = stem.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return /^[a-z_]/.test(name) ? name : `t_${name || "data"}`;
}

async function cancelJob(jobId: string): Promise<void> {
  try {
    await sidecar.call("jobs.cancel", { job_id: jobId });
  } catch (err) {
    const error = $("jobs-error");
    error.hidden = false;
    text(error, `cancel failed: ${(err as CommandError).message}`);
  }
}

function onNotification(n: AnyNotification): void {
  if (onScheduleNotification(n)) return;
  if (n.method === "job.status" || n.method === "job.progress") mergeJob(n.params);
}

// ------------------------------------------------------------------ wiring

async function main(): Promise<void> {
  // Subscribe first, then read the current state: no change can fall between the two.
  await sidecar.onState(showState);
  await sidecar.onAnyNotification(onNotification);
  await sidecar.onLog(appendLog);
  const st = await sidecar.status();
  for (const line of st.recent_logs) appendLog(line);
  await refreshStatus();
  const paths = await sidecar.logsPath();
  text($("logs-path"), paths.dir);
  $("logs-path").title = `host log: ${paths.host_log ?? "(none)"}\nsidecar log: ${paths.sidecar_log}`;

  $("restart").onclick = async () => {
    ($("restart") as HTMLButtonElement).disabled = true;
    try {
      await sidecar.restart();
    } catch (err) {
      appendLog({ ts_ms: Date.now(), source: "host", pid: 0, line: `restart failed: ${(err as CommandError).message}` });
    } finally {
      ($("restart") as HTMLButtonElement).disabled = false;
    }
  };
  $("quit").onclick = () => void sidecar.closeWindow();
  $("run-query").onclick = () => void runQuery();
  $("export-query").onclick = () => void exportQuery();
  $("pick-ingest").onclick = () => void pickIngestFile();
  $("submit-ingest").onclick = () => void submitIngest();
  initSchedules();
  initWordfreq();
  ($("sql") as HTMLTextAreaElement).addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void runQuery();
  });
  setInterval(() => void refreshStatus().catch(() => undefined), 2000);
  document.body.dataset.loaded = "true";
}

main().catch((err) => {
  document.body.dataset.loaded = "error";
  text($("state-detail"), `the UI could not start: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
});
