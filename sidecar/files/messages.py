"""The ``files.*`` wire types."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

HostKey = Annotated[str, Meta(min_length=1, max_length=1024)]


class GrantParams(Struct, forbid_unknown_fields=True):
    """path: an absolute path the user chose (a file, a folder, or a file to be created in an existing folder).
    mode: read (ingest may read it) or write (exports may write it; reading it back is allowed too).
    host_key: the key the host started the sidecar with (SIDECAR_HOST_KEY).
    """

    path: Annotated[str, Meta(min_length=1, max_length=32_768)]
    mode: Literal["read", "write"]
    host_key: HostKey


class RevokeParams(Struct, forbid_unknown_fields=True):
    """grant_id: as files.grant returned it. host_key: as for files.grant."""

    grant_id: Annotated[str, Meta(min_length=1, max_length=64)]
    host_key: HostKey


class GrantRecord(Struct):
    """grant_id: names the grant. path: the resolved absolute path. mode: read or write.
    kind: file or folder (a folder covers everything below it). granted_at: ISO 8601 UTC."""

    grant_id: str
    path: str
    mode: str
    kind: str
    granted_at: str


class RevokeResult(Struct):
    """grant_id: as given. revoked: false when no grant had that id."""

    grant_id: str
    revoked: bool


class GrantsResult(Struct):
    """grants: the grants in force, oldest first. imports_dir, exports_dir: the engine's own folders,
    always reachable (imports/ for reading, exports/ for reading and writing)."""

    grants: list[GrantRecord]
    imports_dir: str
    exports_dir: str
