"""The object an app package's ``register(app)`` fills in: its methods, job types and hooks.

Methods go into the one registry the built-ins are in, so they are decoded, dispatched,
cancelled, error-mapped and described by ``rpc.discover`` exactly like them (marked
``x-app``). Job types go to the engine's job pool. A name a built-in or another app
already uses is refused with :class:`AppConflict`: the loader turns it into a startup
error, never a silently shadowed method.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

import msgspec

from sidecar.api.context import Ctx, SidecarState
from sidecar.api.host_only import require_host_key
from sidecar.engine.builtin_job_names import BUILTIN_JOB_TYPE_NAMES
from sidecar.rpc.registry import Handler, Registry, RegistryError

if TYPE_CHECKING:
    from sidecar.jobs.types import JobType

#: A startup or shutdown hook of an app: given the process's state (config, paths, engine).
AppHook = Callable[[SidecarState], Awaitable[None]]
H = TypeVar("H", bound=Handler)
K = TypeVar("K", bound=AppHook)


class AppConflict(Exception):
    """An app registered a name that is taken (by a built-in or another app), or registered wrongly."""


class App:
    """One app package's registrations, made by its ``register(app)``.

    name: the app's entry name (its ``sidecar.apps`` entry point, or ``--app-module NAME=...``).
    distribution, version: where it was installed from (None when loaded by module name from source).
    job_types: its job types by name. startup_hooks, shutdown_hooks: in registration order.
    """

    def __init__(
        self,
        name: str,
        registry: Registry,
        job_types: dict[str, JobType],
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        self.name = name
        self.distribution = distribution
        self.version = version
        self._registry = registry
        self._all_job_types = job_types  # every app's, shared: a second app's clash is found here
        self.job_types: dict[str, JobType] = {}
        self.methods: list[str] = []
        self.startup_hooks: list[AppHook] = []
        self.shutdown_hooks: list[AppHook] = []

    def method(self, name: str, *, host_only: bool = False) -> Callable[[H], H]:
        """Decorator: serve ``handler`` as ``name``; ``handler(ctx: Ctx, params: Struct) -> Result``
        (or ``(ctx)``), ``async def`` for anything that waits, plain ``def`` for an instant answer.

        ``host_only``: only the trusted host may call it; its params need a ``host_key: str``
        field, checked against the host's key before the handler runs (docs/SECURITY.md).
        """

        def register(handler: H) -> H:
            self._add_method(name, handler, host_only)
            return handler

        return register

    def _add_method(self, name: str, handler: Handler, host_only: bool) -> None:
        taken = self._registry.get(name)
        if taken is not None:
            owner = f"app {taken.app!r}" if taken.app else "a built-in method"
            raise AppConflict(f"method {name!r} is already registered by {owner}")
        served = _checking_host_key(name, handler) if host_only else handler
        try:
            self._registry.add(name, served, host_only=host_only, app=self.name)
        except RegistryError as exc:
            raise AppConflict(str(exc)) from None
        self.methods.append(name)

    def notification(self, name: str, params_type: type[msgspec.Struct]) -> None:
        """Declare a notification the app sends (``ctx.notify(name, params)``), so rpc.discover lists it."""
        try:
            self._registry.notification(name, params_type)
        except RegistryError as exc:
            raise AppConflict(str(exc)) from None

    def job_type(self, job_type: JobType) -> JobType:
        """Run ``job_type`` in the job pool (``jobs.submit`` with its name): progress, cancellation,
        retries and recovery as for the built-in types."""
        if job_type.name in BUILTIN_JOB_TYPE_NAMES:
            raise AppConflict(f"job type {job_type.name!r} is built in")
        if job_type.name in self._all_job_types:
            raise AppConflict(f"job type {job_type.name!r} is already registered by another app")
        self._all_job_types[job_type.name] = job_type
        self.job_types[job_type.name] = job_type
        return job_type

    def on_startup(self, hook: K) -> K:
        """Decorator: run ``await hook(state)`` in the background right after READY (a failure is
        logged, the sidecar keeps serving)."""
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: K) -> K:
        """Decorator: run ``await hook(state)`` at shutdown, after requests have drained and before
        the engine closes (bounded like every shutdown hook: 5 s)."""
        self.shutdown_hooks.append(hook)
        return hook


def _checking_host_key(name: str, handler: Handler) -> Handler:
    """``handler`` behind the host-key check. The wrapper carries the handler's resolved type hints
    (the registry reads them, and the handler's string annotations name its own module's types)."""
    hints = get_type_hints(handler)
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def checked_async(ctx: Ctx, params: Any) -> Any:
            require_host_key(ctx, name, getattr(params, "host_key", ""))
            return await handler(ctx, params)

        checked_async.__annotations__ = hints
        return checked_async

    @functools.wraps(handler)
    def checked(ctx: Ctx, params: Any) -> Any:
        require_host_key(ctx, name, getattr(params, "host_key", ""))
        return handler(ctx, params)

    checked.__annotations__ = hints
    return checked
