"""Errors a host sees, each with an actionable message."""

from __future__ import annotations

from typing import Any


class SidecarError(Exception):
    """Base class for every host-side sidecar error."""


class SidecarStartError(SidecarError):
    """The sidecar did not reach READY."""


class BinaryNotFound(SidecarStartError):
    """The command's executable does not exist or cannot be run.

    path: the path that was tried.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"sidecar binary not found or not executable: {path} ({reason})")


class ExitedBeforeReady(SidecarStartError):
    """The process ended before printing READY.

    status: its exit status (negative: killed by that signal).
    stderr_tail: its last stderr lines.
    lines_seen: the stdout lines it printed.
    """

    def __init__(self, status: int | None, stderr_tail: list[str], lines_seen: list[str]) -> None:
        self.status = status
        self.stderr_tail = stderr_tail
        self.lines_seen = lines_seen
        tail = "\n  ".join(stderr_tail[-10:]) or "(no stderr)"
        super().__init__(
            f"sidecar exited with status {status} before READY; stdout lines seen: {lines_seen[:10]!r}; "
            f"stderr tail:\n  {tail}"
        )


class ReadyTimeout(SidecarStartError):
    """No READY line within the timeout (the process was then stopped).

    timeout: seconds waited. lines_seen: stdout lines printed instead.
    stderr_tail: the last stderr lines.
    """

    def __init__(self, timeout: float, lines_seen: list[str], stderr_tail: list[str]) -> None:
        self.timeout = timeout
        self.lines_seen = lines_seen
        self.stderr_tail = stderr_tail
        seen = lines_seen[:10]
        super().__init__(
            f"sidecar printed no READY within {timeout:g}s; stdout lines seen instead: {seen!r}"
            + (f" (and {len(lines_seen) - 10} more)" if len(lines_seen) > 10 else "")
            + f"; last stderr line: {stderr_tail[-1] if stderr_tail else '(none)'!r}"
        )


class RpcCallError(SidecarError):
    """The sidecar answered a call with a JSON-RPC error.

    code, message, data: the error object; kind: ``data.kind`` when present.
    """

    def __init__(self, method: str, code: int, message: str, data: Any) -> None:
        self.method = method
        self.code = code
        self.message = message
        self.data = data
        self.kind = data.get("kind") if isinstance(data, dict) else None
        super().__init__(f"{method} failed: {code} {message} (kind={self.kind})")


class CallTimeout(SidecarError):
    """No answer within the call's timeout (the request may still be running)."""

    def __init__(self, method: str, timeout: float) -> None:
        self.method = method
        self.timeout = timeout
        super().__init__(f"{method}: no answer within {timeout:g}s")


class SidecarExited(SidecarError):
    """The sidecar is gone: every pending call fails with this.

    status: its exit status if known. stderr_tail: its last stderr lines.
    """

    def __init__(self, status: int | None, stderr_tail: list[str]) -> None:
        self.status = status
        self.stderr_tail = stderr_tail
        super().__init__(
            f"sidecar connection closed (exit status {status}); last stderr line: "
            f"{stderr_tail[-1] if stderr_tail else '(none)'!r}"
        )
