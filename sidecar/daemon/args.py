"""The command line: flags and their environment defaults, turned into a :class:`Config`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from sidecar._version import PROTOCOL_VERSION, SIDECAR_NAME, __version__
from sidecar.daemon.build_info import build_info
from sidecar.daemon.config import DEFAULT_DRAIN_S, DEFAULT_HEARTBEAT_S, DEFAULT_MAX_INFLIGHT, Config

if TYPE_CHECKING:
    import argparse

_LEVELS = ("debug", "info", "warning", "error", "critical")


def _positive_int(text: str) -> int:
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    import argparse

    value = float(text)
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _defaults(env: Mapping[str, str]) -> dict[str, Any]:
    """Every option's value when the command line gives none: the parser's defaults, and the
    whole configuration of a launch without arguments (the usual one: hosts pass settings in
    the environment), which then never builds the parser (argparse and building it are ~5-10 %
    of a start to READY)."""
    return {
        "data_dir": None,
        "app_name": env.get("SIDECAR_APP_NAME", build_info().app_name),
        "app_module": None,
        "heartbeat_interval": float(env.get("SIDECAR_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_S)),
        "log_level": env.get("SIDECAR_LOG_LEVEL", "info").lower(),
        "max_frame_bytes": 16 * 1024 * 1024,
        "drain_timeout": DEFAULT_DRAIN_S,
        "max_inflight": DEFAULT_MAX_INFLIGHT,
        "allow_network": env.get("SIDECAR_ALLOW_NETWORK") == "1",
    }


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's formatter with the width found here: left to itself it imports shutil (and
    with it bz2, lzma, zlib and fnmatch, ~2 ms before READY) for the terminal's width, because
    ``add_argument`` builds a formatter to check every option even when no help is printed."""
    import argparse

    try:
        width = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            width = os.get_terminal_size(sys.__stdout__.fileno() if sys.__stdout__ else 1).columns
        except (AttributeError, ValueError, OSError):
            width = 80
    return argparse.HelpFormatter(prog, width=max(width - 2, 11))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render --help in the docs)."""
    import argparse

    default = _defaults(os.environ)
    parser = argparse.ArgumentParser(
        prog="sidecar",
        formatter_class=_formatter,
        description="Local engine for a desktop app, spoken to over stdin/stdout "
        "(lifecycle lines + JSON-RPC 2.0; see docs/PROTOCOL.md).",
    )
    parser.add_argument(
        "--version", action="version", version=f"{SIDECAR_NAME} {__version__} (protocol {PROTOCOL_VERSION})"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data folder (default: $SIDECAR_DATA_DIR, $APP_DATA_DIR, else the platform's app-data folder)",
    )
    parser.add_argument(
        "--app-name",
        default=default["app_name"],
        help="app name: folder name under the platform dirs, keychain service (default %(default)s; "
        "a binary's default is the app name it was built with)",
    )
    parser.add_argument(
        "--app-module",
        action="append",
        default=None,
        metavar="[NAME=]MODULE:FUNCTION",
        help="load this app package's register function instead of the installed ones (repeatable; "
        "env SIDECAR_APP_MODULES, comma-separated, empty for none)",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_non_negative_float,
        default=default["heartbeat_interval"],
        metavar="SECONDS",
        help="seconds between HEARTBEAT lines, 0 turns them off (default %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=_LEVELS,
        default=default["log_level"],
        help="stderr/file log level (default %(default)s, env SIDECAR_LOG_LEVEL)",
    )
    parser.add_argument(
        "--max-frame-bytes",
        type=_positive_int,
        default=default["max_frame_bytes"],
        metavar="BYTES",
        help="largest accepted input line (default %(default)s)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=_non_negative_float,
        default=default["drain_timeout"],
        metavar="SECONDS",
        help="time in-flight requests get to finish at shutdown (default %(default)s)",
    )
    parser.add_argument(
        "--max-inflight",
        type=_positive_int,
        default=default["max_inflight"],
        metavar="N",
        help="requests handled at once before reading pauses (default %(default)s)",
    )
    parser.add_argument(
        "--allow-network",
        action="store_true",
        default=default["allow_network"],
        help="let ingest fetch http(s):// sources (default off; env SIDECAR_ALLOW_NETWORK=1)",
    )
    return parser


#: The environment variable a host puts its per-launch key in (docs/SECURITY.md).
HOST_KEY_ENV = "SIDECAR_HOST_KEY"
#: Shorter keys are refused: the key is all that stands between a page and the host-only methods.
MIN_HOST_KEY_CHARS = 32


def take_host_key(env: MutableMapping[str, str]) -> str | None:
    """The host key, removed from the environment so that no child process or report inherits it.
    A key shorter than MIN_HOST_KEY_CHARS counts as none (and says so on stderr)."""
    key = env.pop(HOST_KEY_ENV, None)
    if key is not None and len(key) < MIN_HOST_KEY_CHARS:
        print(
            f"sidecar: {HOST_KEY_ENV} is shorter than {MIN_HOST_KEY_CHARS} characters; host-only methods stay off",
            file=sys.stderr,
        )
        return None
    return key or None


def parse_config(argv: Sequence[str] | None = None) -> Config | int:
    """The run's configuration, or the exit status when the arguments end the run
    (usage errors: 2, ``--help``/``--version``: 0; argparse has written what to say)."""
    given = sys.argv[1:] if argv is None else argv
    if given:
        try:
            args = vars(build_parser().parse_args(given))
        except SystemExit as exc:
            return int(exc.code or 0)
    else:
        args = _defaults(os.environ)
    return Config(
        app_name=args["app_name"],
        app_modules=_app_modules(args["app_module"], os.environ),
        data_dir=args["data_dir"],
        heartbeat_interval=args["heartbeat_interval"],
        log_level=args["log_level"],
        max_frame_bytes=args["max_frame_bytes"],
        drain_timeout=args["drain_timeout"],
        max_inflight=args["max_inflight"],
        test_methods=os.environ.get("SIDECAR_TEST_METHODS") == "1",
        allow_network=args["allow_network"],
        host_key=take_host_key(os.environ),
    )


def _app_modules(given: list[str] | None, env: MutableMapping[str, str]) -> tuple[str, ...] | None:
    """The explicit app list (``--app-module``, else ``SIDECAR_APP_MODULES``), None when neither is set."""
    if given is not None:
        return tuple(given)
    listed = env.get("SIDECAR_APP_MODULES")
    if listed is None:
        return None
    return tuple(item.strip() for item in listed.split(",") if item.strip())
