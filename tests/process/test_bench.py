"""The bench scripts still run end to end (``--quick``), against real subprocesses.

These tests never look at a timing: they prove that each script starts every
subject it can, gets correct answers from it (the bench client checks ids,
counts and stdout purity itself), stops it, and writes its JSON, markdown and
chart. A subject whose binary is not built is recorded as skipped, which is
also checked. Numbers worth quoting come from full runs (bench/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run_bench(name: str, out: Path, *args: str, timeout: float = 600, output: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / f"{name}.py"), "--quick", "--out", str(out), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"bench/{name}.py failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    output = output or name
    for suffix in ("json", "md", "png"):
        assert (out / f"{output}.{suffix}").stat().st_size > 0, f"{output}.{suffix} missing or empty"
    document = json.loads((out / f"{output}.json").read_text())
    assert document["machine"]["cpus"] >= 1 and document["machine"]["versions"]["duckdb"]
    assert "| --- |" in (out / f"{output}.md").read_text()
    return document


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and value > 0


def test_rpc_bench_measures_every_subject(tmp_path: Path) -> None:
    document = run_bench("rpc", tmp_path)
    subjects = document["subjects"]
    assert {"source", "fastapi", "mcp", "floor"} <= set(subjects)
    for name, entry in subjects.items():
        assert _positive(entry["ping_sequential_us"]["p50"]) and _positive(entry["ping_pipelined_per_s"]), name
        if name != "floor":
            assert _positive(entry["query_sequential_us"]["p50"]) and _positive(entry["query_pipelined_per_s"]), name
    # The 10,000-row page: the sidecar (every built variant) and FastAPI.
    for name in ("source", "fastapi", *(p for p in ("nuitka", "pyinstaller") if p in subjects)):
        assert _positive(subjects[name]["page_sequential_us"]["p50"]), name
    # The same page in the column layout, from the sidecar only.
    for name in ("source", *(p for p in ("nuitka", "pyinstaller") if p in subjects)):
        assert _positive(subjects[name]["page_columns_sequential_us"]["p50"]), name
    assert "page_columns_sequential_us" not in subjects["fastapi"]
    # Every stdio subject ended on stdin EOF with status 0 (FastAPI gets SIGTERM).
    assert all(entry["exit_status"] == 0 for name, entry in subjects.items() if name != "fastapi")
    for packager in ("nuitka", "pyinstaller"):
        assert (packager in subjects) != (packager in document["skipped"])
    assert [t["target"] for t in document["targets"]] == [
        "ping p50 from source <= 50 us",
        "ping p50 >= 20x faster than FastAPI",
        "small query p50 <= 0.5x FastAPI's",
        "10,000-row page p50 <= 0.5x FastAPI's",
        "10,000-row page, layout columns, p50 <= 0.5x FastAPI's rows",
        ">= 50,000 pipelined pings/s from source",
    ]
    assert all(isinstance(t["met"], bool) for t in document["targets"])


def test_startup_bench_times_every_variant(tmp_path: Path) -> None:
    document = run_bench("startup", tmp_path)
    variants = document["variants"]
    assert {"source", "start-floor", "fastapi", "mcp"} <= set(variants)
    for name, entry in variants.items():
        assert entry["ready_ms"]["n"] == 2 and _positive(entry["ready_ms"]["p50"]), name
        if name not in ("fastapi", "mcp"):  # the sidecar's BOOT comes before its READY
            assert 0 < entry["first_line_ms"]["p50"] <= entry["ready_ms"]["p50"], name
    for name in ("nuitka-cold", "nuitka-warm", "pyinstaller"):
        assert (name in variants) != (name in document["skipped"])
    # Target 4's four checks, each a value from this run (or none, not met, when not run).
    assert len(document["targets"]) == 4
    assert all(isinstance(t["met"], bool) for t in document["targets"])
    source = next(t for t in document["targets"] if t["target"].startswith("source"))
    assert source["value"] == variants["source"]["ready_ms"]["p50"]


def test_transfer_bench_moves_every_row_by_every_path(tmp_path: Path) -> None:
    document = run_bench("transfer", tmp_path)
    paths = document["paths"]
    assert {"query/source", "columns/source", "export/source", "json/fastapi"} <= set(paths)
    for name, entry in paths.items():
        assert entry["rows"] == document["config"]["rows"], name  # every row arrived (the script checks ids too)
        assert _positive(entry["seconds"]["p50"]) and _positive(entry["mb_moved"]), name
    assert document["best"]["path"] in paths and isinstance(document["target"]["met"], bool)
    assert all(status == 0 for name, status in document["exit_status"].items() if name != "fastapi")


def test_memory_bench_reads_rss_at_each_point(tmp_path: Path) -> None:
    document = run_bench("memory", tmp_path)
    subjects = document["subjects"]
    assert {"source", "fastapi"} <= set(subjects)
    for name, entry in subjects.items():
        # DuckDB loads after READY in the sidecar: its RSS can only grow from READY to the first query.
        assert 0 < entry["after_ready_mb"] <= entry["after_duckdb_mb"], name
        assert _positive(entry["peak_transfer_mb"]), name
    for packager in ("nuitka", "pyinstaller"):
        assert (packager in subjects) == (packager in document["binary_sizes"])


def test_scaling_bench_runs_jobs_and_ingests(tmp_path: Path) -> None:
    document = run_bench("scaling", tmp_path)
    levels = document["ping_under_jobs"]["levels"]
    assert [level["jobs"] for level in levels] == [0, 2, 4]
    for level in levels:
        assert _positive(level["ping_us"]["p50"]) and _positive(level["pipelined_per_s"])
    files = document["ingest"]["files"]
    assert files and all(_positive(f["mb_per_s"]) and f["rows"] > 0 for f in files)


def test_compare_revisions_runs_two_revisions_side_by_side(tmp_path: Path) -> None:
    document = run_bench("compare_revisions", tmp_path, "--before", "HEAD", output="compare")
    results = document["results"]
    assert results["before"]["revision"] == "HEAD" and results["after"]["revision"] == "working tree"
    for side in results.values():
        assert (
            _positive(side["ping_us"]["p50"])
            and _positive(side["query_us"]["p50"])
            and _positive(side["paged_s"]["p50"])
        )
        assert side["exit_status"] == 0


def test_app_roundtrip_without_the_release_app_says_how_to_build_it(tmp_path: Path) -> None:
    """The app benchmark needs a release Tauri build that CI does not make (too slow): without
    it the script exits 77 (what bench/run-all.sh reports as skipped), names the one command
    that builds it, and writes nothing."""
    missing = tmp_path / "no-app" / "sidecar-shell"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "app_roundtrip.py"),
            "--app",
            str(missing),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 77, done.stderr
    assert "app_roundtrip: skipped:" in done.stderr and str(missing) in done.stderr
    assert "tauri-shell/scripts/build-bench-app.sh" in done.stderr
    assert done.stdout == "" and not (tmp_path / "out").exists()


def test_app_roundtrip_times_every_subject_from_the_release_app(tmp_path: Path) -> None:
    """With the release app built (tauri-shell/scripts/build-bench-app.sh; CI does not build it),
    the script drives it under Xvfb and checks every answer, the page's errors, the host log and
    the sidecar's exit itself; here: every subject and reference has its figures."""
    app = REPO / "dist" / "app-bench" / "sidecar-shell"
    if not app.is_file():
        pytest.skip(f"the release app is not built ({app}): tauri-shell/scripts/build-bench-app.sh")
    document = run_bench("app_roundtrip", tmp_path)
    subjects = document["subjects"]
    for name in ("tauri", "fastapi", "stdio", "fastapi-direct"):
        for op in ("ping", "query", "page"):
            assert _positive(subjects[name][f"{op}_us"]["p50"]), (name, op)
    assert _positive(subjects["ipc-floor"]["ping_us"]["p50"])
    assert _positive(subjects["json-parse"]["page_us"]["p50"])
    checks = document["checks"]
    assert checks["page_errors"] == [] and checks["host_log_protocol_violations"] == 0
    assert checks["sidecar_restarts"] == 0 and checks["stdio_exit_status"] == 0
    assert {t["target"] for t in document["targets"]} and all(t["value"] is not None for t in document["targets"])
