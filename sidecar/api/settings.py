"""``settings.*``: typed engine settings, saved atomically."""

from __future__ import annotations

from sidecar.api.context import Ctx
from sidecar.rpc.registry import Registry
from sidecar.settings.store import SettingsGetResult, SettingsSetParams


def register_settings_methods(registry: Registry) -> None:
    """Add settings.get and settings.set."""

    @registry.method("settings.get")
    async def settings_get(ctx: Ctx) -> SettingsGetResult:
        """Every engine setting with its current value."""
        engine = await ctx.app.engine.started()
        return SettingsGetResult(settings=engine.settings.current, path=str(engine.settings.path))

    @registry.method("settings.set")
    async def settings_set(ctx: Ctx, params: SettingsSetParams) -> SettingsGetResult:
        """Change settings (validated; unknown keys are -32602), persisted atomically."""
        engine = await ctx.app.engine.started()
        settings = await engine.settings.update(params.values)
        return SettingsGetResult(settings=settings, path=str(engine.settings.path))
