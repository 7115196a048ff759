"""Secrets in the OS keychain (keyring), under a service named after the app.

Never a plaintext fallback: when keyring's chosen backend is not a real
keychain (``fail.Keyring`` on a Linux box without a Secret Service, or any
backend outside the list below, such as keyrings.alt's plaintext file), every
call fails with data.kind ``keychain_unavailable``. Values are registered
with the log redactor the moment they are seen, and the only thing stored
outside the keychain is nothing at all: the list of names lives in the
keychain too (one extra entry), so the data dir never learns them either.

keyring is imported on first use (it scans entry points: ~125 ms), in a
worker thread; calls are serialised, which also keeps the name list exact.
"""

import logging
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

import anyio
import anyio.to_thread
import msgspec
from msgspec import Meta, Struct

from sidecar.common.errors import ApplicationError
from sidecar.common.redaction import redact_value

T = TypeVar("T")

log = logging.getLogger("sidecar.secrets")

#: Backends that keep secrets in a real OS keychain.
TRUSTED_BACKEND_MODULES: Final = frozenset(
    {
        "keyring.backends.SecretService",
        "keyring.backends.libsecret",
        "keyring.backends.kwallet",
        "keyring.backends.macOS",
        "keyring.backends.Windows",
    }
)
#: The keychain entry (same service) that lists the secret names.
NAMES_ENTRY: Final = "__sidecar_secret_names__"
MAX_VALUE_BYTES: Final = 64 * 1024

SecretName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")]


class SecretSetParams(Struct, forbid_unknown_fields=True):
    """name: letters, digits, ``_ . -`` (up to 128). value: the secret (up to 64 KiB); never logged or stored on disk."""

    name: SecretName
    value: Annotated[str, Meta(min_length=1)]


class SecretNameParams(Struct, forbid_unknown_fields=True):
    """name: the secret's name."""

    name: SecretName


class SecretGetParams(Struct, forbid_unknown_fields=True):
    """name: the secret's name. host_key: the key the host started the sidecar with (secrets.get is host-only)."""

    name: SecretName
    host_key: Annotated[str, Meta(min_length=1, max_length=1024)]


class SecretSetResult(Struct):
    """name: the secret stored. created: false when it replaced an existing value."""

    name: str
    created: bool


class SecretGetResult(Struct):
    """name: the secret. value: its value."""

    name: str
    value: str


class SecretDeleteResult(Struct):
    """name: the secret. deleted: false when there was no such secret."""

    name: str
    deleted: bool


class SecretListResult(Struct):
    """names: every stored secret name, sorted (values are never listed)."""

    names: list[str]


class SecretStore:
    """keyring behind an async, serialised, no-fallback interface."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._keyring: Any = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # ------------------------------------------------------------ public API

    async def set(self, name: str, value: str) -> bool:
        """Store ``value`` under ``name``; True if the name is new."""
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise ApplicationError("invalid_input", f"a secret value is limited to {MAX_VALUE_BYTES} bytes")
        redact_value(value)
        created = await self._call(self._set, name, value)
        log.info("secret stored", extra={"ctx": {"name": name, "created": created}})
        return created

    async def get(self, name: str) -> str:
        """The value of ``name`` (data.kind secret_not_found when there is none)."""
        value = await self._call(self._get, name)
        if value is None:
            raise ApplicationError("secret_not_found", f"no secret named {name!r}", name=name)
        redact_value(value)
        return value

    async def delete(self, name: str) -> bool:
        """Remove ``name``; False if it did not exist."""
        deleted = await self._call(self._delete, name)
        log.info("secret deleted", extra={"ctx": {"name": name, "deleted": deleted}})
        return deleted

    async def names(self) -> list[str]:
        """Every stored name, sorted."""
        return sorted(await self._call(self._names))

    # ------------------------------------------------------------ worker-thread side

    def _backend(self) -> Any:
        if self._keyring is not None:
            return self._keyring
        try:
            import keyring  # first use only: entry-point scanning is slow

            backend = keyring.get_keyring()
        except Exception as exc:  # keyring's own start-up failing is also "no keychain"
            raise ApplicationError("keychain_unavailable", f"no usable keychain: {exc}", backend=None) from exc
        name = f"{type(backend).__module__}.{type(backend).__qualname__}"
        if not _trusted(backend):
            log.error("no usable keychain", extra={"ctx": {"backend": name}})
            raise ApplicationError(
                "keychain_unavailable",
                f"no usable OS keychain (keyring chose {name}); secrets are never stored in plain files",
                backend=name,
            )
        log.info("keychain ready", extra={"ctx": {"backend": name, "service": self.service}})
        self._keyring = backend
        return backend

    def _guard(self, fn: Callable[..., T], *args: Any) -> T:
        backend = self._backend()
        try:
            return fn(backend, *args)
        except ApplicationError:
            raise
        except Exception as exc:  # the keychain boundary: any backend failure becomes a typed error
            raise _keychain_error(exc) from exc

    def _set(self, name: str, value: str) -> bool:
        def work(backend: Any) -> bool:
            created = backend.get_password(self.service, name) is None
            backend.set_password(self.service, name, value)
            names = self._read_names(backend)
            if name not in names:
                names.append(name)
                self._write_names(backend, names)
            return created

        return self._guard(work)

    def _get(self, name: str) -> str | None:
        def work(backend: Any) -> str | None:
            value: str | None = backend.get_password(self.service, name)
            return value

        return self._guard(work)

    def _delete(self, name: str) -> bool:
        def work(backend: Any) -> bool:
            existed = backend.get_password(self.service, name) is not None
            if existed:
                backend.delete_password(self.service, name)
            names = self._read_names(backend)
            if name in names:
                names.remove(name)
                self._write_names(backend, names)
            return existed

        return self._guard(work)

    def _names(self) -> list[str]:
        return self._guard(self._read_names)

    def _read_names(self, backend: Any) -> list[str]:
        stored = backend.get_password(self.service, NAMES_ENTRY)
        if not stored:
            return []
        try:
            return list(msgspec.json.decode(stored, type=list[str]))
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.error("the secret name list in the keychain is damaged; starting a new one")
            return []

    def _write_names(self, backend: Any, names: list[str]) -> None:
        backend.set_password(self.service, NAMES_ENTRY, msgspec.json.encode(sorted(names)).decode())


def _trusted(backend: Any) -> bool:
    """True when ``backend`` (or every backend a chainer holds) is a real OS keychain."""
    children = getattr(backend, "backends", None)
    if type(backend).__module__ == "keyring.backends.chainer" and children is not None:
        return bool(children) and all(_trusted(child) for child in children)
    return type(backend).__module__ in TRUSTED_BACKEND_MODULES


def _keychain_error(exc: Exception) -> ApplicationError:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "KeyringLocked" in names:
        return ApplicationError("keychain_locked", f"the keychain is locked: {exc}")
    if names & {"NoKeyringError", "InitError"}:
        return ApplicationError("keychain_unavailable", f"no usable keychain: {exc}", backend=None)
    return ApplicationError(
        "keychain_error", f"keychain failure: {type(exc).__name__}: {exc}", error=type(exc).__name__
    )
