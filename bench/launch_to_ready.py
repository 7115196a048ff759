#!/usr/bin/env python3
"""Launch -> READY for the sidecar as source and as built binaries, side by side.

    .venv/bin/python bench/launch_to_ready.py [--runs 20] [--json dist/bench/launch.json]

Variants (a binary that is not built is skipped):

* ``python``          ``.venv/bin/python -m sidecar``
* ``nuitka-cold``     the Nuitka binary after deleting its extraction cache
                      (first launch after an install or an upgrade)
* ``nuitka-warm``     the Nuitka binary with its cache in place (every later launch)
* ``nuitka-bin-direct`` the unpacked Nuitka child started directly: the floor an
                      exec-style launcher could reach (no bootstrap, no CRC pass)
* ``pyinstaller``     the PyInstaller binary (it unpacks on every launch)

Launches are interleaved (round r runs every variant once, in a rotated order),
so a busy machine slows all variants alike instead of skewing one of them. Each
launch starts the command with pipes, times the first stdout line (BOOT) and the
READY line, then closes stdin and waits for the exit. The Nuitka cache lives in
a private ``XDG_CACHE_HOME`` so the user's cache is not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "build"))
import buildinfo  # noqa: E402

from sidecar.harness.stats import percentile  # noqa: E402


def launch_once(cmd: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[float, float]:
    """(ms to the first stdout line, ms to READY) for one launch."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None and proc.stdin is not None
    first = ready = None
    try:
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            now = time.perf_counter()
            if first is None:
                first = now
            if line.startswith(b"READY"):
                ready = now
                break
    finally:
        proc.stdin.close()
        proc.stdout.read()
        proc.wait(timeout)
    if first is None or ready is None:
        raise RuntimeError(f"no READY from {cmd[0]} (exit status {proc.returncode})")
    return (first - start) * 1000, (ready - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    parser.add_argument("--json", type=Path, default=REPO / "dist" / "bench" / "launch.json")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                        help="another binary to measure warm (e.g. an experimental build)")
    args = parser.parse_args()

    name = f"sidecar-{buildinfo.target_triple()}{'.exe' if sys.platform == 'win32' else ''}"
    binaries = {packager: REPO / "dist" / packager / name for packager in ("nuitka", "pyinstaller")}
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-"))
    cache_home = work / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env["XDG_CACHE_HOME"] = str(cache_home)
    env["TMPDIR"] = str(work / "tmp")
    (work / "tmp").mkdir()
    source_env = dict(env, PYTHONPATH=str(REPO))
    common = ["--heartbeat-interval", "0"]

    variants: dict[str, tuple[list[str], dict[str, str], Path | None]] = {
        "python": ([args.python, "-m", "sidecar", "--data-dir", str(work / "d-python"), *common], source_env, None),
    }
    if binaries["nuitka"].is_file():
        nuitka = str(binaries["nuitka"])
        variants["nuitka-cold"] = ([nuitka, "--data-dir", str(work / "d-cold"), *common], env, cache_home / buildinfo.PRODUCT)
        variants["nuitka-warm"] = ([nuitka, "--data-dir", str(work / "d-warm"), *common], env, None)
        # What an exec-style launcher would cost when warm: the unpacked Python
        # child started directly (no bootstrap, no CRC pass over the cache).
        manifest = json.loads((binaries["nuitka"].parent / "manifest.json").read_text())
        unpacked = Path(manifest["extraction_dir"].replace("{CACHE_DIR}", str(cache_home)))
        variants["nuitka-bin-direct"] = (
            [str(unpacked / (name.removesuffix(".exe") + ".bin")), "--data-dir", str(work / "d-direct"), *common],
            env,
            None,
        )
    if binaries["pyinstaller"].is_file():
        variants["pyinstaller"] = (
            [str(binaries["pyinstaller"]), "--data-dir", str(work / "d-pyi"), *common], env, None)

    for extra in args.extra:
        label, _, path = extra.partition("=")
        variants[label] = ([path, "--data-dir", str(work / f"d-{label}"), *common], env, None)

    # Warm-up: page cache, the sidecar's own first-run work (data dir), the Nuitka
    # cache (filled by the first Nuitka launch, before the direct variant runs).
    for cmd, venv, _ in variants.values():
        launch_once(cmd, venv)

    order = list(variants)
    samples: dict[str, dict[str, list[float]]] = {v: {"first": [], "ready": []} for v in order}
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    for r in range(args.runs):
        rotated = order[r % len(order):] + order[: r % len(order)]
        for variant in rotated:
            cmd, venv, clear = variants[variant]
            if clear is not None:
                shutil.rmtree(clear, ignore_errors=True)
            first, ready = launch_once(cmd, venv)
            if variant == "nuitka-cold":
                launch_once(variants["nuitka-warm"][0], env)  # leave the cache warm for the warm variant
            samples[variant]["first"].append(first)
            samples[variant]["ready"].append(ready)
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    shutil.rmtree(work, ignore_errors=True)

    result = {
        "runs": args.runs,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_before_after": [load_before, load_after],
        "sizes_bytes": {p: b.stat().st_size for p, b in binaries.items() if b.is_file()},
        "variants": {
            v: {
                kind: {
                    "p50": round(statistics.median(vals), 1),
                    "p95": round(percentile(vals, 95), 1),
                    "min": round(min(vals), 1),
                }
                for kind, vals in s.items()
            }
            for v, s in samples.items()
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")

    print(f"launch -> first line / READY, ms, {args.runs} interleaved launches each ({result['machine']})")
    print(f"{'variant':<14} {'first p50':>10} {'READY p50':>10} {'READY p95':>10} {'READY min':>10}")
    for v, s in result["variants"].items():
        print(f"{v:<14} {s['first']['p50']:>10} {s['ready']['p50']:>10} {s['ready']['p95']:>10} {s['ready']['min']:>10}")
    for p, size in result["sizes_bytes"].items():
        print(f"size {p}: {size / 1e6:.1f} MB ({size} bytes)")
    print(f"load average before/after: {load_before} / {load_after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
