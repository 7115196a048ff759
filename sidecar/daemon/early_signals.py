"""Hold the stop signals from BOOT until the event loop can receive them.

A SIGTERM during startup (or the SIGINT a onefile bootstrap forwards) must
still end in a clean ``SHUTDOWN reason=signal``. Two layers, because either
alone has a gap:

* ``pthread_sigmask`` blocks them in the main thread, so they stay pending
  and reach the loop's receiver once it is installed;
* but the mask is per thread, and a Nuitka onefile child already runs a
  monitor thread that the kernel may pick for a process-directed signal
  (issue-log 0016). Python-level handlers always run in the main thread, so
  a recording handler catches those: it only notes the number (no I/O, no
  exception), and the server honours it once its receiver is up.
"""

from __future__ import annotations

import signal
from typing import Final

STOP_SIGNALS: Final = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, n))
_received: list[int] = []


def _record(signum: int, frame: object) -> None:
    _received.append(signum)


def hold() -> None:
    """From now on, stop signals are recorded or kept pending, never acted on."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _record)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def release() -> list[int]:
    """Call once the loop's receiver is installed: unblock, and return what was recorded."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    received, _received[:] = list(_received), []
    return received
