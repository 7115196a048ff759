// The example app's panel: the text typed here goes to wordfreq.count, a method of the app
// package examples/wordfreq-app (not of the sidecar), typed from the sidecar's rpc.discover
// like the built-in methods. It reaches Rust only through ./sidecar-client.js.

import * as sidecar from "./sidecar-client.js";
import type { CommandError, CountResult } from "./sidecar-client.js";

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el;
}

function show(result: CountResult): void {
  $("wordfreq-summary").textContent = `${result.total} words, ${result.distinct} distinct`;
  const list = $("wordfreq-words");
  list.replaceChildren();
  for (const { word, count } of result.words) {
    const li = document.createElement("li");
    li.className = "wordfreq-word";
    li.dataset.word = word;
    li.dataset.count = String(count);
    li.textContent = `${word}: ${count}`;
    list.appendChild(li);
  }
}

async function count(): Promise<void> {
  const error = $("wordfreq-error");
  error.hidden = true;
  const text = ($("wordfreq-text") as HTMLTextAreaElement).value;
  const top = Number(($("wordfreq-top") as HTMLInputElement).value);
  try {
    show(await sidecar.call("wordfreq.count", { text, top }));
  } catch (err) {
    const e = err as CommandError;
    error.hidden = false;
    error.textContent = `${e.data?.kind ?? e.kind}: ${e.message}`;
  }
}

export function initWordfreq(): void {
  $("wordfreq-count").onclick = () => void count();
}

/** Enable the panel when the sidecar is ready and serves the app's method. */
export function setWordfreqAvailable(ready: boolean, methods: Set<string>): void {
  const served = methods.has("wordfreq.count");
  $("wordfreq-unavailable").hidden = served || !ready;
  ($("wordfreq-count") as HTMLButtonElement).disabled = !(ready && served);
}
