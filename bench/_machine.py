"""Where and with what a run happened: the ``"machine"`` entry at the top of every result."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (the repository first on sys.path: the version quoted is the source tree's)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Where and with what a run happened: quoted at the top of every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    from sidecar._version import __version__

    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "os": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": mem_gib,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "versions": {
            "sidecar": __version__,
            **{
                d: _version(d)
                for d in (
                    "duckdb",
                    "msgspec",
                    "anyio",
                    "fastapi",
                    "uvicorn",
                    "uvloop",
                    "httptools",
                    "mcp",
                    "pydantic",
                    "nuitka",
                    "pyinstaller",
                )
            },
        },
    }
