#!/usr/bin/env python3
"""Measure launch -> first stdout line and launch -> READY for a sidecar command.

Usage:
    scripts/measure-launch.py [--runs N] [--clear DIR]... [--label L] [--json] -- CMD [ARGS...]

Each run starts CMD with stdin/stdout as pipes (as Tauri does), reads stdout
lines until one starts with ``READY``, then closes stdin (the polite shutdown
path) and waits for the process to exit. ``--clear DIR`` removes DIR before
every run, which turns a cached onefile launch into a cold one (first launch
after an install or an upgrade). One warm-up run is made and thrown away
unless ``--clear`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def one_run(cmd: list[str], timeout: float) -> tuple[float, float, float]:
    """Return (first_line_ms, ready_ms, exit_ms) for one launch."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None and proc.stdin is not None
    first = ready = None
    deadline = start + timeout
    while time.perf_counter() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        now = time.perf_counter()
        if first is None:
            first = now
        if line.startswith(b"READY"):
            ready = now
            break
    proc.stdin.close()
    proc.stdout.read()  # drain until EOF (SHUTDOWN line and the end)
    proc.wait(timeout=timeout)
    end = time.perf_counter()
    if first is None or ready is None:
        raise RuntimeError(f"no READY from {cmd!r} (exit status {proc.returncode})")
    return (first - start) * 1000, (ready - start) * 1000, (end - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clear", action="append", default=[], help="directory removed before each run")
    parser.add_argument("--label", default="")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given")

    if not args.clear:
        one_run(cmd, args.timeout)  # warm-up: fills the extraction cache and the page cache
    firsts, readies, exits = [], [], []
    for _ in range(args.runs):
        for path in args.clear:
            shutil.rmtree(path, ignore_errors=True)
        first, ready, end = one_run(cmd, args.timeout)
        firsts.append(first)
        readies.append(ready)
        exits.append(end)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(statistics.median(values), 1),
            "p95": round(_percentile(values, 95), 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
        }

    result = {
        "label": args.label or os.path.basename(cmd[0]),
        "runs": args.runs,
        "mode": "cold" if args.clear else "warm",
        "first_line_ms": summary(firsts),
        "ready_ms": summary(readies),
        "exit_ms": summary(exits),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['label']:<28} {result['mode']:<5} n={args.runs:<3} "
            f"first p50 {result['first_line_ms']['p50']:7.1f} ms | "
            f"READY p50 {result['ready_ms']['p50']:7.1f} p95 {result['ready_ms']['p95']:7.1f} ms | "
            f"exit p50 {result['exit_ms']['p50']:7.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
