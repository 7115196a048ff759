"""Wall-clock timestamps as the engine writes them: ISO 8601, UTC, milliseconds.

One format everywhere (job records, the run ledger, reports) so hosts and a
later sync compare them as plain strings: ``2025-01-02T03:04:05.678Z``.
"""

from __future__ import annotations

import time


def utc_now() -> str:
    """The current time as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return utc_iso(time.time())


def utc_iso(seconds: float) -> str:
    """``seconds`` since the epoch as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    if millis == 1000:  # rounding carried into the next second
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
