"""The typed state every handler sees as ``ctx.app``: made once at start, handed to the dispatcher."""

from __future__ import annotations

import msgspec

from sidecar.daemon.config import Config
from sidecar.daemon.lifecycle import Lifecycle
from sidecar.daemon.parent_watch import ParentWatch
from sidecar.daemon.paths import DataPaths
from sidecar.engine.engine import Engine
from sidecar.rpc.context import RequestContext


class SidecarState(msgspec.Struct, frozen=True):
    """What the running process offers its methods.

    config: the run's configuration. paths: the data folders.
    lifecycle: uptime and the shutdown request. parent_watch: the watch on the launcher
    (its ``mechanism`` says how its death is detected on this platform). engine: the engine (started on first use).
    """

    config: Config
    paths: DataPaths
    lifecycle: Lifecycle
    parent_watch: ParentWatch
    engine: Engine


#: The context type of every sidecar handler.
Ctx = RequestContext[SidecarState]
