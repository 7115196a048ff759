"""The launch-reliability harness, against the real sidecar and the bad-sidecar fixtures.

The fixtures (tests/fixtures/bad_sidecars/) are tiny stand-ins, not the real
sidecar; each misbehaves in exactly one way (the failure paths of the Milestone 0
checklist: exit before READY, no READY, stray stdout, READY twice, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from sidecar_harness.decision import evaluate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_sidecars"
REPO = Path(__file__).resolve().parents[2]


def harness(
    tmp_path: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sidecar_harness",
            *args,
            "--out",
            str(out),
            "--decision",
            str(tmp_path / "decision.md"),
            "--drafts-dir",
            str(tmp_path / "drafts"),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
        env=env,
    )
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return proc, report


def test_source_runs_clean_with_every_cycle_kind(tmp_path: Path) -> None:
    proc, report = harness(tmp_path, "--source", "--launches", "2", "--kill", "--term")
    assert proc.returncode == 0, proc.stderr[-3000:]
    launches = report["launches"]
    assert len(launches) == 6 and all(l["ok"] for l in launches)
    assert {l["kind"] for l in launches} == {"graceful", "kill", "term"}
    for launch in launches:
        assert 0 < launch["launch_to_boot_ms"] <= launch["launch_to_ready_ms"]
        assert launch["first_rpc_ms"] > 0 and launch["peak_rss_bytes"] > 1_000_000
        assert launch["leftover_pids"] == [] if "leftover_pids" in launch else True
    graceful = [l for l in launches if l["kind"] == "graceful"]
    assert all(l["shutdown_reason"] == "normal" and l["exit_status"] == 0 for l in graceful)
    term = [l for l in launches if l["kind"] == "term"]
    assert all(l["shutdown_reason"] == "signal" for l in term)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| launch -> READY |" in markdown and "## Launch reliability" in markdown
    assert proc.stdout == markdown  # the report is printed
    assert (tmp_path / "out" / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert proc.stderr.count("ok") >= 6  # one progress line per launch
    assert not (tmp_path / "decision.md").exists()  # no Nuitka build measured: no verdict


def test_kinds_picks_the_cycles_and_each_round_takes_every_kind(tmp_path: Path) -> None:
    proc, report = harness(tmp_path, "--source", "--launches", "2", "--kinds", "term,kill", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [(l["kind"], l["index"]) for l in report["launches"]] == [("kill", 1), ("term", 1), ("kill", 2), ("term", 2)]
    assert report["options"]["kinds"] == ["kill", "term"]
    for launch in report["launches"]:
        if launch["kind"] == "term":
            assert launch["shutdown_reason"] == "signal" and launch["exit_status"] == 0
            assert 0 < launch["python_exit_ms"] <= launch["shutdown_ms"]
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| SIGTERM -> Python process gone |" in markdown and "4 launches in " in markdown


def test_kinds_refuses_an_unknown_kind(tmp_path: Path) -> None:
    proc, _report = harness(tmp_path, "--source", "--kinds", "graceful,reboot")
    assert proc.returncode == 2
    assert "choose from graceful,kill,term" in proc.stderr


@pytest.mark.parametrize(
    "slow,phrase",
    [
        (None, None),
        ("child", "the Python process (pid"),
        ("bootstrap", "but the spawned process"),
    ],
    ids=["fast", "slow_child", "slow_bootstrap"],
)
def test_a_slow_sigterm_stop_names_the_process_that_was_slow(
    tmp_path: Path, slow: str | None, phrase: str | None
) -> None:
    env = dict(os.environ)
    if slow:
        env["SLOW_STOP"] = slow
    proc, report = harness(
        tmp_path,
        "--binary",
        f"two={FIXTURES / 'slow_stop.py'}",
        "--launches",
        "1",
        "--kinds",
        "term",
        "--quiet",
        env=env,
    )
    [launch] = report["launches"]
    if phrase is None:
        assert proc.returncode == 0 and launch["ok"], launch
        assert launch["python_pid"] != launch["spawned_pid"]
        return
    assert proc.returncode == 1
    assert launch["failure"] == "unclean_shutdown" and phrase in launch["message"], launch["message"]
    for pid in (launch["spawned_pid"], launch["python_pid"]):  # the harness ended what it started
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_child_past_the_orphan_deadline_is_watched_until_it_goes(tmp_path: Path) -> None:
    """A child still alive 1.5 s after its bootstrap's SIGKILL is an orphan by the harness's
    deadline; the message says what the kernel said of it then and when it went after all."""
    proc, report = harness(
        tmp_path,
        "--binary",
        f"two={FIXTURES / 'slow_stop.py'}",
        "--launches",
        "1",
        "--kinds",
        "kill",
        "--quiet",
        env={**os.environ, "SLOW_STOP": "late_exit"},
    )
    [launch] = report["launches"]
    assert proc.returncode == 1
    assert launch["failure"] == "orphan", launch
    assert "state " in launch["message"] and "ms after the kill" in launch["message"], launch["message"]
    assert 1500 < launch["late_gone_ms"] < 6000, launch
    python_pid = launch["python_pid"]
    assert not psutil.pid_exists(python_pid) or psutil.Process(python_pid).status() == psutil.STATUS_ZOMBIE


CASES = [
    # (fixture, expected class, a phrase the message must contain)
    (None, "missing_binary", "not found"),
    ("exits_before_ready", "exit_before_ready", "status 7"),
    ("silent_no_ready", "ready_timeout", "never became ready"),
    ("garbage_no_ready", "malformed_stdout", "Hello from a stray debug print"),
    ("ready_twice", "duplicate_ready", "more than once"),
    ("hang_after_ready", "rpc_error", "hangs after READY"),
]


@pytest.mark.parametrize("fixture,failure,phrase", CASES, ids=[c[1] for c in CASES])
def test_each_failure_path_gets_its_class_and_an_actionable_message(
    tmp_path: Path, fixture: str | None, failure: str, phrase: str
) -> None:
    binary = (
        str(tmp_path / "missing" / "sidecar-x86_64-unknown-linux-gnu")
        if fixture is None
        else str(FIXTURES / f"{fixture}.py")
    )
    started = time.monotonic()
    proc, report = harness(
        tmp_path, "--binary", f"bad={binary}", "--launches", "1", "--ready-timeout", "2", "--rpc-timeout", "1"
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    [launch] = report["launches"]
    assert launch["ok"] is False and launch["failure"] == failure
    assert phrase in launch["message"], launch["message"]
    assert elapsed < 2 + 1 + 10  # reported within the READY timeout plus cleanup, not hanging
    if failure in ("ready_timeout", "rpc_error"):  # it was alive: its last state is evidence
        assert any(" wchan=" in state for state in launch["process_states"]), launch.get("process_states")
    drafts = list((tmp_path / "drafts").glob(f"*-bad-{failure}.md"))
    assert len(drafts) == 1
    draft = drafts[0].read_text()
    for field in (
        "- Date:",
        "- Platform:",
        "- Arch:",
        "- Python:",
        "- Nuitka:",
        "- Severity:",
        "## Symptoms",
        "## Reproduction",
        "## Expected vs Actual",
        "## Diagnostics",
        "- Exit code:",
        "## Suspected Cause",
        "## Resolution / Mitigation",
        "## Follow-up Actions",
    ):
        assert field in draft
    assert launch["leftover_pids"] == [] if "leftover_pids" in launch else True


def test_failure_messages_are_distinct(tmp_path: Path) -> None:
    messages = set()
    for fixture in ("exits_before_ready", "silent_no_ready", "garbage_no_ready", "ready_twice", "hang_after_ready"):
        _proc, report = harness(
            tmp_path / fixture,
            "--binary",
            f"bad={FIXTURES / fixture}.py",
            "--launches",
            "1",
            "--ready-timeout",
            "1.5",
            "--rpc-timeout",
            "1",
            "--quiet",
        )
        messages.add(report["launches"][0]["message"].split(":")[0])
    assert len(messages) == 5


def _summary(packager: str, launches: int, failures: dict[str, int], size: int | None = 30_000_000) -> dict[str, Any]:
    handshake = sum(
        v
        for k, v in failures.items()
        if k in ("exit_before_ready", "ready_timeout", "malformed_stdout", "duplicate_ready", "missing_binary")
    )
    return {
        "packager": packager,
        "launches": launches,
        "ok": launches - sum(failures.values()),
        "failures": failures,
        "handshake_failures": handshake,
        "handshake_failure_rate": handshake / launches,
        "binary_size_bytes": size,
        "build_seconds": 600,
    }


def test_decision_keeps_nuitka_when_no_criterion_is_met() -> None:
    verdict = evaluate([_summary("nuitka", 20, {}), _summary("pyinstaller", 20, {})])
    assert verdict["verdict"] == "nuitka"
    assert [c["met"] for c in verdict["criteria"]] == [False, False, False, None]


def test_decision_falls_back_over_ten_percent_handshake_failures() -> None:
    verdict = evaluate([_summary("nuitka", 20, {"ready_timeout": 3}), _summary("pyinstaller", 20, {})])
    assert verdict["verdict"] == "pyinstaller"
    assert verdict["criteria"][2]["met"] is True and "15.0 %" in verdict["criteria"][2]["evidence"]


def test_decision_exactly_ten_percent_is_not_over() -> None:
    verdict = evaluate([_summary("nuitka", 20, {"ready_timeout": 2}), _summary("pyinstaller", 20, {})])
    assert verdict["criteria"][2]["met"] is False
    assert verdict["criteria"][1]["met"] is True  # instability was still observed


def test_decision_needs_a_nuitka_build() -> None:
    assert evaluate([_summary("pyinstaller", 20, {})])["verdict"] == "undecided"


def test_checklist_walks_every_item(tmp_path: Path) -> None:
    """Against a launcher script named like a Tauri externalBin (it runs the source)."""
    binary = tmp_path / "sidecar-x86_64-unknown-linux-gnu"
    binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sidecar "$@"\n')
    binary.chmod(0o755)
    proc, _report = harness(tmp_path, "--binary", f"wrapped={binary}", "--launches", "5", "--kill", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "milestone-0.md"
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "sidecar_harness",
            "checklist",
            "--binary",
            str(binary),
            "--report",
            str(tmp_path / "out" / "report.json"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    text = out.read_text()
    for section in (
        "## A. Tauri configuration",
        "## B. Launch behavior",
        "## C. READY protocol parsing",
        "## D. Failure-path checks",
        "## E. Basic reliability checks",
        "## Milestone 0 exit criteria",
    ):
        assert section in text
    rows = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")[1]
        for line in text.splitlines()
        if line.startswith("| ") and "**" in line
    }
    assert len(rows) == 23
    for item in (
        "Sidecar process starts without immediate crash",
        "Host reads sidecar stdout stream reliably",
        "Host detects READY token line exactly once",
        "READY timeout is enforced and emits actionable error logs",
        "Missing binary path returns clear startup error",
        "Non-zero sidecar exit before READY is surfaced to UI/logs",
        "Malformed stdout (no READY) triggers timeout path",
        "Stderr output is captured and attached to diagnostics",
        "Repeated launch cycles (>=5) are stable",
        "App restart relaunches sidecar successfully",
        "Host observes process PID and retains lifecycle handle",
    ):
        assert rows[item] == "**PASS**", (item, text)
    assert all(status in ("**PASS**", "**FAIL**", "**NOT CHECKABLE HERE**") for status in rows.values())
    assert rows["Tauri launches sidecar through externalBin successfully"] in (
        "**NOT CHECKABLE HERE**",
        "**PASS**",
        "**FAIL**",
    )
    assert check.returncode in (0, 1)
