"""The one place the sidecar's version and protocol version are written down."""

__version__ = "0.1.0"

#: Bumped when the wire contract in docs/PROTOCOL.md changes incompatibly.
PROTOCOL_VERSION = 1

#: The name announced in the BOOT line (``sidecar=<name>``).
SIDECAR_NAME = "sidecar"
