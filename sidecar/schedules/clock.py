"""The scheduler's two clocks, and how a jump between them is noticed.

The scheduler sleeps on the monotonic clock (anyio's), in slices of at most
``MAX_SLEEP_S``, and reads the wall clock after each slice, because due times are wall
times and neither clock alone tells what happened:

* a suspend: on Linux and macOS the monotonic clock stops while the machine sleeps and the
  wall clock does not, so the wall clock advanced far more than the monotonic one;
  where the monotonic clock counts the sleep (Windows) the slice simply ended far later
  than planned;
* a manual change or an NTP step forward: the wall clock advanced more than the monotonic;
* a change backward: the wall clock advanced less (or went back);
* a process that was held up (stopped, swapping): the slice ended late, like a suspend.

Each of the forward cases is a **forward jump** (the scheduler treats its due times like
offline time, reason ``asleep``); a backward one moves interval schedules with the clock.
Differences up to ``JUMP_S`` are ordinary scheduling noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Protocol

import anyio

#: The longest the scheduler sleeps before it looks at the wall clock again.
MAX_SLEEP_S: Final = 5.0
#: How far the clocks (or a slice's end) may drift apart before it counts as a jump.
JUMP_S: Final = 5.0


class Clock(Protocol):
    """The clocks the scheduler reads (the system's, or a test's)."""

    def wall(self) -> float:
        """Seconds since the epoch (the wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float, wake: anyio.Event) -> None:
        """Return after ``seconds`` on the monotonic clock, or once ``wake`` is set."""
        ...


class SystemClock:
    """The process's own clocks: ``time.time``, ``time.monotonic`` and anyio's sleep."""

    def wall(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """``time.monotonic``: the clock asyncio's timers, and so the sleep below, run on."""
        return time.monotonic()

    async def sleep(self, seconds: float, wake: anyio.Event) -> None:
        """Sleep on the event loop's monotonic clock, ended early by ``wake``."""
        with anyio.move_on_after(seconds):
            await wake.wait()


@dataclass(frozen=True)
class Jump:
    """What one look at the clocks found. forward: due times since the last look were missed
    (asleep). backward_ms: how far the wall clock was set back (0 when it was not)."""

    forward: bool = False
    backward_ms: int = 0


class ClockWatch:
    """Compares each look at the clocks with the one before (one per scheduler slice)."""

    def __init__(self, wall: float, monotonic: float) -> None:
        self._wall = wall
        self._monotonic = monotonic

    def reset(self, wall: float, monotonic: float) -> None:
        """A new baseline: the moment a slice starts."""
        self._wall, self._monotonic = wall, monotonic

    def check(self, wall: float, monotonic: float, planned_s: float) -> Jump:
        """After a slice planned to last ``planned_s``: did the clocks jump? Also the new baseline."""
        wall_elapsed = wall - self._wall
        slept = monotonic - self._monotonic
        self.reset(wall, monotonic)
        drift = wall_elapsed - slept
        if drift > JUMP_S or slept - planned_s > JUMP_S:
            return Jump(forward=True)
        if drift < -JUMP_S:
            return Jump(backward_ms=round(-drift * 1000))
        return Jump()
