"""What a process tree uses: resident memory (now and its peak), CPU seconds and threads.

A onefile binary (Nuitka, PyInstaller) runs as a bootstrap and a child that is
the sidecar, so every figure here covers ``pid`` and all its descendants.
"""

from __future__ import annotations

import threading

import psutil


def tree_rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` and its descendants (a onefile bootstrap and its child)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants so far."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_threads(pid: int) -> int | None:
    """Threads of ``pid`` and its descendants."""
    try:
        root = psutil.Process(pid)
        return sum(p.num_threads() for p in [root, *root.children(recursive=True)])
    except psutil.NoSuchProcess:
        return None


class PeakRss:
    """Samples the resident memory of a process tree every few milliseconds while in use."""

    def __init__(self, pid: int, interval_s: float = 0.005) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss_bytes(self.pid)
            if rss:
                self.peak = max(self.peak, rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
