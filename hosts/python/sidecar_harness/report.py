"""Turn launch records into report.json, report.md and latency.png.

report.md sets the builds side by side on what the packaging decision compares:
startup latency, binary size and launch reliability.
"""

from __future__ import annotations

import os
import platform
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from sidecar_harness.builds import Build
from sidecar_harness.cycle import FAILURE_CLASSES, LaunchRecord
from sidecar_harness.stats import summary

#: Failure classes that mean the READY handshake itself failed: what the fallback criterion's reliability
#: target (at most 10% failed handshakes over 20 launches) counts.
HANDSHAKE_FAILURES = frozenset(
    {"missing_binary", "exit_before_ready", "ready_timeout", "malformed_stdout", "duplicate_ready"}
)


def summarise(build: Build, records: list[LaunchRecord]) -> dict[str, Any]:
    """Per-build figures: counts, failure classes, latency and memory percentiles."""
    mine = [r for r in records if r.build == build.name]
    by_kind = {kind: [r for r in mine if r.kind == kind] for kind in ("graceful", "kill", "term")}
    handshake_failures = [r for r in mine if r.failure in HANDSHAKE_FAILURES]

    def values(rows: list[LaunchRecord], field: str) -> list[float]:
        return [getattr(r, field) for r in rows if getattr(r, field) is not None]

    ready = values(mine, "launch_to_ready_ms")
    return {
        "build": build.name,
        "packager": build.packager,
        "packager_version": build.manifest.get("packager_version"),
        "binary": str(build.binary) if build.binary else None,
        "binary_size_bytes": build.size_bytes,
        "build_seconds": build.manifest.get("build_seconds"),
        "launches": len(mine),
        "ok": sum(r.ok for r in mine),
        "by_kind": {
            kind: {"launches": len(rows), "ok": sum(r.ok for r in rows)} for kind, rows in by_kind.items() if rows
        },
        "failures": dict(Counter(r.failure for r in mine if r.failure)),
        "handshake_failures": len(handshake_failures),
        "handshake_failure_rate": len(handshake_failures) / len(mine) if mine else None,
        "launch_to_boot_ms": summary(values(mine, "launch_to_boot_ms")),
        "launch_to_ready_ms": summary(ready),
        "first_launch_to_ready_ms": mine[0].launch_to_ready_ms if mine else None,
        "later_launch_to_ready_ms": summary(
            [r.launch_to_ready_ms for r in mine[1:] if r.launch_to_ready_ms is not None]
        ),
        "first_rpc_ms": summary(values(mine, "first_rpc_ms")),
        "graceful_shutdown_ms": summary(values(by_kind["graceful"], "shutdown_ms")),
        "kill_child_gone_ms": summary(values(by_kind["kill"], "shutdown_ms")),
        "term_exit_ms": summary(values(by_kind["term"], "shutdown_ms")),
        "term_python_exit_ms": summary(values(by_kind["term"], "python_exit_ms")),
        "peak_rss_bytes": summary(values(mine, "peak_rss_bytes")),
        "two_processes": any(r.python_pid and r.spawned_pid and r.python_pid != r.spawned_pid for r in mine),
    }


def machine_info() -> dict[str, Any]:
    """Where the run happened."""
    return {
        "platform": platform.platform(),
        "system": platform.system(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """report.json: the run, the builds, the per-build summary and every launch."""
    path.write_bytes(msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n")


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _fmt_triple(stats: dict[str, float | None]) -> str:
    if stats["p50"] is None:
        return "-"
    return f"{_fmt_ms(stats['p50'])} / {_fmt_ms(stats['p95'])} / {_fmt_ms(stats['max'])}"


def _fmt_bytes(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f} MB"


def render_markdown(document: dict[str, Any]) -> str:
    """report.md: the side-by-side comparison, reliability, integration notes, failures."""
    summaries: list[dict[str, Any]] = document["summary"]
    launches: list[dict[str, Any]] = document["launches"]
    names = [s["build"] for s in summaries]
    lines = [
        "# Launch-reliability report",
        "",
        f"Generated {document['generated_at']} on {document['machine']['platform']} "
        f"({document['machine']['cpus']} CPUs, Python {document['machine']['python']}). "
        f"{document['options']['launches']} launches per cycle kind per build; kinds: {', '.join(document['options']['kinds'])}; "
        f"{len(launches)} launches in {_fmt_duration(document['options'].get('wall_seconds'))}. "
        "Times run from just before the spawn (stop times from the stop request or signal); p50 / p95 / max.",
        "",
        "## Side by side",
        "",
        "| | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("launches ok", [f"{s['ok']}/{s['launches']}" for s in summaries])
    row(
        "READY handshake failure rate",
        [
            "-"
            if s["handshake_failure_rate"] is None
            else f"{100 * s['handshake_failure_rate']:.1f} % ({s['handshake_failures']}/{s['launches']})"
            for s in summaries
        ],
    )
    row("launch -> BOOT", [_fmt_triple(s["launch_to_boot_ms"]) for s in summaries])
    row("launch -> READY", [_fmt_triple(s["launch_to_ready_ms"]) for s in summaries])
    row("first launch -> READY (cold)", [_fmt_ms(s["first_launch_to_ready_ms"]) for s in summaries])
    row("later launches -> READY p50 (warm)", [_fmt_ms(s["later_launch_to_ready_ms"]["p50"]) for s in summaries])
    row("first RPC (system.ping)", [_fmt_triple(s["first_rpc_ms"]) for s in summaries])
    row("graceful shutdown", [_fmt_triple(s["graceful_shutdown_ms"]) for s in summaries])
    row("SIGKILL bootstrap -> Python child gone", [_fmt_triple(s["kill_child_gone_ms"]) for s in summaries])
    row("SIGTERM -> Python process gone", [_fmt_triple(s["term_python_exit_ms"]) for s in summaries])
    row("SIGTERM -> exit", [_fmt_triple(s["term_exit_ms"]) for s in summaries])
    row("peak RSS of the process tree", [_fmt_triple_bytes(s["peak_rss_bytes"]) for s in summaries])
    row("binary size", [_fmt_bytes(s["binary_size_bytes"]) for s in summaries])
    row("packager", [f"{s['packager']} {s['packager_version'] or ''}".strip() for s in summaries])
    row("build time", ["-" if s["build_seconds"] is None else f"{s['build_seconds']:.0f} s" for s in summaries])

    lines += [
        "",
        "## Launch reliability",
        "",
        "| failure class | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for failure in FAILURE_CLASSES:
        row(f"`{failure}`", [str(s["failures"].get(failure, 0)) for s in summaries])
    for kind in document["options"]["kinds"]:
        row(
            f"{kind} cycles ok",
            [
                f"{s['by_kind'][kind]['ok']}/{s['by_kind'][kind]['launches']}" if kind in s["by_kind"] else "-"
                for s in summaries
            ],
        )

    lines += ["", "## Integration notes", ""]
    for s in summaries:
        lines.append(f"- **{s['build']}**: " + "; ".join(_integration_notes(s)) + ".")

    failures = [l for l in launches if not l["ok"]]
    lines += ["", "## Failures", ""]
    if not failures:
        lines.append("None.")
    for launch in failures[:30]:
        lines.append(
            f"- {launch['build']} #{launch['index']} ({launch['kind']}): `{launch['failure']}`: {launch['message']}"
        )
    if len(failures) > 30:
        lines.append(f"- ... and {len(failures) - 30} more in report.json")
    return "\n".join(lines) + "\n"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _fmt_triple_bytes(stats: dict[str, float | None]) -> str:
    if stats["p50"] is None:
        return "-"
    return f"{_fmt_bytes(stats['p50'])} / {_fmt_bytes(stats['p95'])} / {_fmt_bytes(stats['max'])}"


def _integration_notes(s: dict[str, Any]) -> list[str]:
    notes = []
    if s["packager"] == "source":
        notes.append("runs from the source tree with the host's Python: no packaging, one process")
    elif s["two_processes"]:
        notes.append(
            "two processes (a onefile bootstrap and the Python child): the host holds only the bootstrap's pid, "
            "BOOT names the child's; stopping relies on the sidecar's parent watch or a process-group kill"
        )
    else:
        notes.append("one process")
    cold, warm = s["first_launch_to_ready_ms"], s["later_launch_to_ready_ms"]["p50"]
    if cold is not None and warm is not None and s["launches"] > 1:
        notes.append(f"first launch READY {_fmt_ms(cold)} vs later p50 {_fmt_ms(warm)}")
    if s["failures"]:
        notes.append("failures: " + ", ".join(f"{k} x{v}" for k, v in s["failures"].items()))
    return notes


def write_plot(path: Path, document: dict[str, Any]) -> None:
    """latency.png: launch -> READY per build, a box plot with every launch drawn as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s["build"] for s in document["summary"]]
    series = [
        [
            l["launch_to_ready_ms"]
            for l in document["launches"]
            if l["build"] == name and l.get("launch_to_ready_ms") is not None
        ]
        for name in names
    ]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.8 * len(names) + 2), 4.5), dpi=110)
    plotted = [values if values else [float("nan")] for values in series]
    ax.boxplot(plotted, showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names)
    for position, values in enumerate(series, start=1):
        jitter = [position + ((i * 37) % 21 - 10) / 80 for i in range(len(values))]
        ax.scatter(jitter, values, s=12, alpha=0.6, zorder=3)
    ax.set_ylabel("launch -> READY (ms)")
    ax.set_title("Launch to READY per build")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def harness_command_line() -> str:
    """How this run was started (for the reports)."""
    return " ".join([Path(sys.executable).name, "-m", "sidecar_harness", *sys.argv[1:]])
