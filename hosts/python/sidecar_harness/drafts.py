"""Draft issue-log entries for failed launches, in the platform issue template.

The template: platform, arch and versions, severity, symptoms, reproduction,
expected vs actual, diagnostics, suspected cause, resolution and follow-ups.
"""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

from sidecar_harness.builds import Build
from sidecar_harness.cycle import LaunchRecord

_SEVERITY = {
    "missing_binary": "high",
    "exit_before_ready": "blocker",
    "ready_timeout": "blocker",
    "malformed_stdout": "high",
    "duplicate_ready": "medium",
    "rpc_error": "high",
    "unclean_shutdown": "medium",
    "orphan": "high",
}

_EXPECTED = {
    "graceful": "READY once, system.ping/system.status answered, system.shutdown -> SHUTDOWN reason=normal, exit 0, no process left",
    "kill": "after SIGKILL of the bootstrap the Python child is gone within 1.5 s",
    "term": "after SIGTERM: SHUTDOWN reason=signal, the Python process gone within 2 s, exit 0 within the hosts' 3 s SIGTERM step",
}


def write_drafts(directory: Path, build: Build, failures: list[LaunchRecord], command_line: str) -> list[Path]:
    """One draft per distinct failure class of a build (with the count); returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    by_class: dict[str, list[LaunchRecord]] = {}
    for record in failures:
        by_class.setdefault(record.failure or "unknown", []).append(record)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for failure, records in by_class.items():
        first = records[0]
        path = directory / f"{stamp}-{_slug(build.name)}-{failure}.md"
        path.write_text(_render(build, failure, first, len(records), command_line))
        written.append(path)
    return written


def _render(build: Build, failure: str, record: LaunchRecord, count: int, command_line: str) -> str:
    manifest = build.manifest
    packager_version = manifest.get("packager_version", "n/a")
    stdout = "\n".join(record.stdout_excerpt[:10]) or "(none)"
    stderr = "\n".join(record.stderr_tail[-15:]) or "(none)"
    violations = "\n".join(record.violations[:5])
    return f"""# Issue DRAFT: {build.name}: {failure} ({count} launch{"es" if count != 1 else ""})

<!-- Drafted by python -m sidecar_harness. Review, complete the hypothesis and
     resolution, then move it to issue-log/NNNN-short-title.md and index it. -->

- Date: {record.started_at[:10]}
- Reporter: launch harness (draft)
- Platform: {platform.system()} ({platform.platform()})
- Arch: {platform.machine()}
- Python: {manifest.get("python_version", platform.python_version())}
- Nuitka: {packager_version if build.packager == "nuitka" else "n/a"}
- PyInstaller: {packager_version if build.packager == "pyinstaller" else "n/a"}
- Tauri: n/a (harness run, no Tauri runtime)
- Severity: {_SEVERITY.get(failure, "medium")}
- Status: open

## Symptoms
{record.message}

{count} of the run's launches of `{build.name}` failed this way (first: launch #{record.index}, a {record.kind} cycle).

## Reproduction
1. `{command_line}`
2. Look at launch #{record.index} ({record.kind}) of `{build.name}` in report.json.

## Expected vs Actual
- Expected: {_EXPECTED[record.kind]}
- Actual: {failure}: {record.message}

## Diagnostics
- Build command: `{manifest.get("command_line", "n/a (no manifest.json beside the binary)")}`
- Launch command/path: `{" ".join(build.command)} --data-dir <fresh temp dir> --heartbeat-interval 0`
- Exit code: {record.exit_status}
- launch -> BOOT: {record.launch_to_boot_ms} ms; launch -> READY: {record.launch_to_ready_ms} ms; SHUTDOWN reason: {record.shutdown_reason}
- Leftover pids: {record.leftover_pids or "none"}
- Stdout excerpt:
```
{stdout}
```
- Stderr excerpt:
```
{stderr}
```
{("- Protocol violations:" + chr(10) + "```" + chr(10) + violations + chr(10) + "```") if violations else ""}

## Suspected Cause
<hypothesis>

## Resolution / Mitigation
<what fixed it or temporary workaround>

## Follow-up Actions
- [ ] <owner + task>
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "build"
