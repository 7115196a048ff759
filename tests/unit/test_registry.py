"""The method registry and the error table (no processes)."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from sidecar.protocol import ERROR_TABLE, ErrorCode, RpcError
from sidecar.rpc.dispatcher import RequestContext
from sidecar.rpc.registry import Registry, RegistryError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"


class Point(msgspec.Struct):
    x: int
    y: int = 0


def test_handler_types_are_read_once() -> None:
    registry = Registry()

    @registry.method("geo.point")
    async def point(ctx: RequestContext, params: Point) -> list[int]:
        """Make a point.

        Longer text."""
        return [params.x, params.y]

    spec = registry.get("geo.point")
    assert spec is not None and spec.params_type is Point and spec.is_async
    assert spec.summary == "Make a point." and spec.description == "Longer text."
    assert spec.decode_params(msgspec.Raw(b'{"x":1}')) == Point(1, 0)
    assert spec.decode_params(msgspec.Raw(b"[3,4]")) == Point(3, 4)


def test_invalid_params_carry_the_path() -> None:
    registry = Registry()

    @registry.method("geo.point")
    def point(ctx: RequestContext, params: Point) -> int:
        return params.x

    spec = registry.get("geo.point")
    assert spec is not None
    with pytest.raises(RpcError) as caught:
        spec.decode_params(msgspec.Raw(b'{"x":"one"}'))
    assert caught.value.code == -32602
    assert caught.value.data["path"] == "$.x"
    with pytest.raises(RpcError) as caught:
        spec.decode_params(None)
    assert "x" in caught.value.message


def test_bad_registrations_fail_at_import() -> None:
    registry = Registry()

    async def no_annotation(ctx, params):  # type: ignore[no-untyped-def]
        return 1

    with pytest.raises(RegistryError):
        registry.add("a", no_annotation)

    async def ok(ctx: RequestContext) -> int:
        return 1

    registry.add("b", ok)
    with pytest.raises(RegistryError):
        registry.add("b", ok)


class Moved(msgspec.Struct):
    """``geo.moved`` notification: where the point went.

    x, y: the new place."""

    x: int
    y: int


def test_notifications_are_declared_once_and_discovered_with_their_schema() -> None:
    from sidecar.rpc.discovery import openrpc_document

    registry = Registry()
    registry.notification("geo.moved", Moved)
    with pytest.raises(RegistryError):
        registry.notification("geo.moved", Moved)
    document = openrpc_document(registry)
    assert document["x-notifications"] == [
        {
            "name": "geo.moved",
            "summary": "``geo.moved`` notification: where the point went.",
            "params": {"name": "params", "schema": {"$ref": "#/components/schemas/Moved"}},
        }
    ]
    assert document["components"]["schemas"]["Moved"]["required"] == ["x", "y"]


def test_error_table_matches_the_protocol_doc() -> None:
    """Every code and kind in the table appears in docs/PROTOCOL.md's error table, and vice versa."""
    text = DOCS.read_text()
    documented = {int(code): kind for code, kind in re.findall(r"^\| `(-3\d{4})` \| `([a-z_]+)` \|", text, re.M)}
    assert documented == {int(code): kind for code, (kind, _) in ERROR_TABLE.items()}
    assert ErrorCode.APPLICATION_ERROR in ERROR_TABLE


def _group(registry: Registry, calls: list[str]) -> None:
    calls.append("ran")

    @registry.method("geo.later")
    def later(ctx: RequestContext) -> int:
        """Registered late."""
        return 1


def test_deferred_methods_register_when_first_needed() -> None:
    calls: list[str] = []
    registry = Registry()

    @registry.method("geo.now")
    def now(ctx: RequestContext) -> int:
        """Registered at once."""
        return 0

    registry.defer(lambda r: _group(r, calls))
    assert registry.pending
    assert registry.get("geo.now") is not None and calls == []  # a registered name never runs the group
    assert registry.get("geo.later") is not None and calls == ["ran"]
    assert not registry.pending
    assert registry.get("geo.missing") is None and calls == ["ran"]  # runs once


@pytest.mark.parametrize("use", ["names", "iter", "contains", "missing", "notifications"])
def test_every_listing_and_lookup_sees_deferred_methods(use: str) -> None:
    calls: list[str] = []
    registry = Registry()
    registry.defer(lambda r: _group(r, calls))
    if use == "names":
        assert registry.names() == ["geo.later"]
    elif use == "iter":
        assert [spec.name for spec in registry] == ["geo.later"]
    elif use == "contains":
        assert "geo.later" in registry
    elif use == "missing":
        assert registry.get("geo.other") is None
    else:
        registry.notifications()
    assert calls == ["ran"]


def test_a_late_registration_cannot_take_a_deferred_name() -> None:
    registry = Registry()
    registry.defer(lambda r: _group(r, []))

    def clash(ctx: RequestContext) -> int:
        """Same name."""
        return 2

    with pytest.raises(RegistryError, match="registered twice"):
        registry.add("geo.later", clash)


def test_a_failing_group_keeps_failing_with_its_own_error() -> None:
    registry = Registry()

    def broken(r: Registry) -> None:
        raise ImportError("no module named sidecar.api.gone")

    registry.defer(broken)
    for _ in range(2):
        with pytest.raises(ImportError, match=r"sidecar\.api\.gone"):
            registry.get("geo.any")
    assert registry.pending


def test_the_sidecar_surface_defers_all_but_rpc_and_system() -> None:
    import sidecar.api.surface as surface

    registry = surface.build_registry(test_methods=True)
    assert registry.pending
    assert registry.get("system.ping") is not None and registry.pending
    assert registry.get("db.query") is not None and not registry.pending
    names = registry.names()
    assert any(name.startswith("test.") for name in names)
    assert {name.split(".")[0] for name in names} >= {"rpc", "system", "db", "files", "jobs", "runs"}
