"""What the host client reports and how long it waits: results, violations, the stop timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: Wait for READY after spawning.
READY_TIMEOUT_S: Final = 15.0
#: Default per-call timeout.
CALL_TIMEOUT_S: Final = 30.0
#: Stop step 1: the answer to system.shutdown, then the process exit.
SHUTDOWN_REQUEST_TIMEOUT_S: Final = 3.0
#: Stop step 2: exit after stdin is closed.
STDIN_CLOSE_TIMEOUT_S: Final = 2.0
#: Stop step 3: exit after SIGTERM.
SIGTERM_TIMEOUT_S: Final = 3.0
#: Stop step 4: reaping after SIGKILL.
SIGKILL_TIMEOUT_S: Final = 2.0
#: How long writing rpc.cancel after a call's timeout may take.
CANCEL_WRITE_TIMEOUT_S: Final = 0.2
#: Largest stdout line accepted from the sidecar.
MAX_LINE_BYTES: Final = 512 * 1024 * 1024
STDERR_TAIL_LINES: Final = 200
LINES_KEPT_BEFORE_READY: Final = 100
VIOLATIONS_KEPT: Final = 1000


@dataclass(frozen=True)
class ProtocolViolation:
    """Something on stdout that breaks the contract.

    kind: non_protocol_line, malformed_lifecycle, boot_not_first, duplicate_ready,
    line_after_shutdown or oversize (see :class:`sidecar.protocol.host_session.Violation`).
    line: the offending line (truncated to 500 characters).
    """

    kind: str
    line: str


@dataclass(frozen=True)
class UnmatchedFrame:
    """A response no pending call was waiting for (e.g. an answer to :meth:`SidecarClient.send_raw`).

    raw: the line as received. value: its decoded JSON.
    """

    raw: bytes
    value: Any


@dataclass(frozen=True)
class StopResult:
    """How a sidecar ended.

    exit_status: the process's status (negative: killed by that signal).
    shutdown_reason: the reason on its SHUTDOWN line, or None if it printed none.
    step: the stop step that ended it: already_exited, shutdown_request,
    stdin_close, sigterm or sigkill.
    seconds: how long stopping took.
    """

    exit_status: int | None
    shutdown_reason: str | None
    step: str
    seconds: float


@dataclass(frozen=True)
class StopTimeouts:
    """Seconds each stop step waits before escalating to the next.

    shutdown_request: for the answer to system.shutdown, then again for the exit.
    stdin_close: for the exit after stdin is closed.
    sigterm: for the exit after SIGTERM.
    sigkill: for reaping after SIGKILL of the process group.
    """

    shutdown_request: float = SHUTDOWN_REQUEST_TIMEOUT_S
    stdin_close: float = STDIN_CLOSE_TIMEOUT_S
    sigterm: float = SIGTERM_TIMEOUT_S
    sigkill: float = SIGKILL_TIMEOUT_S
