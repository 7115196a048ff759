"""A last line of defence: end the process hard when a shutdown overruns.

Armed when a shutdown starts (and by the parent watch the moment the
launcher dies), it is a daemon timer thread, so it fires even if the event
loop is stuck in a blocking call.
"""

from __future__ import annotations

import os
import threading

from sidecar.daemon import exit_codes


def arm(seconds: float, why: str) -> threading.Timer:
    """Exit with status FORCED unless the process has ended within ``seconds``."""

    def expire() -> None:
        line = f'{{"level":"error","msg":"shutdown deadline passed; exiting hard","why":"{why}"}}\n'
        os.write(2, line.encode())
        os._exit(exit_codes.FORCED)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer
