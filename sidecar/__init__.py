"""The sidecar: a local Python engine spoken to over stdin/stdout.

Importing this package must stay cheap: it runs before BOOT is written.
"""

from sidecar._version import PROTOCOL_VERSION, SIDECAR_NAME, __version__

__all__ = ["PROTOCOL_VERSION", "SIDECAR_NAME", "__version__"]
