#!/usr/bin/env python3
"""The app's round trip: calls timed from a page of the real Tauri app (release build) under Xvfb.

    .venv/bin/python bench/app_roundtrip.py [--rounds 3] [--quick] [--out dist/bench] [--app PATH]

Needs the release app with the bench-only CSP, built by one command:

    tauri-shell/scripts/build-bench-app.sh     (dist/app-bench/: ~8 min cold, ~1-2 min warm, 2 vCPUs)

It is ``tauri build --no-bundle --config src-tauri/tauri.bench.conf.json``: the shipped
tauri.conf.json stays as it is; the overlay adds ``http://127.0.0.1:*`` to ``connect-src`` (the
FastAPI reference below) and a capability that also grants ``system.ping`` to the main window.
The e2e suite's debug build is not used: it is not what users run. Without the app (or
tauri-driver, WebKitWebDriver, Xvfb) the script says what is missing and how to get it, and
exits with status 77 (skipped); bench/run-all.sh reports that and goes on.

Subjects, interleaved by round (round r visits them in a rotated order):

* ``tauri``    the page calls ``invoke("plugin:sidecar|call", {method, params})``, as the app's
               own console does, through the plugin and sidecar-host to the Nuitka sidecar the app
               bundles (externalBin, beside the executable);
* ``fastapi``  the seeds' original design from the same page: ``fetch()`` to
               bench/subjects/fastapi_server.py on localhost (CORS for the webview's origin, bench
               only), the same DuckDB queries, the answer read with ``response.json()``;
* ``stdio``    the same sidecar binary spoken to straight over stdio by bench/_peer_stdio.py (what
               bench/rpc.py measures): the engine's own time, for the ratio the Tauri hop adds.

References (not contenders; they split the hop into its parts):

* ``fastapi-direct`` the same FastAPI calls from Python (bench/_peer_http.py): with ``fastapi``, what
                     the webview's own ``fetch()`` costs;
* ``ipc-floor``      ``invoke("plugin:event|unlisten")`` of no listener, a core command the default
                     capability grants: Tauri's IPC round trip with no plugin work (ping only);
* ``json-parse``     ``JSON.parse`` in the page of the query's and the page's answer text (fetched
                     once, untimed): what decoding the answer costs the webview whatever the path.

Calls: ``system.ping`` (FastAPI ``GET /ping``), the small query and the 10,000-row page of
bench/rpc.py (``db.query``; FastAPI ``POST /query`` and ``POST /rows``). In the page, each batch
is N calls back to back, one in flight at a time (sequential awaits), timed as a whole with
``performance.now()`` (WebKit's clock is coarse, whole milliseconds were seen, so single calls are
not timed); a batch's mean is one sample, and p50/p95 are over the batches of all rounds. The
stdio subject's per-call times are grouped into batches of the same N the same way.

Checks (any failure stops the run with an error, no table is written): every answer in the page
is verified after its batch's clock stopped (ping ``pong``, row counts, first and last row values);
the page's ``error``/``unhandledrejection`` events must stay empty; the host log must hold no
"protocol violation" line (sidecar-host logs every non-protocol stdout line of the sidecar there)
and the sidecar must not have restarted; the stdio peer checks every line itself; after the app
closes, its sidecar's pids must be gone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _machine import machine_info
from _outputs import bar_chart, markdown_table, standard_arguments, write_outputs
from _paths import REPO, buildinfo
from _peer_http import HttpPeer, fastapi_peer
from _peer_stdio import StdioPeer
from _stats import ratio, summarize
from _subjects import BenchError, Command, clean_env, remove_tree
from rpc import PAGE_ROWS, PAGE_SQL, QUERY_SQL

from tests.tauri.webdriver import AppDriver, pid_alive, private_xvfb, tauri_driver, wait_until, webview_env

SKIPPED = 77  # the exit status of a run that could not happen here (automake's "skipped")
DEFAULT_APP = REPO / "dist" / "app-bench" / "sidecar-shell"
BUILD_HINT = "build it with tauri-shell/scripts/build-bench-app.sh (~8 min cold, ~1-2 min warm on 2 vCPUs)"
QUERY_ROWS = 10
TARGET_PING_P50_US = 500.0
TARGET_PAGE_VS_STDIO = 1.3
TARGET_VS_FASTAPI = 3.0
SUBJECTS = ("tauri", "fastapi", "stdio", "fastapi-direct", "ipc-floor", "json-parse")
OPS = ("ping", "query", "page")
OPS_OF = {"ipc-floor": ("ping",), "json-parse": ("query", "page")}  # the others run every operation
WHAT = {
    "tauri": "page -> invoke(plugin:sidecar|call) -> plugin -> sidecar-host -> Nuitka sidecar",
    "fastapi": "page -> fetch() -> FastAPI/uvicorn on localhost (the seeds' design)",
    "stdio": "the same sidecar binary straight over stdio (bench/_peer_stdio.py): the engine's own time",
    "fastapi-direct": "the same FastAPI calls from Python (bench/_peer_http.py): FastAPI without the webview",
    "ipc-floor": "page -> invoke(plugin:event|unlisten) of no listener: Tauri's IPC with no plugin work (reference)",
    "json-parse": "JSON.parse in the page of the answer's text, no call: what decoding it costs the webview (reference)",
}

# One batch set in the page: spec.batches batches of spec.n calls, one in flight at a time.
# Answers are checked after each batch's clock stopped. Returns {ok: [batch ms...]} or {err}.
PAGE_SCRIPT = """
const spec = arguments[0], done = arguments[arguments.length - 1];
const rpc = window.__TAURI_INTERNALS__;
const invoke = () => rpc.invoke("plugin:sidecar|call", {method: spec.method, params: spec.params});
let text = null;  // json-parse: the answer's text, fetched once before the clock starts
const call = spec.subject === "tauri" ? invoke
  : spec.subject === "json-parse" ? async () => JSON.parse(text)
  : spec.subject === "ipc-floor"
  ? () => rpc.invoke("plugin:event|unlisten", {event: "bench:none", eventId: 0}).then(() => ({pong: true}))
  : () => fetch(spec.url, spec.body === null ? {} :
        {method: "POST", headers: {"content-type": "application/json"}, body: spec.body})
      .then(r => { if (!r.ok) throw new Error(spec.url + ": HTTP " + r.status); return r.json(); });
const check = a => {
  const e = spec.expect;
  if (e.rows === 0) return a && a.pong === true ? null : "no pong: " + JSON.stringify(a).slice(0, 200);
  if (!a || a.row_count !== e.rows || !Array.isArray(a.rows) || a.rows.length !== e.rows)
    return "wrong row count: " + JSON.stringify(a).slice(0, 200);
  const last = a.rows[e.rows - 1];
  if (a.rows[0][0] !== 0 || last[0] !== e.rows - 1 || String(last[e.col]) !== e.last)
    return "wrong rows: first " + JSON.stringify(a.rows[0]) + ", last " + JSON.stringify(last);
  return null;
};
(async () => {
  if (spec.subject === "json-parse") text = JSON.stringify(await invoke());
  const batches = [];
  for (let b = 0; b < spec.batches; b++) {
    const answers = new Array(spec.n);
    const start = performance.now();
    for (let i = 0; i < spec.n; i++) answers[i] = await call();
    batches.push(performance.now() - start);
    for (const a of answers) { const why = check(a); if (why) throw new Error(why); }
  }
  done({ok: batches});
})().catch(e => done({err: e instanceof Error ? e.message : JSON.stringify(e)}));
"""

WATCH_ERRORS = """
window.__benchErrors = [];
window.addEventListener("error", e => window.__benchErrors.push(String(e.message)));
window.addEventListener("unhandledrejection", e => window.__benchErrors.push(String(e.reason)));
return location.origin;
"""


@dataclass
class Sizes:
    """Calls per batch (n) and batches per round, per operation."""

    n: dict[str, int]
    batches: dict[str, int]


@dataclass
class Call:
    """One operation as each subject spells it, and what its answer must hold."""

    method: str
    params: Any
    path: str
    body: Any
    expect: dict[str, Any]


CALLS = {
    "ping": Call("system.ping", None, "/ping", None, {"rows": 0}),
    "query": Call(
        "db.query",
        {"sql": QUERY_SQL},
        "/query",
        {"sql": QUERY_SQL},
        {"rows": QUERY_ROWS, "col": 1, "last": str(2 * (QUERY_ROWS - 1))},
    ),
    "page": Call(
        "db.query",
        {"sql": PAGE_SQL, "limit": PAGE_ROWS},
        "/rows",
        {"sql": PAGE_SQL},
        {"rows": PAGE_ROWS, "col": 2, "last": f"name-{PAGE_ROWS - 1}"},
    ),
}


def missing_prerequisite(app: Path) -> str | None:
    """Why the app cannot be driven here (None when it can)."""
    if sys.platform != "linux":
        return "the app benchmark runs on Linux (WebKitWebDriver under Xvfb)"
    if not app.is_file() or not (app.parent / "sidecar").is_file():
        return f"the release app is not built ({app} and the sidecar beside it); {BUILD_HINT}"
    if tauri_driver() is None:
        return "tauri-driver is not installed (cargo install tauri-driver --locked)"
    for tool, package in (("WebKitWebDriver", "webkit2gtk-driver"), ("Xvfb", "xvfb xauth")):
        if not shutil.which(tool):
            return f"{tool} is not installed (apt-get install {package})"
    return None


class PageRunner:
    """Runs batch sets in the app's page, for the tauri and fastapi subjects."""

    def __init__(self, app: AppDriver, fastapi_port: int) -> None:
        self.app = app
        self.base = f"http://127.0.0.1:{fastapi_port}"

    def batches_ms(self, subject: str, op: str, n: int, batches: int) -> list[float]:
        call = CALLS[op]
        spec = {
            "subject": subject,
            "method": call.method,
            "params": call.params,
            "url": self.base + call.path,
            "body": None if call.body is None else json.dumps(call.body),
            "expect": call.expect,
            "n": n,
            "batches": batches,
        }
        out = self.app.session.cmd("POST", "/execute/async", {"script": PAGE_SCRIPT, "args": [spec]})
        if not isinstance(out, dict) or "ok" not in out:
            raise BenchError(f"{subject} {op} in the page: {out!r}")
        return [float(ms) for ms in out["ok"]]


def stdio_batches_ms(peer: StdioPeer, op: str, n: int, batches: int) -> list[float]:
    """The stdio subject's calls, grouped into batches of ``n`` as the page times them (ms per batch)."""
    call = CALLS[op]
    samples_us = peer.sequential_us(call.method, call.params, n * batches, 0)
    return [sum(samples_us[i * n : (i + 1) * n]) / 1000 for i in range(batches)]


def http_batches_ms(http: HttpPeer, op: str, n: int, batches: int) -> list[float]:
    """FastAPI's calls from Python, grouped into batches of ``n`` (ms per batch)."""
    call = CALLS[op]
    samples_us = http.sequential_us(call.path, call.body, n * batches, 0)
    return [sum(samples_us[i * n : (i + 1) * n]) / 1000 for i in range(batches)]


def run(app_path: Path, rounds: int, sizes: Sizes, python: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-app-"))
    machine = machine_info()
    env = clean_env(work)
    sidecar = app_path.parent / "sidecar"
    per_call_us: dict[str, dict[str, list[float]]] = {s: {op: [] for op in OPS} for s in SUBJECTS}
    checks: dict[str, Any] = {}
    try:
        with private_xvfb() as display:
            app = AppDriver(
                app_path, tauri_driver() or "tauri-driver", webview_env(work / "app-data", work), display, work
            )
            try:
                app.session.wait_state("ready", 60)
                app.session.cmd("POST", "/timeouts", {"script": 600_000})
                origin = app.session.js(WATCH_ERRORS)
                status = app.session.invoke("plugin:sidecar|status")
                sidecar_pids = {int(status["pid"]), int(status["engine_pid"] or status["pid"])}
                host_log = app.session.invoke("plugin:sidecar|logs_path")["host_log"]
                with (
                    fastapi_peer(work / "fastapi.duckdb", env, python, cors_origin=origin) as http,
                    StdioPeer(
                        Command(
                            [str(sidecar), "--data-dir", str(work / "stdio-data"), "--heartbeat-interval", "0"], env
                        )
                    ) as stdio,
                ):
                    page = PageRunner(app, http.port)

                    def once(subject: str, op: str, n: int, batches: int) -> list[float]:
                        if subject == "stdio":
                            return stdio_batches_ms(stdio, op, n, batches)
                        if subject == "fastapi-direct":
                            return http_batches_ms(http, op, n, batches)
                        return page.batches_ms(subject, op, n, batches)

                    for subject in SUBJECTS:  # warm-up: the database opened, caches and preflight primed
                        for op in OPS_OF.get(subject, OPS):
                            once(subject, op, max(2, sizes.n[op] // 5), 1)
                    for r in range(rounds):
                        order = SUBJECTS[r % len(SUBJECTS) :] + SUBJECTS[: r % len(SUBJECTS)]
                        for subject in order:
                            for op in OPS_OF.get(subject, OPS):
                                batch_ms = once(subject, op, sizes.n[op], sizes.batches[op])
                                per_call_us[subject][op] += [ms * 1000 / sizes.n[op] for ms in batch_ms]
                            print(f"round {r + 1}/{rounds}: {subject} done", file=sys.stderr)
                    checks["page_errors"] = app.session.js("return window.__benchErrors")
                    final = app.session.invoke("plugin:sidecar|status")
                    checks["sidecar_restarts"] = final["restarts"]
                    checks["sidecar_state_at_end"] = final["state"]["state"]
                    checks["stdio_exit_status"] = stdio.close()
                    checks["fastapi_exit_status"] = http.close()
            finally:
                app.close()
        wait_until(lambda: not any(pid_alive(p) for p in sidecar_pids), 15, "the app's sidecar to exit")
        violations = [line for line in _read(host_log).splitlines() if "protocol violation" in line]
        checks["host_log_protocol_violations"] = len(violations)
    finally:
        remove_tree(work)
    problems = [
        f"page errors: {checks['page_errors']}" if checks["page_errors"] else "",
        f"the sidecar restarted {checks['sidecar_restarts']} times" if checks["sidecar_restarts"] else "",
        f"sidecar state at the end: {checks['sidecar_state_at_end']}"
        if checks["sidecar_state_at_end"] != "ready"
        else "",
        f"{len(violations)} protocol violations in the host log: {violations[:3]}" if violations else "",
    ]
    if any(problems):
        raise BenchError("; ".join(p for p in problems if p))

    subjects: dict[str, Any] = {}
    for subject in SUBJECTS:
        entry: dict[str, Any] = {"what": WHAT[subject]}
        for op in OPS_OF.get(subject, OPS):
            entry[f"{op}_us"] = summarize(per_call_us[subject][op])
        subjects[subject] = entry
    return {
        "machine": machine,
        "app": app_info(app_path),
        "rounds": rounds,
        "calls_per_batch": sizes.n,
        "batches_per_round": sizes.batches,
        "query_sql": QUERY_SQL,
        "page_sql": PAGE_SQL,
        "subjects": subjects,
        "checks": checks,
        "targets": targets(subjects),
    }


def _read(path: str | None) -> str:
    if not path:
        raise BenchError("the app writes no host log: the protocol check has nothing to read")
    return Path(path).read_text(errors="replace")


def app_info(app_path: Path) -> dict[str, Any]:
    """Which app and sidecar were measured: paths, sizes, the sidecar's build manifest's commit, Tauri's version."""
    shown = app_path.resolve()
    shown_app = str(shown.relative_to(REPO)) if shown.is_relative_to(REPO) else str(shown)
    info: dict[str, Any] = {"app": shown_app, "profile": "release", "csp_overlay": "tauri.bench.conf.json"}
    sidecar = app_path.parent / "sidecar"
    info["sidecar_bytes"] = sidecar.stat().st_size
    for manifest in [*sorted((REPO / "dist").glob("apps/*/nuitka/manifest.json")), REPO / "dist/nuitka/manifest.json"]:
        binary = manifest.parent / f"sidecar-{buildinfo.target_triple()}"
        if binary.is_file() and binary.stat().st_size == sidecar.stat().st_size:
            data = json.loads(manifest.read_text())
            info["sidecar_manifest"] = str(manifest.relative_to(REPO))
            info["sidecar_commit"] = (data.get("git_commit") or "")[:7] or None
            break
    lock = (REPO / "tauri-shell" / "Cargo.lock").read_text().split("[[package]]")
    for package in lock:
        if '\nname = "tauri"\n' in package:
            info["tauri"] = package.split('version = "', 1)[1].split('"', 1)[0]
    try:
        info["webkit2gtk"] = (
            subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", "libwebkit2gtk-4.1-0"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            or None
        )
    except OSError:
        info["webkit2gtk"] = None
    return info


def _p50(subjects: dict[str, Any], subject: str, op: str) -> float | None:
    entry = subjects.get(subject, {}).get(f"{op}_us")
    return entry["p50"] if entry else None


def targets(subjects: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 14, target 3: each with the value and whether it is met."""
    ping = _p50(subjects, "tauri", "ping")
    page_vs_stdio = ratio(_p50(subjects, "tauri", "page"), _p50(subjects, "stdio", "page"))
    out = [
        {
            "target": f"ping p50 from the page <= {TARGET_PING_P50_US:.0f} us",
            "value": ping,
            "met": ping is not None and ping <= TARGET_PING_P50_US,
        },
        {
            "target": f"{PAGE_ROWS:,}-row page p50 <= {TARGET_PAGE_VS_STDIO}x the sidecar's own (stdio)",
            "value": page_vs_stdio,
            "met": page_vs_stdio is not None and page_vs_stdio <= TARGET_PAGE_VS_STDIO,
        },
    ]
    for op in OPS:
        faster = ratio(_p50(subjects, "fastapi", op), _p50(subjects, "tauri", op))
        out.append(
            {
                "target": f"{op} p50 >= {TARGET_VS_FASTAPI:.0f}x faster than fetch() to FastAPI from the page",
                "value": faster,
                "met": faster is not None and faster >= TARGET_VS_FASTAPI,
            }
        )
    return out


def render(document: dict[str, Any]) -> str:
    subjects = document["subjects"]
    rows = []
    for name, entry in subjects.items():
        row: list[Any] = [f"`{name}`", entry["what"]]
        for op in OPS:
            summary = entry.get(f"{op}_us")
            row += [summary["p50"], summary["p95"]] if summary else [None, None]
        rows.append(row)
    differences = (
        ("tauri", "stdio", "Tauri hop (tauri - stdio)", "what the webview, IPC, plugin and host add to the engine"),
        ("fastapi", "fastapi-direct", "webview's fetch (fastapi - fastapi-direct)", "what the webview adds to HTTP"),
    )
    for slower, faster, label, what in differences:
        cells: list[Any] = []
        for op in OPS:
            a, b = _p50(subjects, slower, op), _p50(subjects, faster, op)
            cells += [round(a - b, 1) if a is not None and b is not None else None, None]
        rows.append([label, what, *cells])
    m, app = document["machine"], document["app"]
    n, b = document["calls_per_batch"], document["batches_per_round"]
    out = [
        f"### The app's round trip ({m['date_utc']}, {m['cpu']}, {m['cpus']} CPUs, load {m['load_average']})\n",
        f"Release app (Tauri {app.get('tauri')}, WebKitGTK {app.get('webkit2gtk')}), its Nuitka sidecar "
        f"(commit {app.get('sidecar_commit')}). {document['rounds']} interleaved rounds; per round and subject "
        + ", ".join(f"{b[op]} batches of {n[op]} {op} calls" for op in OPS)
        + ", one call in flight at a time. Per-call microseconds: p50 and p95 over the batch means "
        f"(small query `{document['query_sql']}`; page `{document['page_sql']}`).\n",
        markdown_table(
            ["subject", "path", *[f"{op} {q}" for op in OPS for q in ("p50", "p95")]],
            rows,
        ),
        "Checks: " + ", ".join(f"{k} {v!r}" for k, v in document["checks"].items()) + ".\n",
        markdown_table(
            ["target (issue 14, 3)", "measured", "met"],
            [[t["target"], t["value"], "yes" if t["met"] else "**no**"] for t in document["targets"]],
        ),
    ]
    return "\n".join(out)


def chart(document: dict[str, Any]) -> Callable[[Path], None]:
    subjects = document["subjects"]
    names = list(subjects)

    def draw(path: Path) -> None:
        bar_chart(
            path,
            "Per-call p50 from the app's page (log scale, lower is better)",
            names,
            {f"{op} p50 (us)": [_p50(subjects, s, op) for s in names] for op in OPS},
            "microseconds",
            log=True,
        )

    return draw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    standard_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--app", type=Path, default=DEFAULT_APP, help="the release app (sidecar beside it)")
    args = parser.parse_args(argv)
    why = missing_prerequisite(args.app)
    if why is not None:
        print(f"app_roundtrip: skipped: {why}", file=sys.stderr)
        return SKIPPED
    if args.quick:
        sizes, rounds = Sizes({"ping": 20, "query": 10, "page": 2}, {"ping": 2, "query": 2, "page": 2}), 1
    else:
        sizes = Sizes({"ping": 200, "query": 50, "page": 5}, {"ping": 15, "query": 15, "page": 12})
        rounds = args.rounds
    started = time.monotonic()
    document = run(args.app, rounds, sizes, args.python)
    document["elapsed_s"] = round(time.monotonic() - started, 1)
    write_outputs(args.out, "app_roundtrip", document, render(document), chart(document))
    return 0


if __name__ == "__main__":
    os.environ.pop("DISPLAY", None)  # always a private Xvfb: the figures must not depend on a desktop's compositor
    sys.exit(main())
