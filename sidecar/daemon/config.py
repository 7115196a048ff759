"""Run-time configuration, from the command line and the environment."""

from __future__ import annotations

import msgspec

DEFAULT_HEARTBEAT_S = 5.0
DEFAULT_DRAIN_S = 1.0
DEFAULT_MAX_INFLIGHT = 256


class Config(msgspec.Struct, frozen=True):
    """Settings for one run.

    app_name: the folder name under the platform's app-data dirs (and the keychain service).
    app_modules: the app packages to load, as ``[name=]module:function`` (``--app-module``,
    ``SIDECAR_APP_MODULES``); None: the ones baked into the binary, or from source the installed
    ``sidecar.apps`` entry points.
    data_dir: an explicit data dir (None: the platform default).
    heartbeat_interval: seconds between HEARTBEAT lines; 0 turns them off.
    log_level: debug, info, warning, error or critical.
    max_frame_bytes: the largest accepted input line.
    drain_timeout: seconds in-flight requests get to finish at shutdown.
    max_inflight: requests handled at once before stdin reading pauses.
    test_methods: register the test-only methods (SIDECAR_TEST_METHODS=1).
    allow_network: URL sources may be fetched (--allow-network; default off).
    host_key: the secret host-only methods must be called with (from SIDECAR_HOST_KEY; None: those
    methods are off). Never printed: repr leaves it out.
    """

    app_name: str
    data_dir: str | None
    app_modules: tuple[str, ...] | None = None
    heartbeat_interval: float = DEFAULT_HEARTBEAT_S
    log_level: str = "info"
    max_frame_bytes: int = 16 * 1024 * 1024
    drain_timeout: float = DEFAULT_DRAIN_S
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    test_methods: bool = False
    allow_network: bool = False
    host_key: str | None = None

    def __repr__(self) -> str:
        # A Struct's repr lists every field; the host key must never reach a log or a traceback.
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__struct_fields__ if name != "host_key")
        return f"Config({shown})"
