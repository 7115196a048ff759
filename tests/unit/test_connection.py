"""The server-side JSON-RPC connection rules (sidecar.protocol.connection), with plain values."""

from __future__ import annotations

import msgspec

from sidecar.common.errors import ApplicationError, ErrorCode
from sidecar.protocol import ErrorResponse, SuccessResponse, encode_frame
from sidecar.protocol.connection import BatchAnswers, InFlight, ServerConnection, id_key
from sidecar.protocol.messages import OversizeFrame, Raw


def test_ids_are_keys_by_value_and_type() -> None:
    assert id_key(Raw(b'"1"')) == "1" and id_key(Raw(b"1")) == 1
    connection = ServerConnection()
    first = connection.begin(Raw(b"1"), "test.sleep", 0.0)
    second = connection.begin(Raw(b'"1"'), "test.sleep", 0.0)
    assert isinstance(first, InFlight) and isinstance(second, InFlight)
    assert set(connection.inflight) == {1, "1"}


def test_a_duplicate_in_flight_id_is_refused_and_the_first_keeps_running() -> None:
    connection = ServerConnection()
    first = connection.begin(Raw(b"7"), "a", 0.0)
    refused = connection.begin(Raw(b"7"), "b", 0.0)
    assert isinstance(refused, ErrorResponse)
    assert refused.error.code == ErrorCode.INVALID_REQUEST and refused.error.data["kind"] == "duplicate_id"
    assert bytes(refused.id) == b"7"
    assert isinstance(first, InFlight) and connection.inflight[7] is first
    connection.finish(first)
    assert isinstance(connection.begin(Raw(b"7"), "c", 0.0), InFlight)  # free again once answered


def test_cancel_calls_the_handler_stopper_and_answers_cancelled() -> None:
    stopped: list[bool] = []
    connection = ServerConnection()
    entry = connection.begin(Raw(b'"job"'), "test.sleep", 0.0, lambda: stopped.append(True))
    assert isinstance(entry, InFlight)
    assert connection.cancel("job") and stopped == [True]
    assert not connection.cancel("nothing-running")
    answer = ServerConnection.cancelled(Raw(b'"job"'), entry)
    assert answer.error.code == ErrorCode.REQUEST_CANCELLED and answer.error.data["kind"] == "cancelled"
    assert answer.error.data["method"] == "test.sleep"


def test_shutdown_refuses_new_requests_and_cancels_running_ones_with_shutting_down() -> None:
    connection = ServerConnection()
    running = connection.begin(Raw(b"1"), "a", 0.0)
    connection.stop_accepting()
    stopped: list[str] = []
    late = connection.begin(Raw(b"2"), "b", 0.0, lambda: stopped.append("b"))
    assert isinstance(late, InFlight) and stopped == ["b"] and late.cancel_code == ErrorCode.SHUTTING_DOWN
    assert connection.cancel_all() == 2
    assert isinstance(running, InFlight) and running.cancel_code == ErrorCode.SHUTTING_DOWN
    assert ServerConnection.cancelled(Raw(b"1"), running).error.data["kind"] == "shutting_down"


def test_answers_carry_the_raw_id_and_the_error_table() -> None:
    big = Raw(b"12345678901234567890123")
    assert (
        encode_frame(ServerConnection.success(big, 1)) == b'{"jsonrpc":"2.0","id":12345678901234567890123,"result":1}\n'
    )
    failed = ServerConnection.failed(Raw(b"3"), ApplicationError("sql_syntax", "bad SQL", line=2))
    assert failed.error.code == -32000 and failed.error.data == {"kind": "sql_syntax", "line": 2}
    unhandled = ServerConnection.unhandled(Raw(b"4"), "m", ValueError("boom"))
    assert unhandled.error.code == -32099 and unhandled.error.data["exception"] == "ValueError"
    missing = ServerConnection.method_not_found(Raw(b"5"), "no.such")
    assert missing.error.code == -32601 and missing.error.data == {"kind": "method_not_found", "method": "no.such"}
    oversize = ServerConnection.oversize(OversizeFrame(size=100, limit=10))
    assert bytes(oversize.id) == b"null" and oversize.error.data["kind"] == "frame_too_large"


def test_batch_answers_keep_element_order_and_leave_out_notifications() -> None:
    answers = BatchAnswers(3)
    answers.put(2, ServerConnection.success(Raw(b"3"), "c"))
    answers.put(0, ServerConnection.success(Raw(b"1"), "a"))
    answers.put(1, None)  # a notification
    frame = answers.frame()
    assert frame is not None
    assert [msgspec.json.decode(bytes(a.id)) for a in frame if isinstance(a, SuccessResponse)] == [1, 3]
    only_notifications = BatchAnswers(2)
    only_notifications.put(0, None)
    only_notifications.put(1, None)
    assert only_notifications.frame() is None
