"""The process's last step: an exit that never waits for a thread stuck in a blocking call.

CPython's exit joins every non-daemon thread still running (``threading._shutdown``),
and the worker threads of ``anyio.to_thread.run_sync`` are non-daemon threads.
``abandon_on_cancel=True`` only stops the *awaiting*: the thread runs on in whatever
blocked it (a flush on a saturated disk, a DuckDB statement that ignored
``interrupt()``, a stdin read where the reader is a thread, as on Windows). So a call
the shutdown sequence gave up on used to keep the finished process alive until the
watchdog ended it with status 5, seconds after SHUTDOWN (issue-log 0040).

:func:`finish` runs once the sequence is over (SHUTDOWN written, the logs closed or
given up on, the data-dir lock released). It gives the remaining threads a short
moment (idle anyio workers end as soon as the event loop has finished) and, if one
is still running or something noted itself unfinished (the log writer, blocked on
the disk, whose handler lock ``logging.shutdown`` would wait for), ends the process
at once with the status the run decided, skipping the interpreter's teardown:
nothing of ours is left to tear down, and what the stuck thread was doing is safe
to cut short (both databases replay their write-ahead logs at the next start).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Final

from sidecar.daemon.logs import stderr_line

#: How long the end of the process waits, in total, for threads that are still running.
THREAD_EXIT_WAIT_S: Final = 0.5
_unfinished: list[str] = []  # what of ours could not finish, so the teardown would wait for it


def note_unfinished(what: str) -> None:
    """Record that ``what`` could not finish (e.g. the log writer, blocked on the disk):
    :func:`finish` then ends the process without the interpreter's teardown."""
    _unfinished.append(what)


def threads_still_running(timeout: float) -> list[threading.Thread]:
    """Non-daemon threads other than the caller still alive after waiting up to ``timeout`` in all."""
    deadline = time.monotonic() + timeout
    me = threading.current_thread()
    left: list[threading.Thread] = []
    for thread in threading.enumerate():
        if thread is me or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(thread)
    return left


def finish(status: int) -> int:
    """Return ``status`` for a normal exit, or end the process now if a thread would hold it."""
    left = threads_still_running(THREAD_EXIT_WAIT_S)
    if not left and not _unfinished:
        return status
    with contextlib.suppress(OSError, ValueError):  # stderr may be closed: the status still holds
        stderr_line(
            "warning",
            "exiting without waiting for threads still in a blocking call",
            threads=sorted(thread.name for thread in left),
            unfinished=list(_unfinished),
            exit_status=status,
        )
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(status)
