"""Lifecycle lines: ``TOKEN( key=value)*``, one per line on stdout.

The grammar is deliberately tiny so every host (Python, Rust, a shell script)
can parse it with a split on spaces:

* ``TOKEN`` is one of :data:`LIFECYCLE_TOKENS`;
* a key matches ``[A-Za-z_][A-Za-z0-9_]*``;
* a value is one or more printable ASCII characters other than space and ``=``
  is allowed inside a value; it can never hold a space, tab, CR or LF.

Hosts must ignore keys they do not know, so fields can be added freely.
"""

from __future__ import annotations

import re
from typing import Final, Literal, TypeGuard

from msgspec import Struct

LifecycleToken = Literal["BOOT", "READY", "HEARTBEAT", "SHUTDOWN"]
LIFECYCLE_TOKENS: Final = frozenset({"BOOT", "READY", "HEARTBEAT", "SHUTDOWN"})

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VALUE = re.compile(r"[\x21-\x7e]+\Z")


class LifecycleError(ValueError):
    """A line that claims to be a lifecycle line but breaks the grammar."""


class LifecycleLine(Struct, frozen=True):
    """One parsed lifecycle line.

    token: BOOT, READY, HEARTBEAT or SHUTDOWN.
    fields: the ``key=value`` pairs in the order they appeared.
    """

    token: LifecycleToken
    fields: dict[str, str] = {}

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of ``key``, or ``default`` when the line does not carry it."""
        return self.fields.get(key, default)


def format_lifecycle(token: LifecycleToken, **fields: object) -> bytes:
    """Encode one lifecycle line, ``\\n``-terminated.

    Values are rendered with ``str()``; a value that would break the grammar
    (empty, or holding whitespace or a non-ASCII character) raises
    :class:`LifecycleError` instead of producing an ambiguous line.
    """
    if token not in LIFECYCLE_TOKENS:
        raise LifecycleError(f"unknown lifecycle token {token!r}")
    parts: list[str] = [token]
    for key, raw in fields.items():
        value = str(raw)
        if not _KEY.match(key):
            raise LifecycleError(f"bad lifecycle key {key!r}")
        if not _VALUE.match(value):
            raise LifecycleError(f"bad lifecycle value for {key}: {value!r}")
        parts.append(f"{key}={value}")
    return (" ".join(parts) + "\n").encode("ascii")


def is_lifecycle_line(line: bytes | str) -> bool:
    """Cheap test: does this stdout line start with a lifecycle token?"""
    if isinstance(line, str):
        line = line.encode("utf-8", "replace")
    head = line.split(b" ", 1)[0].rstrip(b"\r\n")
    return head.decode("ascii", "replace") in LIFECYCLE_TOKENS


def _is_token(text: str) -> TypeGuard[LifecycleToken]:
    return text in LIFECYCLE_TOKENS


def parse_lifecycle(line: bytes | str) -> LifecycleLine:
    """Parse one lifecycle line (a trailing ``\\n`` or ``\\r\\n`` is trimmed).

    Raises :class:`LifecycleError` when the token is unknown or a field is
    malformed. Unknown keys are kept, never rejected.
    """
    if isinstance(line, bytes):
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError as exc:
            raise LifecycleError("lifecycle lines are ASCII") from exc
    else:
        text = line
    text = text.removesuffix("\n").removesuffix("\r")
    token, *pairs = text.split(" ")
    if not _is_token(token):
        raise LifecycleError(f"unknown lifecycle token {token!r}")
    fields: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _KEY.match(key) or not _VALUE.match(value):
            raise LifecycleError(f"malformed lifecycle field {pair!r}")
        fields[key] = value
    return LifecycleLine(token, fields)
