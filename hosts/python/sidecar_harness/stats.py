"""Percentiles for small samples (linear interpolation, numpy's default method)."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of ``values``, or None when empty."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    position = (len(data) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and max of ``values``."""
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values) if values else None}
