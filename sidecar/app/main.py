"""Command line: parse arguments, claim the data dir, guard stdout, write BOOT, serve.

Order matters for the host: nothing reaches stdout before BOOT, bad arguments
and a locked data dir exit before BOOT with only stderr output, and the heavy
imports happen after BOOT is on the wire.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sidecar._version import PROTOCOL_VERSION, SIDECAR_NAME, __version__
from sidecar.daemon import exit_codes
from sidecar.daemon.args import parse_config
from sidecar.daemon.config import Config
from sidecar.daemon.paths import PRIVATE_UMASK, DataDirError, DataPaths, ensure_dir, resolve_paths, shared_folders

if TYPE_CHECKING:
    from sidecar.apps.loader import LoadedApps
    from sidecar.common.shutdown import ShutdownReason
    from sidecar.daemon.logs import LogSetup
    from sidecar.rpc.registry import Registry
    from sidecar.transport.stdio import ProtocolFds


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sidecar; returns the process exit status."""
    started = time.monotonic()
    launcher_pid = os.getppid()  # first thing: the launcher may die while we start
    config = parse_config(argv)
    if isinstance(config, int):
        return config
    status = run(config, started, launcher_pid)
    from sidecar.daemon.process_exit import finish

    return finish(status)  # never waits for a worker thread stuck in a call the shutdown gave up on


def run(config: Config, started: float, launcher_pid: int) -> int:
    """Claim the data dir, then serve until shutdown."""
    from sidecar.daemon.instance_lock import DataDirLocked, InstanceLock
    from sidecar.daemon.logs import stderr_line

    if os.name == "posix":
        # Everything the process creates (folders, databases, logs, the lock, temporary and exported
        # files) is the user's alone. On Windows files inherit the user profile's ACLs instead.
        os.umask(PRIVATE_UMASK)
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
        stderr_line(
            "error", f"data dir unusable: cannot open lock file: {exc}", exit_status=exit_codes.DATA_DIR_UNUSABLE
        )
        return exit_codes.DATA_DIR_UNUSABLE
    try:
        for folder in (paths.logs_dir, paths.cache_dir):
            ensure_dir(folder)
    except DataDirError as exc:
        lock.release()
        stderr_line("error", f"data dir unusable: {exc}", exit_status=exit_codes.DATA_DIR_UNUSABLE)
        return exit_codes.DATA_DIR_UNUSABLE
    if os.name == "posix":
        from sidecar.daemon.cache_cleanup import mark_own_folder

        mark_own_folder()  # the extraction folder we run from is in use (swept by no other sidecar)
    for folder in shared_folders(paths):
        # A folder the host made before us: left as it is (it may be shared on purpose), but said.
        stderr_line("warning", "folder is open to other users (mode allows group/other access)", path=str(folder))

    from sidecar.protocol.lifecycle import format_lifecycle
    from sidecar.transport.stdio import claim_stdio, restore_blocking

    fds = claim_stdio()
    from sidecar.daemon import early_signals

    early_signals.hold()  # released once the event loop's receiver is up (sidecar.app.serve)
    boot = format_lifecycle(
        "BOOT", sidecar=SIDECAR_NAME, version=__version__, protocol=PROTOCOL_VERSION, pid=os.getpid()
    )
    os.write(fds.stdout, boot)
    try:
        status, reason = _serve(config, paths, fds, started, launcher_pid)
    finally:
        restore_blocking(fds)
        lock.release()
    import sidecar.daemon.process_exit  # noqa: F401 -- main() needs it once the code we run from is gone
    from sidecar.daemon.extraction import remove_own_extraction

    # The very last step, as it deletes the code we run from; after the data-dir lock is
    # released, so a host already starting a new sidecar never waits for a slow disk here.
    remove_own_extraction(reason)
    return status


def _serve(
    config: Config, paths: DataPaths, fds: ProtocolFds, started: float, launcher_pid: int
) -> tuple[int, ShutdownReason | None]:
    """Log, build the method surface and serve; returns the exit status and the shutdown reason."""
    import logging

    import anyio

    from sidecar.api.surface import build_registry
    from sidecar.app.serve import serve
    from sidecar.daemon.logs import configure_logging

    logs = configure_logging(config.log_level, paths.log_file)
    log = logging.getLogger("sidecar")
    registry = build_registry(test_methods=config.test_methods)  # rpc.* and system.*; the rest after READY
    if config.test_methods:
        log.warning("test-only methods are enabled (SIDECAR_TEST_METHODS=1)")
    apps = _load_apps(config, registry, fds)
    if apps is None:
        _close_logs(logs)
        return exit_codes.APP_LOAD_FAILED, None
    try:
        reason = anyio.run(serve, config, paths, fds, registry, started, launcher_pid, apps)
    except KeyboardInterrupt:  # Ctrl-C where signals cannot be received by the loop (Windows)
        log.info("exit", extra={"ctx": {"reason": "signal"}})
        _close_logs(logs)
        return exit_codes.OK, "signal"
    except BaseException:
        log.critical("fatal error", exc_info=True)
        _close_logs(logs)
        return exit_codes.FATAL, None
    log.info("exit", extra={"ctx": {"reason": reason}})
    _close_logs(logs)
    return exit_codes.OK, reason


def _load_apps(config: Config, registry: Registry, fds: ProtocolFds) -> LoadedApps | None:
    """The app packages, registered into ``registry`` before READY; None when one failed to load
    (said in one stderr line, and ``SHUTDOWN reason=error`` ends stdout: nothing was served)."""
    import logging

    from sidecar.apps.loader import AppLoadError, app_entries, app_source, load_apps
    from sidecar.daemon.build_info import build_info
    from sidecar.daemon.logs import stderr_line
    from sidecar.protocol.lifecycle import format_lifecycle

    build = build_info()
    try:
        apps = load_apps(app_entries(config.app_modules, build), registry)
    except AppLoadError as exc:
        logging.getLogger("sidecar").debug("app load failed", exc_info=True)  # the traceback, in the log file
        stderr_line("error", f"app failed to load: {exc}", app=exc.app, exit_status=exit_codes.APP_LOAD_FAILED)
        os.write(fds.stdout, format_lifecycle("SHUTDOWN", reason="error"))
        return None
    if apps.apps:
        logging.getLogger("sidecar").info(
            "apps loaded",
            extra={
                "ctx": {
                    "apps": {app.name: app.version for app in apps.apps},
                    "from": app_source(config.app_modules, build),
                }
            },
        )
    return apps


def _close_logs(logs: LogSetup) -> None:
    if not logs.close():
        from sidecar.daemon.process_exit import note_unfinished

        note_unfinished("log writer")
