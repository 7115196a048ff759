"""Every method the sidecar serves, registered in one place."""

from __future__ import annotations

import functools
import importlib
from typing import Final

from sidecar.api.system import register_system_methods
from sidecar.rpc.builtins import register_rpc_methods
from sidecar.rpc.registry import Registry

#: The engine's namespaces: registered on first use, or right after READY (see Registry.defer).
ENGINE_METHOD_MODULES: Final = (
    "sidecar.api.db",
    "sidecar.api.files",
    "sidecar.api.jobs",
    "sidecar.api.runs",
    "sidecar.api.schedules",
    "sidecar.api.secrets",
    "sidecar.api.settings",
)


def build_registry(*, test_methods: bool = False) -> Registry:
    """The registry of every method: rpc.*, system.*, the engine's namespaces and, when asked, test.*.

    rpc.* and system.* are registered now; the engine's namespaces (and test.*) are deferred:
    the first lookup of another name, discovery, or :func:`preload_engine_methods` right after
    READY registers them. Only light modules load either way (Structs and handlers): DuckDB,
    keyring and the job runners load on the first engine call.
    """
    registry = Registry()
    register_rpc_methods(registry)
    register_system_methods(registry)
    registry.defer(functools.partial(_register_engine_methods, test_methods=test_methods))
    return registry


def import_engine_methods() -> None:
    """Import the deferred namespaces' modules without registering anything (safe in a worker
    thread: the registry is only changed on the event loop)."""
    for name in ENGINE_METHOD_MODULES:
        importlib.import_module(name)


def _register_engine_methods(registry: Registry, *, test_methods: bool) -> None:
    from sidecar.api.db import register_db_methods
    from sidecar.api.files import register_files_methods
    from sidecar.api.jobs import register_jobs_methods
    from sidecar.api.runs import register_runs_methods
    from sidecar.api.schedules import register_schedules_methods
    from sidecar.api.secrets import register_secrets_methods
    from sidecar.api.settings import register_settings_methods

    register_db_methods(registry)
    register_files_methods(registry)
    register_jobs_methods(registry)
    register_runs_methods(registry)
    register_schedules_methods(registry)
    register_secrets_methods(registry)
    register_settings_methods(registry)
    if test_methods:
        from sidecar.api.testing import register_test_methods

        register_test_methods(registry)


async def preload_engine_methods(registry: Registry) -> None:
    """After READY: import the deferred namespaces in a worker thread (the loop keeps answering),
    then register them on the loop, so the first engine call does not pay for it."""
    import anyio.to_thread

    if registry.pending:
        await anyio.to_thread.run_sync(import_engine_methods)
        registry.complete()
