"""Failures the API knows by name although they are not raised as RpcError (the dispatcher's translator)."""

from __future__ import annotations

import sys

from sidecar.common.disk import disk_full_error, is_disk_full
from sidecar.common.errors import ApplicationError, RpcError


def translate_error(exc: Exception) -> RpcError | None:
    """A full disk anywhere becomes ``disk_full``; the state store failing becomes ``state_unavailable``;
    anything else is a bug for the dispatcher to report as -32099."""
    if is_disk_full(exc):
        return disk_full_error(exc, "writing to the data dir")
    # sqlite3 is not imported before READY (this module is loaded at start): if nothing has
    # imported it yet, no exception can come from it.
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.DatabaseError):
        return ApplicationError(
            "state_unavailable", f"the engine's state store (state.sqlite3) failed: {exc}", detail=str(exc)
        )
    return None
