"""What the Milestone 0 checklist reads besides its live probes.

The target triple, the Tauri config and end-to-end results, a built .deb, and
paths as the report quotes them (relative to the repository). A missing
optional file gives None or a note rather than an error, and the item that
needed it says so: the checklist also runs where only some pieces are built.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]  # hosts/python/sidecar_harness/this.py
TAURI_CONF = REPO / "tauri-shell" / "src-tauri" / "tauri.conf.json"
TAURI_BINARIES = REPO / "tauri-shell" / "src-tauri" / "binaries"
TAURI_RESULTS = REPO / "dist" / "tauri-e2e" / "results.json"


def target_triple() -> str:
    """The Rust target triple of this machine, as the build scripts name binaries (build/buildinfo.py)."""
    out = subprocess.run(
        [sys.executable, str(REPO / "build" / "buildinfo.py"), "triple"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout.strip()


def binary_name(triple: str) -> str:
    """``sidecar-<triple>``, with ``.exe`` on Windows."""
    return f"sidecar-{triple}" + (".exe" if "windows" in triple else "")


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tauri_results() -> list[dict[str, Any]]:
    data = read_json(TAURI_RESULTS)
    return list((data or {}).get("tests", []))


def tauri_outcome(results: list[dict[str, Any]], needle: str) -> tuple[str, str] | None:
    for test in results:
        if needle in str(test.get("name", "")).lower():
            return str(test.get("outcome")), str(test.get("evidence", test.get("name")))
    return None


def tauri_note(results: list[dict[str, Any]], needle: str) -> str:
    outcome = tauri_outcome(results, needle)
    if outcome is None:
        return " (host level; the Tauri app's own check is not available here yet)"
    return f"; in the Tauri app: {outcome[0]} ({outcome[1]})"


def find_deb() -> Path | None:
    roots = [REPO / "tauri-shell" / "src-tauri" / "target", REPO / "tauri-shell" / "target", REPO / "dist"]
    for root in roots:
        if root.is_dir():
            for deb in sorted(root.rglob("*.deb")):
                return deb
    return None


def size_label(path: Path) -> str:
    return f"({path.stat().st_size / 1e6:.1f} MB)" if path.exists() else "(missing)"


def relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)
