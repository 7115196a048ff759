// The schedules panel: the list (next due time, last outcome), a simple interval schedule,
// pause/resume, run now, and the notices of skipped due times (schedule.skipped).
// It reaches Rust only through ./sidecar-client.js, like the rest of the page.

import * as sidecar from "./sidecar-client.js";
import type { AnyNotification, CommandError, ScheduleRecord, ScheduleSkippedNote } from "./sidecar-client.js";

const MAX_NOTICES = 20;

type Schedule = ScheduleRecord;
type Skipped = ScheduleSkippedNote;

const schedules = new Map<string, Schedule>();

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el;
}

function showError(message: string | null): void {
  const error = $("schedules-error");
  error.hidden = message === null;
  error.textContent = message ?? "";
}

function failed(err: unknown): string {
  const e = err as CommandError;
  return `${e.data?.kind ?? e.kind}: ${e.message}`;
}

/** A due time in the machine's local time (the record carries UTC). */
function local(iso: string | null): string {
  return iso === null ? "-" : new Date(iso).toLocaleString();
}

function triggerText(s: Schedule): string {
  if (s.trigger.every_s !== undefined) return `every ${s.trigger.every_s} s`;
  return `cron ${s.trigger.cron} (${s.trigger.timezone})`;
}

/** Update one schedule's row in place (a refresh must not move the buttons under the pointer). */
function render(s: Schedule): void {
  const list = $("schedules");
  let li = list.querySelector<HTMLLIElement>(`li[data-schedule-id="${CSS.escape(s.schedule_id)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.className = "schedule";
    li.dataset.scheduleId = s.schedule_id;
    const cells = ["name", "trigger", "next", "outcome"].map((name) => {
      const span = document.createElement("span");
      span.className = `schedule-${name}`;
      return span;
    });
    const toggle = document.createElement("button");
    toggle.className = "toggle";
    const runNow = document.createElement("button");
    runNow.className = "run-now";
    runNow.textContent = "Run now";
    const id = s.schedule_id;
    toggle.onclick = () => void setEnabled(id);
    runNow.onclick = () => void runNowClicked(id);
    li.append(...cells, toggle, runNow);
    list.append(li);
  }
  li.dataset.enabled = String(s.enabled);
  li.dataset.lastOutcome = s.last_outcome ?? "";
  (li.querySelector(".schedule-name") as HTMLElement).textContent = s.name;
  (li.querySelector(".schedule-trigger") as HTMLElement).textContent = triggerText(s);
  (li.querySelector(".schedule-next") as HTMLElement).textContent = s.enabled ? local(s.next_due_at) : "paused";
  (li.querySelector(".schedule-outcome") as HTMLElement).textContent = s.last_outcome ?? "-";
  (li.querySelector(".toggle") as HTMLButtonElement).textContent = s.enabled ? "Pause" : "Resume";
}

function remember(s: Schedule): void {
  schedules.set(s.schedule_id, s);
  render(s);
}

export async function loadSchedules(): Promise<void> {
  try {
    const result = await sidecar.call("schedules.list");
    for (const s of result.schedules) remember(s);
    showError(null);
  } catch (err) {
    showError(`schedules.list failed: ${failed(err)}`);
  }
}

async function refresh(scheduleId: string): Promise<void> {
  try {
    remember(await sidecar.call("schedules.get", { schedule_id: scheduleId }));
  } catch {
    // deleted meanwhile, or the sidecar is restarting: the next list shows the truth
  }
}

async function create(): Promise<void> {
  const name = ($("schedule-name") as HTMLInputElement).value.trim() || "compact";
  const every = Number(($("schedule-every") as HTMLInputElement).value);
  try {
    // The app's capability pins the job to maintenance.compact: a page cannot schedule a
    // pipeline, whose SQL would write the database past the console's read-only pin.
    const job = { type: "maintenance.compact", payload: {} };
    remember(await sidecar.call("schedules.create", { name, trigger: { every_s: every }, job }));
    showError(null);
  } catch (err) {
    showError(failed(err));
  }
}

async function setEnabled(scheduleId: string): Promise<void> {
  const s = schedules.get(scheduleId);
  if (!s) return;
  try {
    // Two literal calls, not a computed name: tests/tauri/test_tauri_capability.py reads them.
    const params = { schedule_id: scheduleId };
    remember(
      s.enabled
        ? await sidecar.call("schedules.pause", params)
        : await sidecar.call("schedules.resume", params),
    );
    showError(null);
  } catch (err) {
    showError(failed(err));
  }
}

async function runNowClicked(scheduleId: string): Promise<void> {
  try {
    await sidecar.call("schedules.run_now", { schedule_id: scheduleId });
    await refresh(scheduleId);
    showError(null);
  } catch (err) {
    showError(failed(err));
  }
}

function notice(note: Skipped): void {
  const list = $("schedule-notices");
  const li = document.createElement("li");
  li.className = "schedule-notice";
  li.dataset.reason = note.reason;
  const name = schedules.get(note.schedule_id)?.name ?? note.schedule_id.slice(0, 8);
  const why = note.error ? `${note.reason}: ${note.error.kind}` : note.reason;
  const times = note.count === 1 ? "1 due time" : `${note.count} due times`;
  li.textContent = `${name}: ${times} skipped (${why}), latest ${local(note.due_at)}`;
  list.prepend(li);
  while (list.childElementCount > MAX_NOTICES) list.lastElementChild?.remove();
}

/** schedule.fired and schedule.skipped: refresh the row; a skip also becomes a notice. */
export function onScheduleNotification(n: AnyNotification): boolean {
  if (n.method === "schedule.skipped") notice(n.params);
  else if (n.method !== "schedule.fired") return false;
  void refresh(n.params.schedule_id);
  return true;
}

export function setReady(ready: boolean): void {
  ($("create-schedule") as HTMLButtonElement).disabled = !ready;
}

export function initSchedules(): void {
  $("create-schedule").onclick = () => void create();
}
