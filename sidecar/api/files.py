"""``files.*``: the paths the trusted host granted (after the user picked them in a native dialog)."""

from __future__ import annotations

import anyio.to_thread

from sidecar.api.context import Ctx
from sidecar.api.host_only import require_host_key
from sidecar.files.access import Grant
from sidecar.files.messages import GrantParams, GrantRecord, GrantsResult, RevokeParams, RevokeResult
from sidecar.rpc.registry import Registry


def _record(grant: Grant) -> GrantRecord:
    return GrantRecord(
        grant_id=grant.grant_id, path=str(grant.path), mode=grant.mode, kind=grant.kind, granted_at=grant.granted_at
    )


def register_files_methods(registry: Registry) -> None:
    """Add files.grant, files.revoke (host-only) and files.grants."""

    @registry.method("files.grant", host_only=True)
    async def files_grant(ctx: Ctx, params: GrantParams) -> GrantRecord:
        """Let the engine read (ingest) or write (export) a path the user chose, for this process's life.

        Host-only: the host calls it after a native file dialog, never on a webview's word.
        """
        require_host_key(ctx, "files.grant", params.host_key)
        files = ctx.app.engine.files
        grant = await anyio.to_thread.run_sync(files.grant, params.path, params.mode)
        return _record(grant)

    @registry.method("files.revoke", host_only=True)
    async def files_revoke(ctx: Ctx, params: RevokeParams) -> RevokeResult:
        """End a grant (jobs already reading or writing the path finish)."""
        require_host_key(ctx, "files.revoke", params.host_key)
        return RevokeResult(grant_id=params.grant_id, revoked=ctx.app.engine.files.revoke(params.grant_id))

    @registry.method("files.grants")
    def files_grants(ctx: Ctx) -> GrantsResult:
        """The grants in force and the engine's own folders."""
        files = ctx.app.engine.files
        return GrantsResult(
            grants=[_record(grant) for grant in files.grants()],
            imports_dir=str(files.imports_dir),
            exports_dir=str(files.exports_dir),
        )
