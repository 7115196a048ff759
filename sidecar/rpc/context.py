"""What a handler gets besides its params: the typed application state, the method, the id."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import msgspec

from sidecar.protocol.connection import InFlight
from sidecar.rpc.registry import Registry

StateT = TypeVar("StateT")
StateT_co = TypeVar("StateT_co", covariant=True)


class DispatcherView(Protocol[StateT_co]):
    """The part of the dispatcher a handler may use (the dispatcher itself implements it)."""

    @property
    def app(self) -> StateT_co:
        """The application state."""
        ...

    @property
    def registry(self) -> Registry:
        """Every method (for discovery)."""
        ...

    def inflight(self) -> list[InFlight]:
        """The requests being handled right now."""
        ...

    def cancel_request(self, key: Any) -> bool:
        """Cancel one in-flight request by its decoded id."""
        ...

    async def notify(self, method: str, params: Any = msgspec.UNSET) -> None:
        """Send a notification to the host."""
        ...


class RequestContext(Generic[StateT]):
    """The context of one request or notification.

    app: the application's state, as typed as the composition root made it
    (the sidecar's is :class:`sidecar.api.context.SidecarState`).
    dispatcher: the dispatcher handling it (in-flight requests, cancel, the registry).
    method: the method being handled.
    request_id: the decoded id, or None for a notification and for inline methods.
    """

    __slots__ = ("app", "dispatcher", "method", "request_id")

    def __init__(self, dispatcher: DispatcherView[StateT], method: str, request_id: Any) -> None:
        self.dispatcher = dispatcher
        self.app: StateT = dispatcher.app
        self.method = method
        self.request_id = request_id

    async def notify(self, method: str, params: Any = msgspec.UNSET) -> None:
        """Send a server-to-host notification (waits if the output is backed up)."""
        await self.dispatcher.notify(method, params)
