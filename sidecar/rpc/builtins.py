"""The generic methods every JSON-RPC server here has: rpc.cancel and rpc.discover."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from sidecar.rpc.context import RequestContext
from sidecar.rpc.discovery import openrpc_document
from sidecar.rpc.registry import Registry


class CancelParams(Struct, forbid_unknown_fields=True):
    """id: the id of the in-flight request to cancel (string or number)."""

    id: int | str | float


class CancelResult(Struct):
    """cancelled: false when no request with that id was in flight (already answered, or unknown)."""

    cancelled: bool


def register_rpc_methods(registry: Registry) -> None:
    """Add rpc.cancel and rpc.discover to ``registry``."""

    @registry.method("rpc.cancel")
    def cancel(ctx: RequestContext[Any], params: CancelParams) -> CancelResult:
        """Cancel an in-flight request; it is answered with error -32001 (data.kind "cancelled")."""
        return CancelResult(cancelled=ctx.dispatcher.cancel_request(params.id))

    @registry.method("rpc.discover")
    def discover(ctx: RequestContext[Any]) -> dict[str, Any]:
        """The OpenRPC document for every registered method, generated from their types."""
        return openrpc_document(ctx.dispatcher.registry)
