"""The server's life, start to finish: READY, serve, drain, SHUTDOWN.

The shutdown sequence, whatever asked for it (system.shutdown, stdin EOF, a
signal, the launcher's death, a fatal error):

1. stop intake: no more stdin reads, no more heartbeats;
2. drain: in-flight requests get up to DRAIN timeout to answer;
3. cancel what is left: each such request is answered with -32002;
4. shutdown hooks run (the engine closes DuckDB), each bounded;
5. ``SHUTDOWN reason=<r>`` is queued as the very last line;
6. the writer flushes, bounded by FLUSH timeout (a host that stopped
   reading cannot hold us hostage).

A watchdog thread ends the process hard (exit status FORCED) if the whole
sequence overruns its deadline, so no shutdown path can leave a live orphan.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel

from sidecar._version import __version__
from sidecar.api.context import SidecarState
from sidecar.api.errors import translate_error
from sidecar.apps.loader import LoadedApps
from sidecar.common.shutdown import ShutdownReason
from sidecar.daemon import early_signals, startup_gc, watchdog
from sidecar.daemon.config import Config
from sidecar.daemon.lifecycle import Lifecycle, ShutdownHook
from sidecar.daemon.parent_watch import PDEATH_SIGNAL, ParentWatch
from sidecar.daemon.paths import DataPaths
from sidecar.engine.engine import Engine
from sidecar.protocol import ErrorCode, format_lifecycle
from sidecar.rpc.dispatcher import Dispatcher, FrameSink
from sidecar.rpc.registry import Registry
from sidecar.transport.outbox import Outbox
from sidecar.transport.reader import StdinFrames
from sidecar.transport.stdio import FdWriter, ProtocolFds

log = logging.getLogger("sidecar.server")

#: Bound on each shutdown hook (e.g. closing DuckDB with a checkpoint).
HOOK_TIMEOUT_S: Final = 5.0
#: Bound on the final flush of queued lines to stdout.
FLUSH_TIMEOUT_S: Final = 0.5
#: Extra time past drain + hooks + flush before the watchdog ends the process.
WATCHDOG_GRACE_S: Final = 1.0
#: For parent_exit the drain is short: whoever launched us is already gone.
PARENT_EXIT_DRAIN_S: Final = 0.3
#: From the launcher's death to a forced exit if the graceful path is stuck.
PARENT_EXIT_DEADLINE_S: Final = 0.9

#: Runs in the background right after READY (e.g. recovering jobs a previous run left).
StartupHook = Callable[[], Awaitable[None]]


async def serve(
    config: Config,
    paths: DataPaths,
    fds: ProtocolFds,
    registry: Registry,
    started: float,
    launcher_pid: int,
    apps: LoadedApps | None = None,
) -> ShutdownReason:
    """Serve requests until something asks us to stop; returns the shutdown reason.

    ``started`` is the monotonic time the process started; ``launcher_pid`` the
    parent pid read at that moment (so a launcher that died during startup is
    still noticed). The engine's warm-up (recovering what a previous run left)
    starts in the background once READY is written, so it never delays it.
    ``apps``: the loaded app packages (their methods are in ``registry`` already); their
    job types run in the engine's pool, their hooks beside the engine's.
    The method groups ``registry`` deferred (Registry.defer) are registered first thing after READY.
    """
    apps = apps or LoadedApps()
    life = Lifecycle(started=started)
    outbox = Outbox(FdWriter(fds.stdout))
    token = anyio.lowlevel.current_token()
    shutdown_from_thread = _thread_bridge(token, life)

    def parent_lost() -> None:
        watchdog.arm(PARENT_EXIT_DEADLINE_S, "parent_exit")  # before touching the loop, which may be stuck
        shutdown_from_thread("parent_exit")

    watch = ParentWatch(parent_lost, launcher_pid)

    async def notify(method: str, params: Any) -> None:
        await dispatcher.notify(method, params)  # bound below, before anything can notify

    engine = Engine(
        paths, config.app_name, __version__, notify, network=config.allow_network, app_job_types=apps.job_types
    )
    life.hooks.append(engine.close)  # closes whatever part of the engine has started, if any
    state = SidecarState(config=config, paths=paths, lifecycle=life, parent_watch=watch, engine=engine)
    # Hooks run last-added first: the apps' shutdown hooks run before the engine closes.
    life.hooks.extend(functools.partial(hook, state) for hook in reversed(apps.shutdown_hooks))
    dispatcher = Dispatcher(registry, outbox, state, max_inflight=config.max_inflight, translate_error=translate_error)
    after_ready: list[StartupHook] = [functools.partial(_complete_registry, registry), engine.start_if_state_exists]
    after_ready.extend(functools.partial(hook, state) for hook in apps.startup_hooks)
    if os.name == "posix":
        from sidecar.daemon.cache_cleanup import start_after_ready as sweep_old_extractions

        after_ready.append(sweep_old_extractions)

    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        try:
            async with anyio.create_task_group() as background:
                life.background = background
                engine.attach(background)
                async with anyio.create_task_group() as work:
                    drain = await _serve_until_stopped(config, fds, dispatcher, work, life, watch, after_ready)
                    dispatcher.stop_accepting()
                    with anyio.move_on_after(drain):
                        await dispatcher.wait_idle()
                    cancelled = dispatcher.cancel_all(ErrorCode.SHUTTING_DOWN)
                    if cancelled:
                        log.warning("requests cancelled by shutdown", extra={"ctx": {"count": cancelled}})
                await _run_hooks(life.hooks)
                background.cancel_scope.cancel()  # the hooks have stopped what ran there
        except KeyboardInterrupt:
            # Ctrl-C where the loop cannot receive signals (Windows); POSIX signals are held until it can.
            life.reason = life.reason or "signal"
            raise
        except BaseException:
            life.reason = life.reason if life.reason and life.reason != "normal" else "error"
            raise
        finally:
            watch.stop()
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(FLUSH_TIMEOUT_S):
                    await outbox.send(format_lifecycle("SHUTDOWN", reason=life.reason or "error"))
                outbox.close()
                with anyio.move_on_after(FLUSH_TIMEOUT_S) as flush:
                    await outbox.finished.wait()
                if flush.cancelled_caught:
                    log.warning("stdout not drained at shutdown: host stopped reading")
                    tg.cancel_scope.cancel()
    return life.reason or "normal"


async def _serve_until_stopped(
    config: Config,
    fds: ProtocolFds,
    dispatcher: Dispatcher[SidecarState],
    work: anyio.abc.TaskGroup,
    life: Lifecycle,
    watch: ParentWatch,
    after_ready: Sequence[StartupHook],
) -> float:
    """READY, then read requests until a shutdown is asked for; returns the drain budget.

    Signals, the parent watch, the reader and heartbeats all stop before this returns.
    """
    outbox = dispatcher.sink
    background = life.background
    assert background is not None
    async with anyio.create_task_group() as intake:
        await intake.start(_watch_signals, life, watch)
        watch.start()
        if watch.parent_lost():  # died before we could watch it
            life.request_shutdown("parent_exit")
        await outbox.send(format_lifecycle("READY"))
        log.info("ready", extra={"ctx": {"pid": os.getpid(), "parent_watch": watch.mechanism}})
        for hook in after_ready:
            background.start_soon(_run_startup_hook, hook)
        frames = StdinFrames(fds.stdin, config.max_frame_bytes)
        served = anyio.Event()
        intake.start_soon(_read_requests, dispatcher, frames, work, life, served)
        if config.heartbeat_interval > 0:
            intake.start_soon(_heartbeat, outbox, life, config.heartbeat_interval)
        await life.stopping.wait()
        reason = life.reason or "normal"
        drain = PARENT_EXIT_DRAIN_S if reason == "parent_exit" else config.drain_timeout
        watchdog.arm(2 * drain + HOOK_TIMEOUT_S + FLUSH_TIMEOUT_S + WATCHDOG_GRACE_S, reason)
        frames.stop()
        with anyio.move_on_after(drain):  # let it finish dispatching the line in hand
            await served.wait()
        intake.cancel_scope.cancel()
    return drain


async def _read_requests(
    dispatcher: Dispatcher[SidecarState],
    frames: StdinFrames,
    work: anyio.abc.TaskGroup,
    life: Lifecycle,
    served: anyio.Event,
) -> None:
    """Feed stdin's frames to the dispatcher; the host closing stdin is a normal shutdown."""
    try:
        await dispatcher.serve(frames, work)
    finally:
        frames.close()
        served.set()
    if frames.at_eof:
        life.request_shutdown("normal")


def _thread_bridge(token: anyio.lowlevel.EventLoopToken, life: Lifecycle) -> Callable[[ShutdownReason], None]:
    """A function any thread (the loop's own included) can call to request shutdown."""
    loop_thread = threading.get_ident()

    def request(reason: ShutdownReason) -> None:
        if threading.get_ident() == loop_thread:  # e.g. from the PDEATH signal task
            life.request_shutdown(reason)
            return
        try:
            anyio.from_thread.run_sync(life.request_shutdown, reason, token=token)
        except RuntimeError:
            pass  # the loop has already finished: shutdown is under way

    return request


async def _watch_signals(life: Lifecycle, watch: ParentWatch, *, task_status: anyio.abc.TaskStatus[None]) -> None:
    wanted = [signal.SIGTERM, signal.SIGINT]
    if hasattr(signal, "SIGHUP"):
        wanted.append(signal.SIGHUP)
    if PDEATH_SIGNAL is not None:
        wanted.append(PDEATH_SIGNAL)
    with anyio.open_signal_receiver(*wanted) as signals:
        # cli.py held these since BOOT: pending ones arrive below, recorded ones count now.
        if early_signals.release():
            life.request_shutdown("signal")
        task_status.started()
        async for signum in signals:
            if signum == PDEATH_SIGNAL:
                # The kernel also fires this when only the spawning *thread* exits.
                if watch.parent_lost():
                    watch.fire()
                continue
            log.info("signal received", extra={"ctx": {"signal": signal.Signals(signum).name}})
            life.request_shutdown("signal")


async def _heartbeat(outbox: FrameSink, life: Lifecycle, interval: float) -> None:
    seq = 0
    while True:
        await anyio.sleep(interval)
        seq += 1
        await outbox.send(format_lifecycle("HEARTBEAT", seq=seq, uptime_ms=life.uptime_ms()))


async def _complete_registry(registry: Registry) -> None:
    """Register what was deferred past READY, so the first call to it does not pay for that,
    then end the start: the garbage collector is switched back on (sidecar.daemon.startup_gc).
    On the loop, not in a worker thread: an import racing the loop's own imports (a request's
    lookup, the engine's warm-up) could meet a circular pair and fail with importlib's deadlock
    error, which would then stay the registry's error."""
    try:
        registry.complete()
    finally:
        startup_gc.resume()


async def _run_startup_hook(hook: StartupHook) -> None:
    try:
        await hook()
    except Exception:  # a failed warm-up must not take the server down; requests retry it
        log.exception("startup hook failed", extra={"ctx": {"hook": _hook_name(hook)}})


async def _run_hooks(hooks: list[ShutdownHook]) -> None:
    for hook in reversed(hooks):
        with anyio.CancelScope(shield=True), anyio.move_on_after(HOOK_TIMEOUT_S) as scope:
            try:
                await hook()
            except Exception:  # one failing hook must not stop the others (e.g. DuckDB close)
                log.exception("shutdown hook failed")
        if scope.cancelled_caught:
            log.error("shutdown hook timed out", extra={"ctx": {"hook": _hook_name(hook)}})


def _hook_name(hook: Callable[[], Awaitable[None]]) -> str:
    """The hook's function name for the log (an app's hook is a partial holding the state)."""
    return str(getattr(getattr(hook, "func", hook), "__qualname__", "?"))
