"""The check every host-only method makes first: the caller knows the host's key.

A host starts the sidecar with a fresh random key in ``SIDECAR_HOST_KEY`` (it
never reaches the webview) and adds it to the params of host-only calls. A
webview whose forwarded call slipped past the host's own allow-list still
cannot grant itself a file or read a secret's value: the second layer of
docs/SECURITY.md.
"""

from __future__ import annotations

from sidecar.api.context import Ctx
from sidecar.common.errors import ApplicationError


def require_host_key(ctx: Ctx, method: str, given: str) -> None:
    """Return when ``given`` is the host's key; raise ``host_only`` otherwise."""
    expected = ctx.app.config.host_key
    if expected is None:
        raise ApplicationError(
            "host_only",
            f"{method} is host-only, and this sidecar was started without a host key (SIDECAR_HOST_KEY)",
            method=method,
        )
    import hmac  # here: at the top it loaded hashlib's OpenSSL (~1 ms) before READY for no call

    if not hmac.compare_digest(given.encode(), expected.encode()):  # constant time: no guessing by timing
        raise ApplicationError("host_only", f"{method} is host-only: the host_key is wrong", method=method)
