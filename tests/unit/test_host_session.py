"""The host-side stdio session (sidecar.protocol.host_session), with plain lists of lines."""

from __future__ import annotations

import msgspec

from sidecar.protocol import ErrorReply, OversizeFrame, Response, decode_line
from sidecar.protocol.host_session import (
    Answer,
    Boot,
    CallTable,
    Heartbeat,
    NoteReceived,
    Shutdown,
    StdoutEvent,
    StdoutSession,
    Violation,
)


def feed(session: StdoutSession, lines: list[bytes]) -> list[StdoutEvent]:
    return [event for line in lines for event in session.on_line(line)]


def names(events: list[StdoutEvent]) -> list[str]:
    out = []
    for event in events:
        if isinstance(event, Violation):
            out.append(f"violation {event.kind}")
        elif isinstance(event, Answer):
            out.append(f"answer {bytes(event.message.id).decode()}")
        elif isinstance(event, NoteReceived):
            out.append(f"note {event.notification.method}")
        elif isinstance(event, Heartbeat):
            out.append(f"heartbeat {event.line.get('seq')}")
        elif isinstance(event, Shutdown):
            out.append(f"shutdown {event.reason}")
        else:
            out.append(type(event).__name__.lower())
    return out


def test_a_clean_run() -> None:
    session = StdoutSession()
    events = feed(
        session,
        [
            b"BOOT sidecar=sidecar version=0.1.0 protocol=1 pid=42",
            b"READY",
            b'{"jsonrpc":"2.0","method":"job.progress","params":{"progress":0.5}}',
            b"HEARTBEAT seq=1 uptime_ms=5000",
            b'{"jsonrpc":"2.0","id":1,"result":{"pong":true}}',
            b"SHUTDOWN reason=normal",
        ],
    )
    assert names(events) == ["boot", "ready", "note job.progress", "heartbeat 1", "answer 1", "shutdown normal"]
    assert isinstance(events[0], Boot) and events[0].line.get("pid") == "42"
    assert session.ready and session.shutdown is not None


def test_order_violations() -> None:
    session = StdoutSession()
    events = feed(
        session,
        [
            b"READY",
            b"BOOT sidecar=s version=1 protocol=1 pid=1",
            b"READY",
            b"READY",
            b"BOOT sidecar=s version=1 protocol=1 pid=2",
            b"SHUTDOWN reason=signal",
            b"READY",
        ],
    )
    assert names(events) == [
        "violation boot_not_first",
        "ready",
        "violation boot_not_first",
        "violation duplicate_ready",
        "violation duplicate_ready",
        "violation boot_not_first",
        "shutdown signal",
        "violation line_after_shutdown",
        "violation duplicate_ready",
    ]
    assert session.boot is not None and session.boot.get("pid") == "2"  # the latest BOOT is kept


def test_stray_and_malformed_lines() -> None:
    session = StdoutSession()
    events = feed(
        session,
        [
            b"BOOT sidecar=s version=1 protocol=1 pid=1",
            b"hello from print()",
            b"READY now",
            b'{"jsonrpc":"2.0","id":3,"method":"host.do"}',
            b"{not json",
        ],
    )
    assert names(events) == [
        "boot",
        "violation non_protocol_line",
        "violation malformed_lifecycle",
        "violation non_protocol_line",
        "violation non_protocol_line",
    ]
    assert (
        next(e for e in session.on_line(OversizeFrame(size=9, limit=4)) if isinstance(e, Violation)).kind == "oversize"
    )


def test_a_batch_line_gives_one_answer_per_element() -> None:
    session = StdoutSession()
    line = b'[{"jsonrpc":"2.0","id":1,"result":1},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"x"}}]'
    events = session.on_line(line)
    assert names(events) == ["answer 1", "answer 2"]
    assert all(isinstance(e, Answer) and e.line == line for e in events)


def test_call_table_numbers_calls_and_matches_only_its_own_answers() -> None:
    calls = CallTable()
    first, frame = calls.start("system.ping")
    assert first == 1 and msgspec.json.decode(frame) == {"jsonrpc": "2.0", "id": 1, "method": "system.ping"}
    second, _ = calls.start("db.query", {"sql": "SELECT 1"})
    assert calls.next_id == 3 and calls.pending() == [1, 2]

    def answer(line: bytes) -> Response | ErrorReply:
        event = decode_line(line)
        assert isinstance(event, (Response, ErrorReply))
        return event

    assert calls.match(answer(b'{"jsonrpc":"2.0","id":2,"result":[]}')) == second
    assert calls.match(answer(b'{"jsonrpc":"2.0","id":"1","result":[]}')) is None  # a string id is not ours
    assert calls.match(answer(b'{"jsonrpc":"2.0","id":9,"result":[]}')) is None
    calls.finish(first)
    assert calls.match(answer(b'{"jsonrpc":"2.0","id":1,"result":[]}')) is None  # timed out: a late answer is unmatched
    assert msgspec.json.decode(CallTable.cancel_frame(first)) == {
        "jsonrpc": "2.0",
        "method": "rpc.cancel",
        "params": {"id": 1},
    }
