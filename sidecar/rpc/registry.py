"""The method registry: typed handlers, params decoding, and the OpenRPC document.

A handler is ``async def f(ctx, params: P) -> R`` (or ``def`` for methods that
answer at once without awaiting; those run inline, with no task spawned).
``P`` is a msgspec Struct (or absent for methods without params); ``R`` is any
msgspec-encodable type. Types are read once, at registration.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, get_type_hints

import msgspec
from msgspec import Raw

from sidecar.protocol import ErrorCode, RpcError
from sidecar.protocol.messages import raw_first_byte

Handler = Callable[..., Awaitable[Any]] | Callable[..., Any]

_PATH_IN_MESSAGE: Final = re.compile(r" - at `(?P<path>[^`]*)`$")
_NO_PARAMS_RAW: Final = frozenset({b"{}", b"[]"})


class RegistryError(Exception):
    """A handler was registered wrongly (a programming error, raised at import)."""


class MethodSpec(msgspec.Struct, frozen=True):
    """What the dispatcher needs to call one method.

    name: the JSON-RPC method name.
    handler: the function.
    params_type: the Struct params decode into, or None for a method without params.
    result_type: the declared result type (for discovery).
    summary: the first line of the handler's docstring.
    description: the rest of the docstring.
    is_async: False for inline methods (plain ``def``).
    decoder: a msgspec decoder for object params (built once).
    field_names: the params fields in order (for positional params).
    host_only: only the trusted host may call it (its params carry ``host_key``; discovery
    marks it ``x-host-only`` so a host never forwards it from a webview).
    app: the app package that registered it (discovery marks it ``x-app``), None for a built-in.
    """

    name: str
    handler: Handler
    params_type: type[msgspec.Struct] | None
    result_type: Any
    summary: str
    description: str
    is_async: bool
    decoder: msgspec.json.Decoder[Any] | None
    field_names: tuple[str, ...]
    host_only: bool = False
    app: str | None = None

    def decode_params(self, raw: Raw | None) -> msgspec.Struct | None:
        """Decode raw params into ``params_type``; errors become -32602 with the JSON path."""
        if self.params_type is None:
            if raw is None or (len(memoryview(raw)) <= 16 and bytes(raw).replace(b" ", b"") in _NO_PARAMS_RAW):
                return None
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                f"{self.name} takes no params",
                data={"path": "$", "detail": "expected no params"},
            )
        assert self.decoder is not None
        try:
            if raw is None:
                return msgspec.convert({}, self.params_type)
            if raw_first_byte(raw) == b"[":
                return self._decode_positional(raw)
            decoded: msgspec.Struct = self.decoder.decode(raw)
            return decoded
        except msgspec.ValidationError as exc:
            raise invalid_params(exc) from None

    def _decode_positional(self, raw: Raw) -> msgspec.Struct:
        values = msgspec.json.decode(raw, type=list[Any])
        if len(values) > len(self.field_names):
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                f"{self.name} takes at most {len(self.field_names)} positional params, got {len(values)}",
                data={"path": "$", "detail": "too many positional params"},
            )
        assert self.params_type is not None
        return msgspec.convert(dict(zip(self.field_names, values, strict=False)), self.params_type)


class NotificationSpec(msgspec.Struct, frozen=True):
    """A notification the sidecar sends to the host, declared so discovery can describe it.

    name: the method, e.g. ``job.status``. params_type: the Struct its params are made from.
    summary: the first line of that Struct's docstring.
    """

    name: str
    params_type: type[msgspec.Struct]
    summary: str


def invalid_params(exc: msgspec.ValidationError) -> RpcError:
    """Turn msgspec's validation error into -32602 carrying the JSON path in ``data.path``."""
    text = str(exc)
    match = _PATH_IN_MESSAGE.search(text)
    path = match.group("path") if match else "$"
    detail = text[: match.start()] if match else text
    return RpcError(ErrorCode.INVALID_PARAMS, f"Invalid params: {text}", data={"path": path, "detail": detail})


class Registry:
    """Methods by name. Later registrations of the same name are refused."""

    def __init__(self) -> None:
        self._methods: dict[str, MethodSpec] = {}
        self._notifications: dict[str, NotificationSpec] = {}
        self._deferred: list[Callable[[Registry], None]] = []
        self._failed: Exception | None = None

    def defer(self, register: Callable[[Registry], None]) -> None:
        """Run ``register(self)`` when a method it may add is first needed, instead of now.

        Any lookup of a name not yet registered, any listing (discovery) and any later
        registration run every deferred group first, so a deferred method is never
        reported missing and a name can never be taken twice. The sidecar defers the
        engine's namespaces: importing them and reading their types is a tenth of a start,
        and ``system.ping``/``system.status`` need none of it before READY.
        """
        self._deferred.append(register)

    def complete(self) -> None:
        """Run the deferred registrations now (a no-op once done). When a group raises, every
        later call raises that same error, never "method not found" for what it would have added."""
        if self._failed is not None:
            raise self._failed
        while self._deferred:
            register = self._deferred.pop(0)  # first: what it registers calls complete() again
            try:
                register(self)
            except Exception as exc:
                self._failed = exc
                raise

    @property
    def pending(self) -> bool:
        """True while deferred registrations have not run."""
        return bool(self._deferred) or self._failed is not None

    def get(self, name: str) -> MethodSpec | None:
        """The method called ``name``, if registered (running deferred groups when it is not yet)."""
        spec = self._methods.get(name)
        if spec is None and self.pending:
            self.complete()
            spec = self._methods.get(name)
        return spec

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __iter__(self) -> Iterator[MethodSpec]:
        self.complete()
        return iter(sorted(self._methods.values(), key=lambda spec: spec.name))

    def names(self) -> list[str]:
        """Every registered method name, sorted."""
        self.complete()
        return sorted(self._methods)

    def notification(self, name: str, params_type: type[msgspec.Struct]) -> NotificationSpec:
        """Declare a notification the sidecar sends (``rpc.discover`` lists it under ``x-notifications``,
        so hosts can generate its type); declaring one name twice is refused."""
        self.complete()
        if name in self._notifications:
            raise RegistryError(f"notification {name!r} declared twice")
        summary = (inspect.getdoc(params_type) or "").partition("\n")[0].strip()
        spec = NotificationSpec(name, params_type, summary)
        self._notifications[name] = spec
        return spec

    def notifications(self) -> list[NotificationSpec]:
        """Every declared notification, sorted by name."""
        self.complete()
        return [self._notifications[name] for name in sorted(self._notifications)]

    def method(self, name: str, *, host_only: bool = False) -> Callable[[Handler], Handler]:
        """Decorator: register ``handler`` under ``name`` (``host_only``: see MethodSpec)."""

        def register(handler: Handler) -> Handler:
            self.add(name, handler, host_only=host_only)
            return handler

        return register

    def add(self, name: str, handler: Handler, *, host_only: bool = False, app: str | None = None) -> MethodSpec:
        """Register a handler; its signature is ``(ctx)`` or ``(ctx, params: Struct)``
        (``app``: the app package adding it, see MethodSpec)."""
        self.complete()
        if name in self._methods:
            raise RegistryError(f"method {name!r} registered twice")
        hints = get_type_hints(handler)
        parameters = list(inspect.signature(handler).parameters.values())
        if not 1 <= len(parameters) <= 2:
            raise RegistryError(f"{name}: a handler takes (ctx) or (ctx, params)")
        params_type: type[msgspec.Struct] | None = None
        if len(parameters) == 2:
            params_type = hints.get(parameters[1].name)
            if not (isinstance(params_type, type) and issubclass(params_type, msgspec.Struct)):
                raise RegistryError(f"{name}: params must be annotated with a msgspec Struct")
        if "return" not in hints:
            raise RegistryError(f"{name}: the result type must be annotated")
        if host_only and (params_type is None or "host_key" not in params_type.__struct_fields__):
            raise RegistryError(f"{name}: a host-only method's params must have a host_key field")
        doc = inspect.getdoc(handler) or ""
        summary, _, description = doc.partition("\n")
        spec = MethodSpec(
            name=name,
            handler=handler,
            params_type=params_type,
            result_type=hints["return"],
            summary=summary.strip(),
            description=description.strip(),
            is_async=inspect.iscoroutinefunction(handler),
            decoder=msgspec.json.Decoder(params_type) if params_type else None,
            field_names=tuple(f.name for f in msgspec.structs.fields(params_type)) if params_type else (),
            host_only=host_only,
            app=app,
        )
        self._methods[name] = spec
        return spec
