"""Masking secrets wherever the engine writes or sends data: logs, job results, errors, reports.

Two rules. :func:`redact` (used on every log record) masks fields whose *name*
looks like a secret and every registered secret *value*. :func:`mask_secrets`
(used on data the engine stores or sends) masks only the registered values: a
payload field ``source_secret`` holding a secret's *name* stays readable, a
secret's value never does. Values register themselves with
:func:`redact_value` when the secret store reads or writes them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, Final

REDACTED: Final = "***"

_SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api_?key|host_?key|authorization|credential|connection_string)", re.I
)
_secret_values: set[str] = set()
_secret_values_lock = threading.Lock()
_redactors: list[Callable[[dict[str, Any]], dict[str, Any]]] = []


def redact_value(value: str) -> None:
    """Never log ``value`` again, wherever it appears (secrets register themselves here)."""
    if value:
        with _secret_values_lock:
            _secret_values.add(value)


def add_redactor(hook: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Add a hook that gets each record's context dict and returns it cleaned."""
    _redactors.append(hook)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` with secret-named fields and registered secret values masked."""
    if isinstance(obj, dict):
        return {k: (REDACTED if _SECRET_KEY.search(str(k)) else redact(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return _mask(obj)
    return obj


def redact_context(ctx: dict[str, Any]) -> dict[str, Any]:
    """A log record's context with :func:`redact` and every hook from :func:`add_redactor` applied."""
    cleaned: dict[str, Any] = redact(ctx)
    for hook in _redactors:
        cleaned = hook(cleaned)
    return cleaned


def _mask(text: str) -> str:
    if _secret_values:
        with _secret_values_lock:
            values = sorted(_secret_values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
    return text


def mask_secrets(obj: Any) -> Any:
    """A copy of ``obj`` with every registered secret value replaced by ``***``."""
    if isinstance(obj, str):
        return _mask(obj)
    if isinstance(obj, dict):
        return {key: mask_secrets(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [mask_secrets(value) for value in obj]
    return obj
