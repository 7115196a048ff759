"""Every method the sidecar serves, registered in one place."""

from __future__ import annotations

import functools

from sidecar.api.system import register_system_methods
from sidecar.rpc.builtins import register_rpc_methods
from sidecar.rpc.registry import Registry


def build_registry(*, test_methods: bool = False) -> Registry:
    """The registry of every method: rpc.*, system.*, the engine's namespaces and, when asked, test.*.

    rpc.* and system.* are registered now; the engine's namespaces (and test.*) are deferred:
    the first lookup of another name, discovery, or the server right after READY
    (``sidecar.app.serve``) registers them. Only light modules load either way (Structs and handlers): DuckDB,
    keyring and the job runners load on the first engine call.
    """
    registry = Registry()
    register_rpc_methods(registry)
    register_system_methods(registry)
    registry.defer(functools.partial(_register_engine_methods, test_methods=test_methods))
    return registry


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
