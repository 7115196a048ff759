"""Apply the Milestone 0 fallback criteria (switch from Nuitka to PyInstaller when one is met) to measured figures."""

from __future__ import annotations

from typing import Any

#: The fallback criterion on launches: "Binary fails READY handshake reliability target (>10% failure over 20 launches)".
HANDSHAKE_FAILURE_LIMIT = 0.10
MIN_LAUNCHES = 20


def evaluate(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict and, per criterion, whether it is met and on what figures."""
    by_packager = {s["packager"]: s for s in summaries}
    nuitka = by_packager.get("nuitka")
    pyinstaller = by_packager.get("pyinstaller")
    criteria: list[dict[str, Any]] = []
    if nuitka is None:
        return {
            "verdict": "undecided",
            "reason": "no Nuitka build was measured in this run; pass --binary dist/nuitka/sidecar-<triple>",
            "criteria": criteria,
        }

    built = nuitka["binary_size_bytes"] is not None
    criteria.append(
        {
            "criterion": "Blocker-level build failure persists after 2 focused debug sessions",
            "met": not built,
            "evidence": (
                f"the Nuitka build exists ({nuitka['binary_size_bytes'] / 1e6:.1f} MB, built in "
                f"{nuitka['build_seconds'] or '?'} s per its manifest)"
                if built
                else "no Nuitka binary at the given path"
            ),
        }
    )
    unstable = {k: v for k, v in nuitka["failures"].items()}
    criteria.append(
        {
            "criterion": "Runtime launch instability remains unresolved after a reproducible minimal case",
            "met": bool(unstable),
            "evidence": (
                f"{nuitka['ok']}/{nuitka['launches']} Nuitka launches passed every check"
                + (f"; failures: {unstable}" if unstable else "")
            ),
        }
    )
    rate = nuitka["handshake_failure_rate"] or 0.0
    enough = nuitka["launches"] >= MIN_LAUNCHES
    criteria.append(
        {
            "criterion": "Binary fails READY handshake reliability target (>10% failure over 20 launches)",
            "met": rate > HANDSHAKE_FAILURE_LIMIT,
            "conclusive": enough,
            "evidence": f"{100 * rate:.1f} % handshake failures ({nuitka['handshake_failures']}/{nuitka['launches']} launches)"
            + ("" if enough else f"; fewer than {MIN_LAUNCHES} launches, so not conclusive"),
        }
    )
    criteria.append(
        {
            "criterion": "Packaging complexity/time threatens Milestone 0 timeline by >2 working days",
            "met": None,
            "evidence": "a schedule judgement, not measurable by the harness; build times for reference: "
            f"Nuitka {nuitka['build_seconds'] or '?'} s"
            + (f", PyInstaller {pyinstaller['build_seconds'] or '?'} s" if pyinstaller else ""),
        }
    )
    met = [c for c in criteria if c["met"]]
    if not met:
        verdict = "nuitka"
        reason = "no fallback criterion is met: Nuitka stays the primary packager"
    elif pyinstaller is not None and not pyinstaller["failures"] and pyinstaller["binary_size_bytes"] is not None:
        verdict = "pyinstaller"
        reason = (
            "fallback criteria met ("
            + "; ".join(c["criterion"] for c in met)
            + "): switch to PyInstaller for Milestone 0"
        )
    else:
        verdict = "neither"
        reason = "fallback criteria met for Nuitka and PyInstaller was not measured or also failed: fix before shipping"
    return {"verdict": verdict, "reason": reason, "criteria": criteria}


def render(decision: dict[str, Any], document: dict[str, Any], report_dir: str) -> str:
    """docs/packaging-decision.md."""
    summaries = {s["packager"]: s for s in document["summary"]}
    lines = [
        "# Packaging decision (seed 004, section 4)",
        "",
        "Written by `python -m sidecar_harness` from a real run; rerun it to refresh.",
        "",
        f"- Run: {document['generated_at']}, {document['machine']['platform']}, {document['machine']['cpus']} CPUs",
        f"- Command: `{document['command']}`",
        f"- Full report: `{report_dir}/report.md` (and report.json, latency.png)",
        "",
        f"## Verdict: {decision['verdict']}",
        "",
        decision["reason"] + ".",
        "",
        "## Fallback criteria",
        "",
        "| criterion | met | evidence |",
        "| --- | --- | --- |",
    ]
    for c in decision["criteria"]:
        met = "n/a (judgement)" if c["met"] is None else ("**yes**" if c["met"] else "no")
        if c.get("conclusive") is False:
            met += " (inconclusive)"
        lines.append(f"| {c['criterion']} | {met} | {c['evidence']} |")
    lines += [
        "",
        "## Side by side (the figures the verdict used)",
        "",
        "| | " + " | ".join(summaries) + " |",
        "| --- |" + " --- |" * len(summaries),
    ]

    def row(label: str, cell) -> None:  # type: ignore[no-untyped-def]
        lines.append(f"| {label} | " + " | ".join(cell(s) for s in summaries.values()) + " |")

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f} ms"

    row(
        "launch -> READY p50 / p95 / max",
        lambda s: (
            f"{ms(s['launch_to_ready_ms']['p50'])} / {ms(s['launch_to_ready_ms']['p95'])} / {ms(s['launch_to_ready_ms']['max'])}"
        ),
    )
    row("first (cold) launch -> READY", lambda s: ms(s["first_launch_to_ready_ms"]))
    row("binary size", lambda s: "-" if s["binary_size_bytes"] is None else f"{s['binary_size_bytes'] / 1e6:.1f} MB")
    row("launch reliability", lambda s: f"{s['ok']}/{s['launches']} ok")
    row("READY handshake failures", lambda s: f"{s['handshake_failures']}/{s['launches']}")
    row(
        "peak RSS p50",
        lambda s: "-" if s["peak_rss_bytes"]["p50"] is None else f"{s['peak_rss_bytes']['p50'] / 1e6:.0f} MB",
    )
    row(
        "integration",
        lambda s: (
            "one process, needs a Python on the machine"
            if s["packager"] == "source"
            else (
                "two processes (bootstrap + child); the sidecar watches its parent"
                if s["two_processes"]
                else "one process"
            )
        ),
    )
    return "\n".join(lines) + "\n"
