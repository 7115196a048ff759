"""DuckDB's threads run below the protocol thread's priority (Linux).

With more busy DuckDB threads than cores (16 jobs on 2 cores), the kernel
shares the CPU between them and the event loop's thread alike, and the loop's
wake-ups wait behind them: bench/scaling.py measured a ping p95 of ~11 ms with
16 jobs running, while the loop itself sat idle in epoll. Lowering the
priority of every thread that runs DuckDB (the threads DuckDB starts when the
database opens, and the worker threads that call into it) keeps the loop
answering, cancelling and notifying promptly; DuckDB still gets every cycle the
loop does not use.

Jobs go further: their work runs in threads of their own under SCHED_IDLE
(:func:`idle_current_thread`, used by ``QueryHandle(background=True)``).

Linux only: there a thread's nice value is its own (``setpriority`` with a
thread id). Elsewhere these functions do nothing. Raising a nice value needs
no privilege; nothing here ever lowers one.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Final

log = logging.getLogger("sidecar.engine")

#: The nice value of threads that run DuckDB (the protocol thread keeps the process's own, usually 0).
ENGINE_NICE: Final = 10
_LINUX: Final = sys.platform.startswith("linux")
_lowered = threading.local()


def thread_ids() -> set[int]:
    """Native ids of this process's threads (empty where the OS does not list them)."""
    if not _LINUX:
        return set()
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def lower(tid: int) -> None:
    """Give thread ``tid`` the engine's nice value, unless it is already at least that low."""
    if not _LINUX:
        return
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < ENGINE_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, ENGINE_NICE)
    except OSError as exc:  # the thread ended meanwhile, or a sandbox forbids it: only speed is at stake
        log.debug("cannot lower a thread's priority", extra={"ctx": {"tid": tid, "error": str(exc)}})


def lower_current_thread() -> None:
    """Lower the calling thread once (worker threads call this before they run DuckDB work)."""
    if _LINUX and not getattr(_lowered, "done", False):
        lower(threading.get_native_id())
        _lowered.done = True


def idle_current_thread() -> None:
    """Put the calling thread under SCHED_IDLE: it runs only when no other thread wants the CPU.

    For threads that run jobs (and DuckDB's own pool threads, which run their
    queries' tasks): nice 10 still left 16 busy job threads taking turns with the
    event loop's, and a ping's p95 at ~8 ms on 2 cores (bench/RESULTS.md, section
    5); an idle-class thread yields to any normal one at once. The calling thread
    cannot leave the class again without privilege, so only threads that run
    nothing else are put there. Linux only; where the kernel refuses, nice 10.
    """
    if not _LINUX:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        _lowered.done = True
    except (OSError, AttributeError) as exc:
        log.debug("cannot make a thread idle-class", extra={"ctx": {"error": str(exc)}})
        lower_current_thread()


def lower_threads_started_since(before: set[int]) -> None:
    """Lower every thread that did not exist in ``before`` (those DuckDB started), and the caller."""
    for tid in thread_ids() - before:
        lower(tid)
    lower_current_thread()
