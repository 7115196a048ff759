"""``secrets.*``: the OS keychain through keyring."""

from __future__ import annotations

from sidecar.api.context import Ctx
from sidecar.api.host_only import require_host_key
from sidecar.rpc.registry import Registry
from sidecar.secrets.store import (
    SecretDeleteResult,
    SecretGetParams,
    SecretGetResult,
    SecretListResult,
    SecretNameParams,
    SecretSetParams,
    SecretSetResult,
)


def register_secrets_methods(registry: Registry) -> None:
    """Add secrets.set, secrets.get, secrets.delete and secrets.list."""

    @registry.method("secrets.set")
    async def secrets_set(ctx: Ctx, params: SecretSetParams) -> SecretSetResult:
        """Store a secret in the OS keychain (never on disk, never logged)."""
        engine = await ctx.app.engine.started()
        created = await engine.secrets.set(params.name, params.value)
        return SecretSetResult(name=params.name, created=created)

    @registry.method("secrets.get", host_only=True)
    async def secrets_get(ctx: Ctx, params: SecretGetParams) -> SecretGetResult:
        """Read a secret's value from the OS keychain (host-only: a value never goes to a webview).

        The engine itself resolves secrets by name where it needs them (ingest's source_secret,
        a pipeline's {{secret.NAME}}); this method is for the host's own code.
        """
        require_host_key(ctx, "secrets.get", params.host_key)
        engine = await ctx.app.engine.started()
        return SecretGetResult(name=params.name, value=await engine.secrets.get(params.name))

    @registry.method("secrets.delete")
    async def secrets_delete(ctx: Ctx, params: SecretNameParams) -> SecretDeleteResult:
        """Remove a secret from the OS keychain."""
        engine = await ctx.app.engine.started()
        return SecretDeleteResult(name=params.name, deleted=await engine.secrets.delete(params.name))

    @registry.method("secrets.list")
    async def secrets_list(ctx: Ctx) -> SecretListResult:
        """The names of the stored secrets (never their values)."""
        engine = await ctx.app.engine.started()
        return SecretListResult(names=await engine.secrets.names())
