"""The Python host client: spawn a sidecar, wait for READY, call it, stop it.

Host-side only: never packaged into the sidecar binary.
"""

from sidecar_host.client import SidecarClient
from sidecar_host.errors import (
    BinaryNotFound,
    CallTimeout,
    ExitedBeforeReady,
    ReadyTimeout,
    RpcCallError,
    SidecarError,
    SidecarExited,
    SidecarStartError,
)
from sidecar_host.launch_lock import LaunchLock, default_lock_path
from sidecar_host.records import ProtocolViolation, StopResult, StopTimeouts, UnmatchedFrame

__all__ = [
    "BinaryNotFound",
    "CallTimeout",
    "ExitedBeforeReady",
    "LaunchLock",
    "ProtocolViolation",
    "ReadyTimeout",
    "RpcCallError",
    "SidecarClient",
    "SidecarError",
    "SidecarExited",
    "SidecarStartError",
    "StopResult",
    "StopTimeouts",
    "UnmatchedFrame",
    "default_lock_path",
]
