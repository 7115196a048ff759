"""What is being launched: a built binary (with its build manifest) or the source."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Build:
    """One thing to launch.

    name: the column name in the report (``nuitka``, ``pyinstaller``, ``source``, ...).
    command: the argv that starts it (without per-launch arguments).
    binary: the binary file, or None for the source.
    manifest: the build's manifest.json (empty when there is none).
    """

    name: str
    command: list[str]
    binary: Path | None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int | None:
        """The binary's size on disk, if it exists."""
        if self.binary is None or not self.binary.exists():
            return None
        return self.binary.stat().st_size

    @property
    def packager(self) -> str:
        """nuitka, pyinstaller, source, or unknown."""
        if self.binary is None:
            return "source"
        return str(self.manifest.get("packager", "unknown"))


def source_build() -> Build:
    """``python -m sidecar`` with the harness's own interpreter."""
    return Build(name="source", command=[sys.executable, "-m", "sidecar"], binary=None)


def binary_build(spec: str) -> Build:
    """A ``--binary`` argument: ``PATH`` or ``NAME=PATH``.

    The name defaults to the manifest's packager, else the parent folder
    (``dist/nuitka/...`` -> ``nuitka``). A path that does not exist is kept:
    launching it is how the harness reports "missing binary".
    """
    name, sep, path_text = spec.partition("=")
    if not sep:
        name, path_text = "", spec
    path = Path(path_text).expanduser()
    manifest = read_manifest(path)
    if not name:
        name = str(manifest.get("packager") or path.parent.name or path.name)
    command_path = str(path if path.is_absolute() or os.sep in path_text else Path.cwd() / path)
    return Build(name=name, command=[command_path], binary=path, manifest=manifest)


def read_manifest(binary: Path) -> dict[str, Any]:
    """The manifest.json written by scripts/build-*.sh beside the binary, or {}."""
    candidate = binary.parent / "manifest.json"
    try:
        data = json.loads(candidate.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def unique_names(builds: list[Build]) -> list[Build]:
    """Make report column names unique (``nuitka``, ``nuitka-2``)."""
    seen: dict[str, int] = {}
    out = []
    for build in builds:
        count = seen.get(build.name, 0) + 1
        seen[build.name] = count
        if count > 1:
            build = Build(f"{build.name}-{count}", build.command, build.binary, build.manifest)
        out.append(build)
    return out
