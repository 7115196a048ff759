"""A job a worker holds right now."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio


@dataclass(eq=False)
class RunningJob:
    """A job a worker holds: its cancel scope, why it was cancelled, when it is done."""

    job_id: str
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    reason: str | None = None  # "user" (jobs.cancel) or "shutdown"

    def cancel(self, reason: str) -> None:
        """Stop the job; the first reason wins."""
        self.reason = self.reason or reason
        self.scope.cancel()
