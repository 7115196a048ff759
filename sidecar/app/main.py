"""Command line: parse arguments, claim the data dir, guard stdout, write BOOT, serve.

Order matters for the host: nothing reaches stdout before BOOT, bad arguments
and a locked data dir exit before BOOT with only stderr output, and the heavy
imports happen after BOOT is on the wire.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sidecar.daemon import exit_codes
from sidecar._version import PROTOCOL_VERSION, SIDECAR_NAME, __version__
from sidecar.daemon.config import DEFAULT_DRAIN_S, DEFAULT_HEARTBEAT_S, DEFAULT_MAX_INFLIGHT, Config
from sidecar.daemon.paths import DEFAULT_APP_NAME, DataDirError, DataPaths, ensure_dir, resolve_paths

if TYPE_CHECKING:
    from sidecar.transport.stdio import ProtocolFds

_LEVELS = ("debug", "info", "warning", "error", "critical")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render --help in the docs)."""
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="sidecar",
        description="Local engine for a desktop app, spoken to over stdin/stdout "
        "(lifecycle lines + JSON-RPC 2.0; see docs/PROTOCOL.md).",
    )
    parser.add_argument("--version", action="version", version=f"{SIDECAR_NAME} {__version__} (protocol {PROTOCOL_VERSION})")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data folder (default: $SIDECAR_DATA_DIR, $APP_DATA_DIR, else the platform's app-data folder)",
    )
    parser.add_argument(
        "--app-name", default=env.get("SIDECAR_APP_NAME", DEFAULT_APP_NAME), help="app folder name (default %(default)s)"
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_non_negative_float,
        default=float(env.get("SIDECAR_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_S)),
        metavar="SECONDS",
        help="seconds between HEARTBEAT lines, 0 turns them off (default %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=_LEVELS,
        default=env.get("SIDECAR_LOG_LEVEL", "info").lower(),
        help="stderr/file log level (default %(default)s, env SIDECAR_LOG_LEVEL)",
    )
    parser.add_argument(
        "--max-frame-bytes",
        type=_positive_int,
        default=16 * 1024 * 1024,
        metavar="BYTES",
        help="largest accepted input line (default %(default)s)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=_non_negative_float,
        default=DEFAULT_DRAIN_S,
        metavar="SECONDS",
        help="time in-flight requests get to finish at shutdown (default %(default)s)",
    )
    parser.add_argument(
        "--max-inflight",
        type=_positive_int,
        default=DEFAULT_MAX_INFLIGHT,
        metavar="N",
        help="requests handled at once before reading pauses (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sidecar; returns the process exit status."""
    started = time.monotonic()
    launcher_pid = os.getppid()  # first thing: the launcher may die while we start
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return int(exc.code or 0)
    config = Config(
        app_name=args.app_name,
        data_dir=args.data_dir,
        heartbeat_interval=args.heartbeat_interval,
        log_level=args.log_level,
        max_frame_bytes=args.max_frame_bytes,
        drain_timeout=args.drain_timeout,
        max_inflight=args.max_inflight,
        test_methods=os.environ.get("SIDECAR_TEST_METHODS") == "1",
    )
    return run(config, started, launcher_pid)


def run(config: Config, started: float, launcher_pid: int) -> int:
    """Claim the data dir, then serve until shutdown."""
    from sidecar.daemon.instance_lock import DataDirLocked, InstanceLock
    from sidecar.daemon.logs import stderr_line

    paths = resolve_paths(config.app_name, config.data_dir)
    try:
        ensure_dir(paths.data_dir)
    except DataDirError as exc:
        stderr_line("error", f"data dir unusable: {exc}", exit_status=exit_codes.DATA_DIR_UNUSABLE)
        return exit_codes.DATA_DIR_UNUSABLE
    lock = InstanceLock(paths.lock_file)
    try:
        lock.acquire()
    except DataDirLocked as exc:
        stderr_line("error", str(exc), holder_pid=exc.holder_pid, exit_status=exit_codes.DATA_DIR_LOCKED)
        return exit_codes.DATA_DIR_LOCKED
    except OSError as exc:
        stderr_line("error", f"data dir unusable: cannot open lock file: {exc}", exit_status=exit_codes.DATA_DIR_UNUSABLE)
        return exit_codes.DATA_DIR_UNUSABLE
    try:
        for folder in (paths.logs_dir, paths.cache_dir):
            ensure_dir(folder)
    except DataDirError as exc:
        lock.release()
        stderr_line("error", f"data dir unusable: {exc}", exit_status=exit_codes.DATA_DIR_UNUSABLE)
        return exit_codes.DATA_DIR_UNUSABLE

    from sidecar.protocol.lifecycle import format_lifecycle
    from sidecar.transport.stdio import claim_stdio, restore_blocking

    fds = claim_stdio()
    from sidecar.daemon import early_signals

    early_signals.hold()  # released once the event loop's receiver is up (sidecar.server.app)
    boot = format_lifecycle("BOOT", sidecar=SIDECAR_NAME, version=__version__, protocol=PROTOCOL_VERSION, pid=os.getpid())
    os.write(fds.stdout, boot)
    try:
        return _serve(config, paths, fds, started, launcher_pid)
    finally:
        restore_blocking(fds)
        lock.release()


def _serve(config: Config, paths: DataPaths, fds: ProtocolFds, started: float, launcher_pid: int) -> int:
    import logging

    import anyio

    from sidecar.api.engine_methods import register_engine_methods
    from sidecar.daemon.logs import configure_logging
    from sidecar.app.serve import serve
    from sidecar.api.system import register_builtins
    from sidecar.rpc.registry import Registry

    logs = configure_logging(config.log_level, paths.log_file)
    log = logging.getLogger("sidecar")
    registry = Registry()
    register_builtins(registry)
    engine = register_engine_methods(registry)  # light: DuckDB and keyring load on first use
    if config.test_methods:
        from sidecar.api.testing import register_test_methods

        register_test_methods(registry)
        log.warning("test-only methods are enabled (SIDECAR_TEST_METHODS=1)")
    try:
        after_ready = [engine.start_after_ready]
        if os.name == "posix":
            from sidecar.daemon.cache_cleanup import start_after_ready as sweep_old_extractions

            after_ready.append(sweep_old_extractions)
        reason = anyio.run(serve, config, paths, fds, registry, started, launcher_pid, after_ready)
    except KeyboardInterrupt:  # Ctrl-C where signals cannot be received by the loop (Windows)
        log.info("exit", extra={"ctx": {"reason": "signal"}})
        logs.close()
        return exit_codes.OK
    except BaseException:
        log.critical("fatal error", exc_info=True)
        logs.close()
        return exit_codes.FATAL
    log.info("exit", extra={"ctx": {"reason": reason}})
    logs.close()
    from sidecar.daemon.extraction import remove_orphaned_extraction

    remove_orphaned_extraction(reason)  # the very last step: it deletes the code we run from
    return exit_codes.OK
