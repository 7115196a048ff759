"""The engine's figures in ``system.status`` (cheap: no I/O beyond a stat, never waits).

system.status answers inline, so nothing here may block: before the engine
was first used the figures come from the file system alone (the DuckDB
file's size, the process's RSS) and ``engine_started`` is false.
"""

import os
import sys
from pathlib import Path

import msgspec
from msgspec import Struct

from sidecar.database.files import database_bytes
from sidecar.schedules.messages import SchedulerFigures


class WorkerCounts(Struct):
    """active: workers running a job. idle: workers free (the pool's size minus active)."""

    active: int = 0
    idle: int = 0


class EngineFigures(Struct):
    """engine_started: false until the first engine method ran (no DuckDB, no job store yet).
    queue_depth: jobs waiting. workers: active and idle. jobs_by_status: job counts per status
    (empty before the engine started). duckdb_bytes: engine.duckdb plus its WAL on disk.
    rss_bytes: resident memory of the process (peak RSS where the current one is not available).
    scheduler: the schedules (not running, none counted, before the engine started).
    """

    engine_started: bool
    queue_depth: int
    workers: WorkerCounts
    jobs_by_status: dict[str, int]
    duckdb_bytes: int
    rss_bytes: int | None
    scheduler: SchedulerFigures = msgspec.field(default_factory=SchedulerFigures)


def idle_figures(data_dir: Path) -> EngineFigures:
    """The figures before the engine started: from the file system alone."""
    return EngineFigures(
        engine_started=False,
        queue_depth=0,
        workers=WorkerCounts(),
        jobs_by_status={},
        duckdb_bytes=database_bytes(data_dir),
        rss_bytes=rss_bytes(),
    )


def rss_bytes() -> int | None:
    """Resident set size of this process in bytes, or None where it cannot be read."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/statm", "rb") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None
    if sys.platform == "win32":
        return _windows_rss()
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # macOS counts bytes, others KiB
    except (ImportError, OSError):
        return None


def _windows_rss() -> int | None:
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):
        _fields_ = [
            ("cb", wintypes.DWORD),
            ("PageFaultCount", wintypes.DWORD),
            ("PeakWorkingSetSize", ctypes.c_size_t),
            ("WorkingSetSize", ctypes.c_size_t),
            ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
            ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
            ("PagefileUsage", ctypes.c_size_t),
            ("PeakPagefileUsage", ctypes.c_size_t),
        ]

    counters = Counters()
    counters.cb = ctypes.sizeof(Counters)
    # ctypes.windll exists only on Windows; mypy checks as Linux, hence the two ignores.
    process = ctypes.windll.kernel32.GetCurrentProcess()  # type: ignore[attr-defined]  # Windows only
    if not ctypes.windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb):  # type: ignore[attr-defined]  # Windows only
        return None
    return int(counters.WorkingSetSize)
