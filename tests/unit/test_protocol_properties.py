"""Property-based tests of the protocol core and the dispatcher (hypothesis): generated and mutated
frames (deep nesting, invalid UTF-8, lone surrogates, huge numbers, duplicate keys, batches of every
shape, truncations) never raise, and every answer the in-process sidecar writes is valid JSON-RPC 2.0.

The example count is modest for CI; ``HYPOTHESIS_PROFILE=soak`` runs many more (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import anyio
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.protocol import Batch, ErrorReply, InvalidMessage, Notification, Request, Response, decode_line
from sidecar.protocol.codec import MAX_NESTING_DEPTH, nesting_depth
from tests.unit.test_dispatcher_vectors import InProcessSidecar

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("soak", max_examples=22_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

METHODS = ["system.ping", "test.echo", "test.sleep", "rpc.cancel", "no.such", "test.raise", "system.status"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ids = st.one_of(
    st.integers(-(10**25), 10**25), st.text(max_size=10), st.none(), st.floats(allow_nan=False, allow_infinity=False)
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON-RPC-shaped object, sometimes wrong in one member."""
    message: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", 2.0]))}
    if draw(st.booleans()):
        message["id"] = draw(ids | st.booleans() | st.lists(st.integers(), max_size=2))
    message["method"] = draw(st.sampled_from(METHODS) | st.integers())
    if draw(st.booleans()):
        method = message["method"]
        if method == "test.sleep":
            message["params"] = {"seconds": draw(st.floats(0, 0.01))}
        elif method == "test.echo":
            message["params"] = {"value": draw(json_values)}
        else:
            message["params"] = draw(json_values)
    return message


def _deep(depth: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":1,"method":"test.echo","params":{"value":' + b"[" * depth + b"]" * depth + b"}}"


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """One line: a message, a batch, a deep frame, or bytes mutated from one of those."""
    kind = draw(st.sampled_from(["message", "batch", "deep", "mutated", "raw"]))
    if kind == "message":
        return json.dumps(draw(messages())).encode()
    if kind == "batch":
        items = draw(st.lists(messages() | json_values, max_size=5))
        return json.dumps(items).encode()
    if kind == "deep":
        return _deep(draw(st.integers(1, 3 * MAX_NESTING_DEPTH)))
    base = json.dumps(draw(messages())).encode()
    if kind == "raw":
        return draw(st.binary(max_size=200)).replace(b"\n", b" ")
    # Mutations: a truncation, a flipped byte, a lone surrogate, a duplicate key, a huge number.
    mutation = draw(st.sampled_from(["truncate", "flip", "surrogate", "duplicate", "huge"]))
    if mutation == "truncate":
        return base[: draw(st.integers(0, len(base)))]
    if mutation == "flip":
        at = draw(st.integers(0, len(base) - 1))
        return (base[:at] + bytes([draw(st.integers(0, 255))]) + base[at + 1 :]).replace(b"\n", b" ")
    if mutation == "surrogate":
        return base[:-1] + b',"x":"\\ud800"}'
    if mutation == "duplicate":
        return base[:-1] + b',"id":"second","method":"system.ping"}'
    return base[:-1] + b',"n":' + b"9" * 400 + b"}"


@given(frames())
def test_the_decoder_never_raises(line: bytes) -> None:
    event = decode_line(line)
    assert event is None or isinstance(event, (Request, Notification, Response, ErrorReply, InvalidMessage, Batch))
    if isinstance(event, InvalidMessage):
        assert event.error.code in (-32700, -32600) and event.error.data["kind"] in ("parse_error", "invalid_request")


@given(st.integers(1, 3 * MAX_NESTING_DEPTH))
def test_the_nesting_limit_is_exact(depth: int) -> None:
    frame = _deep(depth)  # the message object and params are two levels around the arrays
    assert nesting_depth(frame) == depth + 2
    decoded = decode_line(frame)
    if depth + 2 > MAX_NESTING_DEPTH:
        assert isinstance(decoded, InvalidMessage) and decoded.error.data["max_depth"] == MAX_NESTING_DEPTH
    else:
        assert isinstance(decoded, Request)


def _expected_lines(line: bytes) -> int:
    """How many output lines a sidecar writes for one input line (JSON-RPC 2.0)."""
    event = decode_line(line)
    if isinstance(event, (Request, InvalidMessage)):
        return 1
    if isinstance(event, Batch):
        return int(any(isinstance(item, (Request, InvalidMessage)) for item in event.items))
    return 0  # a notification, a response sent to us, a blank line


def _check_answer(answer: Any) -> None:
    """One response object as JSON-RPC 2.0 defines it."""
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0" and "id" in answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error["code"], int) and isinstance(error["message"], str)
        assert isinstance(error["data"]["kind"], str) and error["data"]["kind"]


@given(st.lists(frames(), min_size=1, max_size=12))
def test_every_answer_of_the_dispatcher_is_valid_json_rpc(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = anyio.run(InProcessSidecar(Path(folder)).run, lines)
    assert len(out) == sum(_expected_lines(line) for line in lines), (lines, out)
    for raw in out:
        assert raw.endswith(b"\n") and raw.count(b"\n") == 1
        decoded = msgspec.json.decode(raw)
        for answer in decoded if isinstance(decoded, list) else [decoded]:
            _check_answer(answer)
