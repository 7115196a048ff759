"""The Milestone 0 checklist's items, each evaluated to PASS, FAIL or NOT CHECKABLE HERE with its evidence.

The sections follow the packaging spike plan: A Tauri configuration, B launch
behaviour, C READY protocol parsing, D failure paths, E basic reliability,
then the milestone's exit criteria. Launch figures come from a harness report;
the failure paths are probed live (checklist_probes).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from sidecar_harness.checklist_files import (
    REPO,
    TAURI_BINARIES,
    TAURI_CONF,
    binary_name,
    find_deb,
    read_json,
    relative,
    size_label,
    target_triple,
    tauri_note,
    tauri_outcome,
    tauri_results,
)
from sidecar_harness.checklist_probes import probe_fixture, probe_restart
from sidecar_host import BinaryNotFound, ExitedBeforeReady, ReadyTimeout

PASS, FAIL, NOT_HERE = "PASS", "FAIL", "NOT CHECKABLE HERE"


@dataclass
class Item:
    """One checklist line: section, text, status, evidence and how to rerun it."""

    section: str
    text: str
    status: str
    evidence: str
    rerun: str


def run_checklist(binary: Path, report: dict[str, Any] | None, report_path: str) -> list[Item]:
    """Evaluate every item (runs the failure fixtures live; reads the harness report)."""
    triple = target_triple()
    rerun_harness = (
        f"python -m sidecar_harness --binary {relative(binary)} --launches 20 --kill --term --out dist/harness"
    )
    items: list[Item] = []

    def add(section: str, text: str, status: str, evidence: str, rerun: str) -> None:
        items.append(Item(section, text, status, evidence, rerun))

    launches = [l for l in (report or {}).get("launches", []) if l.get("build") == _build_name(report, binary)]
    graceful = [l for l in launches if l["kind"] == "graceful"]
    tauri = tauri_results()

    # A. Tauri configuration
    conf = read_json(TAURI_CONF)
    external = ((conf or {}).get("bundle") or {}).get("externalBin") or []
    add(
        "A",
        "externalBin path is configured for the sidecar binary target",
        PASS if "binaries/sidecar" in external else FAIL,
        f"{relative(TAURI_CONF)} bundle.externalBin = {external}"
        if conf
        else f"{relative(TAURI_CONF)} does not exist yet",
        f"python -c \"import json;print(json.load(open('{relative(TAURI_CONF)}'))['bundle']['externalBin'])\"",
    )
    expected = binary_name(triple)
    in_tauri = TAURI_BINARIES / expected
    add(
        "A",
        "Per-platform naming conventions are handled (.exe on Windows, none on macOS/Linux)",
        PASS if binary.name == expected and in_tauri.exists() else FAIL,
        f"host triple {triple}: built {relative(binary)} ({'present' if binary.exists() else 'missing'}), "
        f"Tauri expects {relative(in_tauri)} ({'present' if in_tauri.exists() else 'missing'})",
        "scripts/build-nuitka.sh (copies into tauri-shell/src-tauri/binaries/)",
    )
    deb = find_deb()
    if deb is None:
        add(
            "A",
            "Sidecar binary is included in app packaging output",
            NOT_HERE,
            "no .deb bundle has been built on this machine yet",
            "cd tauri-shell && npx tauri build --bundles deb",
        )
    else:
        listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=False).stdout
        found = re.search(r"(^|\s)(\./)?usr/bin/sidecar$", listing, re.M)
        add(
            "A",
            "Sidecar binary is included in app packaging output",
            PASS if found else FAIL,
            f"{relative(deb)} {'contains usr/bin/sidecar' if found else 'has no usr/bin/sidecar'}",
            f"dpkg-deb -c '{relative(deb)}'",
        )

    # B. Launch behaviour
    if binary.exists():
        ok, evidence = anyio.run(probe_restart, binary)
    else:
        ok, evidence = False, f"{relative(binary)} does not exist"
    add(
        "B",
        "Host invokes sidecar with expected args/env",
        PASS if ok else FAIL,
        f"--data-dir was honoured (system.status echoes it): {evidence}",
        "python -m sidecar_harness checklist",
    )
    exits = [l for l in launches if l.get("failure") == "exit_before_ready"]
    add(
        "B",
        "Sidecar process starts without immediate crash",
        _from_report(launches, not exits),
        _count(launches, "launches", "exited before READY", len(exits)),
        rerun_harness,
    )
    have_pids = [l for l in launches if l.get("spawned_pid") and l.get("python_pid")]
    kills = [l for l in launches if l["kind"] == "kill"]
    add(
        "B",
        "Host observes process PID and retains lifecycle handle",
        _from_report(launches, len(have_pids) == len(launches) and bool(kills) and all(l["ok"] for l in kills)),
        f"{len(have_pids)}/{len(launches)} launches recorded the spawned and the Python pid; "
        f"{sum(l['ok'] for l in kills)}/{len(kills)} SIGKILL cycles found the Python child gone by pid",
        rerun_harness,
    )

    # C. READY protocol parsing
    bad_stdout = [l for l in launches if l.get("failure") == "malformed_stdout" or l.get("violations")]
    add(
        "C",
        "Host reads sidecar stdout stream reliably",
        _from_report(launches, not bad_stdout),
        _count(launches, "launches", "had a non-protocol stdout line", len(bad_stdout)),
        rerun_harness,
    )
    _duplicate_exc, _, duplicate_client = anyio.run(probe_fixture, "ready_twice", 5.0)
    caught = duplicate_client is not None and any(v.kind == "duplicate_ready" for v in duplicate_client.violations)
    dups = [l for l in launches if l.get("failure") == "duplicate_ready"]
    add(
        "C",
        "Host detects READY token line exactly once",
        _from_report(launches, caught and not dups),
        f"the ready_twice fixture {'was' if caught else 'was NOT'} flagged duplicate_ready; "
        + _count(launches, "real launches", "printed READY twice", len(dups)),
        "pytest tests/process/test_host_client.py -k duplicate",
    )
    silent_exc, silent_s, _ = anyio.run(probe_fixture, "silent_no_ready", 1.5)
    ready_gate = isinstance(silent_exc, ReadyTimeout)
    add(
        "C",
        "Host transitions internal state to ready only after READY token",
        PASS if ready_gate else FAIL,
        "a fixture that prints BOOT but never READY was never handed out as ready "
        f"({type(silent_exc).__name__ if silent_exc else 'no error'} after {silent_s:.1f} s)",
        "pytest tests/process/test_host_client.py tests/process/test_harness.py -k ready",
    )
    enforced = ready_gate and 1.4 <= silent_s <= 4 and "no READY within 1.5s" in str(silent_exc)
    add(
        "C",
        "READY timeout is enforced and emits actionable error logs",
        PASS if enforced else FAIL,
        f"timeout 1.5 s -> raised after {silent_s:.2f} s: {str(silent_exc)[:160]!r}",
        "pytest tests/process/test_harness.py -k ready_timeout",
    )

    # D. Failure paths
    missing_exc, _, _ = anyio.run(probe_fixture, "", 2.0)
    add(
        "D",
        "Missing binary path returns clear startup error",
        PASS if isinstance(missing_exc, BinaryNotFound) and "no-such-dir" in str(missing_exc) else FAIL,
        f"{type(missing_exc).__name__}: {missing_exc}",
        "pytest tests/process/test_harness.py -k missing_binary",
    )
    exit_exc, exit_s, _ = anyio.run(probe_fixture, "exits_before_ready", 10.0)
    surfaced = isinstance(exit_exc, ExitedBeforeReady) and exit_exc.status == 7
    add(
        "D",
        "Non-zero sidecar exit before READY is surfaced to UI/logs",
        PASS if surfaced else FAIL,
        f"exit status 7 reported after {exit_s:.2f} s (not after the 10 s timeout): {str(exit_exc)[:120]!r}",
        "pytest tests/process/test_harness.py -k exit_before_ready",
    )
    garbage_exc, garbage_s, _ = anyio.run(probe_fixture, "garbage_no_ready", 1.5)
    lists_lines = isinstance(garbage_exc, ReadyTimeout) and "Hello from a stray debug print" in garbage_exc.lines_seen
    add(
        "D",
        "Malformed stdout (no READY) triggers timeout path",
        PASS if lists_lines else FAIL,
        f"after {garbage_s:.2f} s: {str(garbage_exc)[:160]!r}",
        "pytest tests/process/test_harness.py -k malformed_stdout",
    )
    attached = isinstance(exit_exc, ExitedBeforeReady) and any("permission denied" in l for l in exit_exc.stderr_tail)
    add(
        "D",
        "Stderr output is captured and attached to diagnostics",
        PASS if attached else FAIL,
        "the exit-before-READY error carries the fixture's stderr line 'fatal: cannot open engine.duckdb: permission denied'"
        if attached
        else f"stderr missing from {exit_exc!r}",
        "pytest tests/process/test_host_client.py -k exit_before_ready",
    )

    # E. Reliability
    add(
        "E",
        "App restart relaunches sidecar successfully",
        PASS if ok else FAIL,
        evidence + tauri_note(tauri, "restart"),
        "python -m sidecar_harness checklist",
    )
    orphans = [l for l in launches if l.get("failure") in ("orphan", "unclean_shutdown")]
    add(
        "E",
        "App shutdown terminates sidecar cleanly",
        _from_report(launches, bool(graceful) and not orphans),
        _count(launches, "launches", "left a process or shut down uncleanly", len(orphans))
        + tauri_note(tauri, "close"),
        rerun_harness,
    )
    stable = len(graceful) >= 5 and all(l["ok"] for l in graceful)
    add(
        "E",
        "Repeated launch cycles (>=5) are stable",
        _from_report(launches, stable),
        f"{sum(l['ok'] for l in graceful)}/{len(graceful)} graceful cycles ok",
        rerun_harness,
    )

    # Milestone 0 exit criteria
    add(
        "Exit",
        "Hello-world sidecar binary is produced and launchable",
        PASS if binary.exists() and graceful and all(l["ok"] for l in graceful) else FAIL,
        f"{relative(binary)} {size_label(binary)}; {sum(l['ok'] for l in graceful)}/{len(graceful)} launches reached READY and stopped cleanly",
        "scripts/build-nuitka.sh && " + rerun_harness,
    )
    launched = tauri_outcome(tauri, "externalbin")
    add(
        "Exit",
        "Tauri launches sidecar through externalBin successfully",
        NOT_HERE if launched is None else PASS if launched[0] == "passed" else FAIL,
        "no Tauri end-to-end results yet (dist/tauri-e2e/results.json)" if launched is None else launched[1],
        "the Tauri e2e suite (docs/TAURI.md)",
    )
    parsing = all(i.status == PASS for i in items if i.section == "C")
    add(
        "Exit",
        "Host parses stdout and transitions on READY",
        PASS if parsing else FAIL,
        "every item of section C passed" if parsing else "see section C",
        "python -m sidecar_harness checklist",
    )
    failures_ok = all(i.status == PASS for i in items if i.section == "D")
    add(
        "Exit",
        "Failure paths (missing bin / crash-before-ready / timeout) are validated",
        PASS if failures_ok else FAIL,
        "every item of section D passed" if failures_ok else "see section D",
        "pytest tests/process/test_harness.py tests/process/test_host_client.py",
    )
    entries = sorted(p.name for p in (REPO / "issue-log").glob("[0-9][0-9][0-9][0-9]-*.md"))
    add(
        "Exit",
        "Platform issue log is populated for encountered problems",
        PASS if entries else FAIL,
        f"{len(entries)} entries in issue-log/: {', '.join(entries[:8])}{' ...' if len(entries) > 8 else ''}",
        "ls issue-log/",
    )
    decision = REPO / "docs" / "packaging-decision.md"
    verdict = re.search(r"^## Verdict: (\S+)", decision.read_text(), re.M) if decision.exists() else None
    add(
        "Exit",
        "Packaging decision (Nuitka or PyInstaller fallback) is documented",
        PASS if verdict and verdict.group(1) in ("nuitka", "pyinstaller") else FAIL,
        f"docs/packaging-decision.md verdict: {verdict.group(1)}"
        if verdict
        else "docs/packaging-decision.md has no verdict",
        f"python -m sidecar_harness --binary dist/nuitka/{binary_name(triple)} --binary dist/pyinstaller/{binary_name(triple)} "
        "--launches 20 --kill --term --out dist/harness",
    )
    for item in items:
        item.evidence = item.evidence.replace("|", "\\|")
    return items


def _build_name(report: dict[str, Any] | None, binary: Path) -> str | None:
    for build in (report or {}).get("builds", []):
        if build.get("binary") and Path(build["binary"]).resolve() == binary.resolve():
            return str(build["name"])
    return None


def _from_report(launches: list[dict[str, Any]], condition: bool) -> str:
    return FAIL if not launches else PASS if condition else FAIL


def _count(launches: list[dict[str, Any]], what: str, bad: str, n: int) -> str:
    if not launches:
        return "no harness launches of this binary in the report"
    return f"{n} of {len(launches)} {what} {bad}"
