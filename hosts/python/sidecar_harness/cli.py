"""Command line of the launch harness.

    python -m sidecar_harness --binary PATH [--binary NAME=PATH ...] [--source]
                              [--launches N] [--kinds graceful,kill,term] [--kill] [--term] --out DIR
    python -m sidecar_harness checklist [--report DIR/report.json] [--out docs/milestone-0.md]

Progress goes to stderr, one line per launch; the finished report.md is
printed to stdout. The exit status is 1 when any launch failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import msgspec

from sidecar_harness import decision as decision_mod
from sidecar_harness.builds import Build, binary_build, source_build, unique_names
from sidecar_harness.cycle import CYCLE_KINDS, CycleKind, CycleOptions, LaunchRecord, run_cycle
from sidecar_harness.drafts import write_drafts
from sidecar_harness.report import (
    harness_command_line,
    machine_info,
    render_markdown,
    summarise,
    write_json,
    write_plot,
)

REPO = Path(__file__).resolve().parents[3]  # hosts/python/sidecar_harness/this.py
DEFAULT_LAUNCHES = 20  # the sample the fallback criterion is stated over (>10% failed handshakes in 20 launches)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sidecar_harness",
        description="Launch sidecar builds many times; measure and judge each launch (seed 004). "
        "Subcommand: 'checklist' writes docs/milestone-0.md.",
    )
    parser.add_argument(
        "--binary", action="append", default=[], metavar="[NAME=]PATH", help="a built sidecar (repeatable)"
    )
    parser.add_argument("--source", action="store_true", help="also launch 'python -m sidecar'")
    parser.add_argument(
        "--launches",
        type=int,
        default=DEFAULT_LAUNCHES,
        metavar="N",
        help="launches per cycle kind per build (default %(default)s)",
    )
    parser.add_argument(
        "--kinds",
        type=_kinds,
        default=None,
        metavar="K[,K...]",
        help=f"the cycle kinds to run, from {','.join(CYCLE_KINDS)} (default graceful; --kill and --term add theirs)",
    )
    parser.add_argument(
        "--kill",
        action="store_true",
        help="add N cycles that SIGKILL the bootstrap and check by pid that the Python child is gone",
    )
    parser.add_argument(
        "--term", action="store_true", help="add N cycles that SIGTERM and expect SHUTDOWN reason=signal"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where report.json, report.md, latency.png go"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=15.0, metavar="S", help="READY timeout per launch (default %(default)s)"
    )
    parser.add_argument(
        "--rpc-timeout", type=float, default=5.0, metavar="S", help="per-call timeout (default %(default)s)"
    )
    parser.add_argument(
        "--decision",
        type=Path,
        default=REPO / "docs" / "packaging-decision.md",
        metavar="PATH",
        help="where the fallback verdict is written (default docs/packaging-decision.md); --no-decision skips it",
    )
    parser.add_argument("--no-decision", action="store_true", help="do not write the packaging decision")
    parser.add_argument(
        "--drafts-dir",
        type=Path,
        default=REPO / "issue-log" / "drafts",
        metavar="DIR",
        help="issue-log drafts for failures",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print report.md at the end")
    return parser


def _kinds(text: str) -> list[CycleKind]:
    """``--kinds``: a comma-separated subset of the cycle kinds."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CYCLE_KINDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(CYCLE_KINDS)} (got {text!r})")
    return [kind for kind in CYCLE_KINDS if kind in names]


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["checklist"]:
        from sidecar_harness.checklist import main as checklist_main

        return checklist_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.launches < 1:
        build_parser().error("--launches must be at least 1")
    builds = [binary_build(spec) for spec in args.binary]
    if args.source:
        builds.append(source_build())
    if not builds:
        build_parser().error("nothing to launch: give --binary PATH and/or --source")
    builds = unique_names(builds)
    wanted: set[CycleKind] = set(args.kinds or ["graceful"])
    if args.kill:
        wanted.add("kill")
    if args.term:
        wanted.add("term")
    kinds = [kind for kind in CYCLE_KINDS if kind in wanted]
    options = CycleOptions(ready_timeout=args.ready_timeout, rpc_timeout=args.rpc_timeout)
    document = anyio.run(_run_all, builds, kinds, args.launches, options)
    return _write_outputs(args, builds, kinds, document)


async def _run_all(builds: list[Build], kinds: list[CycleKind], launches: int, options: CycleOptions) -> dict[str, Any]:
    records: list[LaunchRecord] = []
    total = len(builds) * len(kinds) * launches
    done = 0
    started = time.monotonic()
    # Round robin (launch i of every kind and build, then i+1) so drift on a busy machine
    # hits all kinds and builds alike.
    for index in range(1, launches + 1):
        for kind in kinds:
            for build in builds:
                record = await run_cycle(build, index, kind, options)
                records.append(record)
                done += 1
                _progress(done, total, record)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": harness_command_line(),
        "machine": machine_info(),
        "options": {
            "launches": launches,
            "kinds": kinds,
            "ready_timeout_s": options.ready_timeout,
            "rpc_timeout_s": options.rpc_timeout,
            "wall_seconds": round(time.monotonic() - started, 1),
        },
        "builds": [
            {
                "name": b.name,
                "command": b.command,
                "binary": str(b.binary) if b.binary else None,
                "size_bytes": b.size_bytes,
                "manifest": b.manifest,
            }
            for b in builds
        ],
        "summary": [summarise(b, records) for b in builds],
        "launches": [msgspec.to_builtins(r) for r in records],
    }


def _progress(done: int, total: int, record: LaunchRecord) -> None:
    ready = "-" if record.launch_to_ready_ms is None else f"{record.launch_to_ready_ms:.0f} ms"
    status = "ok  " if record.ok else f"FAIL {record.failure}: {record.message}"
    print(
        f"[{done:>4}/{total}] {record.build:<12} {record.kind:<8} #{record.index:<3} READY {ready:>8}  {status}",
        file=sys.stderr,
        flush=True,
    )


def _write_outputs(
    args: argparse.Namespace, builds: list[Build], kinds: list[CycleKind], document: dict[str, Any]
) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    verdict = decision_mod.evaluate(document["summary"])
    document["decision"] = verdict
    write_json(out / "report.json", document)
    markdown = render_markdown(document)
    (out / "report.md").write_text(markdown)
    write_plot(out / "latency.png", document)
    if not args.no_decision and verdict["verdict"] != "undecided":
        args.decision.parent.mkdir(parents=True, exist_ok=True)
        args.decision.write_text(decision_mod.render(verdict, document, _display_path(out)))
        print(f"harness: packaging decision -> {args.decision} ({verdict['verdict']})", file=sys.stderr)
    failed = [LaunchRecord(**launch) for launch in document["launches"] if not launch["ok"]]
    for build in builds:
        mine = [r for r in failed if r.build == build.name]
        if mine:
            for path in write_drafts(args.drafts_dir, build, mine, document["command"]):
                print(f"harness: drafted {path}", file=sys.stderr)
    print(f"harness: wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'latency.png'}", file=sys.stderr)
    if not args.quiet:
        sys.stdout.write(markdown)
    return 1 if failed else 0


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)
