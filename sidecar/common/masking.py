"""Mask secret values inside data the engine stores or sends (job results, errors, reports).

Unlike the log redactor's key rule (any field named like "secret" becomes
``***``), this only replaces the *values* registered with
:func:`sidecar.logs.redact_value`: a payload field ``source_secret`` holding
a secret's *name* stays readable, a secret's value never does.
"""

from __future__ import annotations

from typing import Any

from sidecar.daemon.logs import redact


def mask_secrets(obj: Any) -> Any:
    """A copy of ``obj`` with every registered secret value replaced by ``***``."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {key: mask_secrets(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [mask_secrets(value) for value in obj]
    return obj
