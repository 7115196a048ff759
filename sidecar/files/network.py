"""URL sources: refused unless the host allowed the network, then fetched by the engine itself.

DuckDB's own HTTP reader is an extension (httpfs) that the sandbox does not
load, and that would also let any SQL reach any server. With the host's
``--allow-network``, an ingest of an ``http(s)://`` source downloads the file
into its staging folder first (streamed, never held in memory) and DuckDB
reads the local copy.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Final

from sidecar.common.disk import disk_full_error, is_disk_full
from sidecar.common.errors import ApplicationError

SCHEMES: Final = ("http", "https")
_CHUNK: Final = 1 << 20


def is_url(source: str) -> bool:
    """True for a source that names a URL rather than a path."""
    return "://" in source


def network_disabled(source: str) -> ApplicationError:
    """The refusal of a URL source when the host did not allow the network."""
    scheme = source.split("://", 1)[0]
    return ApplicationError(
        "network_disabled",
        f"{scheme}:// sources are off: the host starts the sidecar with --allow-network to allow them",
        scheme=scheme,
    )


def download(url: str, folder: Path, timeout_s: float = 60.0) -> tuple[Path, int]:
    """Fetch ``url`` into ``folder`` (runs in a worker thread); the file and its size."""
    import urllib.error  # first use only: urllib.request pulls in http.client and email (~15 ms)
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ApplicationError(
            "not_supported", f"{parts.scheme}:// sources are not supported (only http and https)", scheme=parts.scheme
        )
    name = posixpath.basename(parts.path) or "download"
    target = folder / f"url-{os.urandom(4).hex()}-{name}"
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(target, "wb") as out:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as exc:
        kind = "source_not_found" if exc.code in (404, 410) else "network"
        raise ApplicationError(kind, f"{parts.scheme}://{parts.hostname} answered HTTP {exc.code}") from exc
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(exc, "downloading the source") from exc
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ApplicationError("network", f"cannot fetch from {parts.hostname}: {reason}") from exc
    return target, size
