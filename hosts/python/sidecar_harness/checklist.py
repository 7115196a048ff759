"""The executable Milestone 0 checklist: the packaging spike's checks (Tauri configuration, launch, READY parsing,
failure paths, reliability) and its exit criteria.

    python -m sidecar_harness checklist [--binary PATH] [--report DIR/report.json] [--out docs/milestone-0.md]

Every item ends PASS, FAIL or NOT CHECKABLE HERE, with its evidence (a
figure, a file, a command to rerun). Items that need a real Tauri runtime
read the results the Tauri end-to-end tests leave in
``dist/tauri-e2e/results.json`` (``{"tests": [{"name", "outcome", "evidence"}]}``);
without that file they say so.
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from sidecar_harness.checklist_files import REPO, binary_name, read_json, relative, size_label, target_triple
from sidecar_harness.checklist_items import FAIL, NOT_HERE, PASS, Item, run_checklist


def render(items: list[Item], binary: Path, report_path: str) -> str:
    """docs/milestone-0.md."""
    sections = {
        "A": "A. Tauri configuration",
        "B": "B. Launch behavior",
        "C": "C. READY protocol parsing",
        "D": "D. Failure-path checks",
        "E": "E. Basic reliability checks",
        "Exit": "Milestone 0 exit criteria",
    }
    counts = {status: sum(i.status == status for i in items) for status in (PASS, FAIL, NOT_HERE)}
    lines = [
        "# Milestone 0 checklist (seed 004)",
        "",
        "Written by `python -m sidecar_harness checklist`; every item is checked by a program, not by hand.",
        "",
        f"- Checked: {datetime.now(UTC).isoformat(timespec='seconds')} on {platform.platform()}",
        f"- Binary: `{relative(binary)}` {size_label(binary)}",
        f"- Launch figures from: `{report_path}`",
        f"- Result: {counts[PASS]} PASS, {counts[FAIL]} FAIL, {counts[NOT_HERE]} NOT CHECKABLE HERE",
    ]
    for key, title in sections.items():
        lines += ["", f"## {title}", "", "| item | status | evidence | rerun |", "| --- | --- | --- | --- |"]
        for item in (i for i in items if i.section == key):
            lines.append(f"| {item.text} | **{item.status}** | {item.evidence} | `{item.rerun}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """``python -m sidecar_harness checklist``."""
    parser = argparse.ArgumentParser(prog="python -m sidecar_harness checklist", description=__doc__.split("\n\n")[0])
    triple = target_triple()
    parser.add_argument(
        "--binary",
        type=Path,
        default=REPO / "dist" / "nuitka" / binary_name(triple),
        help="the packaged sidecar (default: the Nuitka build)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=REPO / "dist" / "harness" / "report.json",
        help="a harness report.json with launches of that binary",
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "milestone-0.md")
    args = parser.parse_args(argv)
    report = read_json(args.report)
    if report is None:
        print(
            f"checklist: no harness report at {args.report}; launch items will FAIL (run the harness first)",
            file=sys.stderr,
        )
    items = run_checklist(args.binary, report, relative(args.report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(items, args.binary, relative(args.report)))
    for item in items:
        print(f"{item.status:<18} [{item.section}] {item.text}", file=sys.stderr)
    print(f"checklist: wrote {args.out}", file=sys.stderr)
    return 1 if any(i.status == FAIL for i in items) else 0
