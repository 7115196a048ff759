"""The sans-IO protocol core against the shared vectors (no processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sidecar.protocol import (
    Batch,
    ErrorReply,
    InvalidMessage,
    LifecycleError,
    LineSplitter,
    Notification,
    OversizeFrame,
    Request,
    Response,
    decode_line,
    format_lifecycle,
    parse_lifecycle,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
JSONRPC = json.loads((VECTORS / "jsonrpc.json").read_text())["cases"]
LIFECYCLE = json.loads((VECTORS / "lifecycle.json").read_text())
FRAMING = json.loads((VECTORS / "framing.json").read_text())["cases"]


def vector_input(case: dict[str, Any]) -> bytes:
    """The input line of a JSON-RPC vector as bytes."""
    if "input_hex" in case:
        return bytes.fromhex(case["input_hex"])
    return case["input"].encode("utf-8")


def _raw(value: msgspec.Raw | None) -> str | None:
    return None if value is None else bytes(value).decode()


def describe(event: Any) -> dict[str, Any]:
    """Turn a decoded event into the vector's ``decode`` shape."""
    if event is None:
        return {"type": "ignored"}
    if isinstance(event, Request):
        return {"type": "request", "id": _raw(event.id), "method": event.method, "params": _raw(event.params)}
    if isinstance(event, Notification):
        return {"type": "notification", "method": event.method, "params": _raw(event.params)}
    if isinstance(event, InvalidMessage):
        return {"type": "invalid", "id": _raw(event.id), "code": event.error.code}
    if isinstance(event, Response):
        return {"type": "response", "id": _raw(event.id), "result": _raw(event.result)}
    if isinstance(event, ErrorReply):
        return {"type": "error_reply", "id": _raw(event.id), "code": event.error.code}
    if isinstance(event, Batch):
        return {"type": "batch", "items": [describe(item) for item in event.items]}
    raise AssertionError(f"unexpected event {event!r}")


def _normalise(expected: dict[str, Any]) -> dict[str, Any]:
    out = dict(expected)
    if out["type"] in ("request", "notification"):
        out.setdefault("params", None)
    if out["type"] == "batch":
        out["items"] = [_normalise(item) for item in out["items"]]
    return out


@pytest.mark.parametrize("case", JSONRPC, ids=[c["name"] for c in JSONRPC])
def test_decode_vector(case: dict[str, Any]) -> None:
    line = vector_input(case).removesuffix(b"\r")  # what the framer hands over
    assert describe(decode_line(line)) == _normalise(case["decode"])


def test_decoder_accepts_a_trailing_cr_itself() -> None:
    line = b'{"jsonrpc":"2.0","id":1,"method":"m"}\r'
    assert isinstance(decode_line(line), Request)


def test_invalid_messages_always_name_their_kind() -> None:
    for case in JSONRPC:
        event = decode_line(vector_input(case))
        items = event.items if isinstance(event, Batch) else (event,)
        for item in items:
            if isinstance(item, InvalidMessage):
                assert item.error.data["kind"] in ("parse_error", "invalid_request")
                assert item.error.data["detail"]


@pytest.mark.parametrize("case", LIFECYCLE["valid"], ids=[c["line"] for c in LIFECYCLE["valid"]])
def test_lifecycle_valid(case: dict[str, Any]) -> None:
    parsed = parse_lifecycle(case["line"])
    assert parsed.token == case["token"]
    assert parsed.fields == case["fields"]
    assert parse_lifecycle(case["line"].encode() + b"\n") == parsed


@pytest.mark.parametrize("case", LIFECYCLE["invalid"], ids=[c["why"] for c in LIFECYCLE["invalid"]])
def test_lifecycle_invalid(case: dict[str, Any]) -> None:
    with pytest.raises(LifecycleError):
        parse_lifecycle(case["line"])


@pytest.mark.parametrize("case", LIFECYCLE["format_invalid"], ids=[c["why"] for c in LIFECYCLE["format_invalid"]])
def test_lifecycle_encoder_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(LifecycleError):
        format_lifecycle(case["token"], **case["fields"])


@pytest.mark.parametrize(
    "case",
    [c for c in LIFECYCLE["valid"] if not c["line"].endswith("\r") and "=b" not in c["line"]],
    ids=lambda c: c["line"],
)
def test_lifecycle_round_trip(case: dict[str, Any]) -> None:
    line = format_lifecycle(case["token"], **case["fields"])
    assert line == case["line"].encode() + b"\n"
    assert line.count(b"\n") == 1 and line.endswith(b"\n")


@pytest.mark.parametrize("case", FRAMING, ids=[c["name"] for c in FRAMING])
def test_framing_vector(case: dict[str, Any]) -> None:
    splitter = LineSplitter(case["max_frame_bytes"])
    out: list[Any] = []
    for chunk in case["chunks"]:
        out.extend(splitter.feed(chunk.encode("latin-1")))
    last = splitter.finish()
    if last is not None:
        out.append(last)
    rendered = [{"oversize": o.size} if isinstance(o, OversizeFrame) else o.decode("latin-1") for o in out]
    assert rendered == case["lines"]


def test_framing_memory_stays_bounded() -> None:
    """A 50 MiB line fed in 64 KiB chunks never makes the splitter hold more than cap + chunk."""
    cap = 1 << 20
    splitter = LineSplitter(cap)
    chunk = b"x" * 65536
    peak = 0
    for _ in range(800):
        assert splitter.feed(chunk) == []
        peak = max(peak, splitter.buffered)
    assert peak <= cap + len(chunk)
    assert splitter.feed(b"\nnext\n") == [OversizeFrame(size=800 * 65536, limit=cap), b"next"]
