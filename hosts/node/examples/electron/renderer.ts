/** The page: renders the sidecar's state, its job progress and its log, runs a query. Uses only window.sidecar. */

const stateEl = document.querySelector<HTMLElement>("#state");
const logEl = document.querySelector<HTMLElement>("#log");
const resultEl = document.querySelector<HTMLElement>("#result");

window.sidecar.onState((state) => {
  if (stateEl !== null) stateEl.textContent = state.state === "failed" ? `failed: ${state.error}` : state.state;
});
window.sidecar.onNotification((note) => {
  if (note.method === "job.progress" && resultEl !== null) {
    const { progress } = note.params as { progress: number };
    resultEl.textContent = `job: ${Math.round(progress * 100)}%`;
  }
});
window.sidecar.onLog((line) => {
  if (logEl !== null) logEl.textContent = `${logEl.textContent ?? ""}${line.source}: ${line.line}\n`.slice(-20_000);
});

document.querySelector("#query")?.addEventListener("click", () => {
  void window.sidecar.call("db.query", { sql: "SELECT 42 AS answer" }).then((answer) => {
    if (resultEl !== null) resultEl.textContent = answer.ok ? JSON.stringify(answer.result) : `${answer.error.kind}: ${answer.error.message}`;
  });
});
document.querySelector("#import")?.addEventListener("click", () => {
  void window.sidecar.pickAndGrant("read");
});

export {};
