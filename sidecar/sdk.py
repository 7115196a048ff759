"""The sidecar's public surface for app packages: the one module an app imports.

An app package (its own pyproject, its own dependencies) declares

    [project.entry-points."sidecar.apps"]
    myapp = "myapp:register"

and ``register(app: App)`` adds methods, job types and hooks (README, "Add your own
methods"; the example is examples/wordfreq-app/). Everything here is stable within a
protocol version; the rest of ``sidecar.*`` is internal and may change, which the
import contract of examples/wordfreq-app (lint-imports) enforces for the example.

What a handler sees: ``ctx.app`` is :class:`SidecarState` (``config``, ``paths``,
``engine``: ``await ctx.app.engine.started()`` opens DuckDB, settings and the keychain;
``engine.database.using(work)`` runs DuckDB work on an interruptible cursor;
``engine.files.readable(path)`` / ``writable(path)`` apply the engine's file rules);
``ctx.notify(method, params)`` sends a notification. Raise :class:`ApplicationError`
(kind, message, fields) for a documented failure (-32000 with ``data.kind``); params
that do not match their Struct are -32602 before the handler runs. A job runner gets a
:class:`JobContext` (``progress.set(value, message)``, ``services``: the same engine parts)
and is cancelled like a built-in job: its DuckDB statement is interrupted.
"""

from __future__ import annotations

from sidecar.api.context import Ctx, SidecarState
from sidecar.apps.registration import App, AppConflict, AppHook
from sidecar.common.errors import ApplicationError
from sidecar.database.handle import QueryHandle
from sidecar.jobs.types import JobContext, JobEnvironment, JobType, RetryPolicy

__all__ = [
    "App",
    "AppConflict",
    "AppHook",
    "ApplicationError",
    "Ctx",
    "JobContext",
    "JobEnvironment",
    "JobType",
    "QueryHandle",
    "RetryPolicy",
    "SidecarState",
]
