"""``system.*``: ping, status, shutdown."""

from __future__ import annotations

import os
import time

import msgspec
from msgspec import Struct

from sidecar._version import PROTOCOL_VERSION, SIDECAR_NAME, __version__
from sidecar.api.context import Ctx
from sidecar.engine.engine import StateReset
from sidecar.engine.status import WorkerCounts
from sidecar.rpc.registry import Registry
from sidecar.schedules.messages import SchedulerFigures


class PingResult(Struct):
    """pong: always true. ts: the sidecar's wall clock, seconds since the epoch."""

    pong: bool
    ts: float


class InFlightRequest(Struct):
    """id: the request id. method: its method. elapsed_ms: time since it started."""

    id: int | str | float | None
    method: str
    elapsed_ms: float


class StatusResult(Struct):
    """A snapshot of the running sidecar.

    name, version, protocol: what BOOT announced. pid: the Python process.
    uptime_ms: since start. paths: data_dir, logs_dir, cache_dir.
    inflight: the requests being handled right now (this one excluded).
    parent_watch: how the launcher's death is detected on this platform.
    engine_started: false until the first engine method ran. queue_depth: jobs waiting.
    workers: active and idle job workers. jobs_by_status: job counts per status (empty
    before the engine started). duckdb_bytes: engine.duckdb plus its WAL on disk.
    rss_bytes: resident memory of the process. state_reset: set when a damaged state store was moved
    aside and replaced by a fresh one in this run (where it went, why, what was lost).
    scheduler: running, schedules, enabled, next_due_at (the earliest next due time).
    """

    name: str
    version: str
    protocol: int
    pid: int
    ppid: int
    uptime_ms: int
    paths: dict[str, str]
    inflight: list[InFlightRequest]
    parent_watch: str
    engine_started: bool = False
    queue_depth: int = 0
    workers: WorkerCounts = msgspec.field(default_factory=WorkerCounts)
    jobs_by_status: dict[str, int] = {}
    duckdb_bytes: int = 0
    rss_bytes: int | None = None
    state_reset: StateReset | None = None
    scheduler: SchedulerFigures = msgspec.field(default_factory=SchedulerFigures)


class ShutdownResult(Struct):
    """ok: true; the SHUTDOWN line follows once in-flight requests are drained."""

    ok: bool


def register_system_methods(registry: Registry) -> None:
    """Add system.ping, system.status and system.shutdown to ``registry``; declare engine.state_reset."""
    registry.notification("engine.state_reset", StateReset)

    @registry.method("system.ping")
    def ping(ctx: Ctx) -> PingResult:
        """Answer at once: a liveness probe that never waits behind other work."""
        return PingResult(pong=True, ts=time.time())

    @registry.method("system.status")
    def status(ctx: Ctx) -> StatusResult:
        """Name, version, pid, uptime, protocol version, data paths, in-flight requests, engine figures."""
        app = ctx.app
        now = time.monotonic()
        figures = app.engine.figures()
        return StatusResult(
            name=SIDECAR_NAME,
            version=__version__,
            protocol=PROTOCOL_VERSION,
            pid=os.getpid(),
            ppid=os.getppid(),
            uptime_ms=app.lifecycle.uptime_ms(),
            paths=app.paths.as_dict(),
            inflight=[
                InFlightRequest(id=entry.id_key, method=entry.method, elapsed_ms=round((now - entry.started) * 1000, 3))
                for entry in ctx.dispatcher.inflight()
            ],
            parent_watch=app.parent_watch.mechanism,
            engine_started=figures.engine_started,
            queue_depth=figures.queue_depth,
            workers=figures.workers,
            jobs_by_status=figures.jobs_by_status,
            duckdb_bytes=figures.duckdb_bytes,
            rss_bytes=figures.rss_bytes,
            state_reset=app.engine.state_reset,
            scheduler=figures.scheduler,
        )

    @registry.method("system.shutdown")
    def shutdown(ctx: Ctx) -> ShutdownResult:
        """Stop gracefully: answer, drain in-flight requests, write SHUTDOWN reason=normal, exit 0."""
        ctx.app.lifecycle.request_shutdown("normal")
        return ShutdownResult(ok=True)
