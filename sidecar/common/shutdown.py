"""Why the process stops: the process's own record of it (daemon) and the SHUTDOWN line's reason
(protocol) are the same four values, defined once here."""

from __future__ import annotations

from typing import Final, Literal, get_args

#: Reasons a SHUTDOWN line may carry (see docs/PROTOCOL.md).
ShutdownReason = Literal["normal", "signal", "parent_exit", "error"]
SHUTDOWN_REASONS: Final = frozenset(get_args(ShutdownReason))
