"""The per-launch host key: how a host proves to the sidecar that a host-only call is its own.

The host makes a fresh key for every launch, hands it to the sidecar in the
environment (``SIDECAR_HOST_KEY``, never on the command line where other users
could read it), and adds it to the params of host-only methods (files.grant,
files.revoke, secrets.get). A page in a webview never sees it (docs/SECURITY.md).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any, Final

HOST_KEY_ENV: Final = "SIDECAR_HOST_KEY"


def new_host_key() -> str:
    """32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)


def env_with_host_key(env: Mapping[str, str] | None, key: str) -> dict[str, str]:
    """``env`` (default: this process's environment) plus the key."""
    merged = dict(os.environ if env is None else env)
    merged[HOST_KEY_ENV] = key
    return merged


def params_with_host_key(params: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    """Host-only params: ``params`` plus ``host_key``."""
    return {**(params or {}), "host_key": key}
