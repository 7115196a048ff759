"""The statistics every bench result quotes: medians, tails and ratios, never a verdict on a speed.

The scripts measure their subjects side by side in one run and report these
figures; whether a figure is good enough is for the reader (or a script's own
stated target) to judge.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from sidecar_harness.stats import percentile


def summarize(values: Sequence[float], digits: int = 1) -> dict[str, float | int]:
    """n, p50 (the median), p95, min and max of ``values``."""
    if not values:
        raise ValueError("no samples")
    return {
        "n": len(values),
        "p50": round(statistics.median(values), digits),
        "p95": round(percentile(values, 95) or 0.0, digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def ratio(slower: float | None, faster: float | None) -> float | None:
    """How many times ``faster`` beats ``slower`` (None when either is missing)."""
    if not slower or not faster:
        return None
    return round(slower / faster, 1)
