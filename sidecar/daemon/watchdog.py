"""A last line of defence: end the process hard when a shutdown overruns.

Armed when a shutdown starts (and by the parent watch the moment the
launcher dies), it is a daemon timer thread, so it fires even if the event
loop is stuck in a blocking call.
"""

from __future__ import annotations

import os
import threading
import time

from sidecar.daemon import exit_codes

_first_armed: list[float] = []  # time.monotonic() when the shutdown began


def armed_at() -> float | None:
    """When the first shutdown deadline was armed (``time.monotonic()``), or None."""
    return _first_armed[0] if _first_armed else None


def arm(seconds: float, why: str) -> threading.Timer:
    """Exit with status FORCED unless the process has ended within ``seconds``."""
    if not _first_armed:
        _first_armed.append(time.monotonic())

    def expire() -> None:
        line = f'{{"level":"error","msg":"shutdown deadline passed; exiting hard","why":"{why}"}}\n'
        os.write(2, line.encode())
        os._exit(exit_codes.FORCED)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer
