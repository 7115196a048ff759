"""Every JSON-RPC vector against a real sidecar process, plus concurrency, cancel and discovery."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar_host import RpcCallError
from tests.support import check_stdout, frames, match_answer, run_once, running_sidecar
from tests.unit.test_protocol_vectors import JSONRPC, vector_input

#: The vectors that also run against the real process (all of them run in-process in
#: tests/unit/test_dispatcher_vectors.py): one per stdio concern (exact id echo, framing
#: with CR and invalid UTF-8, batches, the no-answer cases, errors from the handler).
PROCESS_VECTORS = (
    "request with object params",
    "big integer id echoed exactly",
    "escaped string id echoed byte for byte",
    "CRLF line ending",
    "invalid UTF-8",
    "mixed batch",
    "batch of only notifications gives no output",
    "notification is never answered",
    "invalid JSON",
    "handler exception is a server error",
)
PROCESS_CASES = [case for case in JSONRPC if case["name"] in PROCESS_VECTORS]


def test_process_vectors_exist() -> None:
    assert len(PROCESS_CASES) == len(PROCESS_VECTORS)


@pytest.mark.parametrize("case", PROCESS_CASES, ids=[c["name"] for c in PROCESS_CASES])
def test_vector_against_the_process(case: dict[str, Any], data_dir: Path) -> None:
    """One process per vector, fed the line then EOF: stdout must hold exactly the expected answer."""
    proc = run_once(data_dir, vector_input(case) + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    lines = check_stdout(proc.stdout)
    assert lines[0].startswith("BOOT ") and lines[1] == "READY" and lines[-1] == "SHUTDOWN reason=normal"
    answers = frames(lines)
    if case["respond"] is None:
        assert answers == []
        return
    assert len(answers) == 1, answers
    match_answer(answers[0], case["respond"])
    if isinstance(case["respond"], dict):
        # The id is echoed byte for byte, not just as an equal value.
        raw_line = next(line for line in lines if line.startswith("{"))
        assert f'"id":{case["respond"]["id"]},' in raw_line


@pytest.mark.anyio
async def test_slow_handler_never_delays_ping(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        async with anyio.create_task_group() as tg:
            slow_done: list[float] = []

            async def slow() -> None:
                await sidecar.call("test.sleep", {"seconds": 1.5})
                slow_done.append(time.monotonic())

            tg.start_soon(slow)
            await anyio.sleep(0.1)
            started = time.monotonic()
            pong = await sidecar.call("system.ping")
            ping_done = time.monotonic()
        assert pong["pong"] is True
        assert ping_done - started < 0.5
        assert slow_done and slow_done[0] > ping_done


@pytest.mark.anyio
async def test_many_concurrent_requests_run_concurrently(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(sidecar.call, "test.sleep", {"seconds": 0.5})
        assert time.monotonic() - started < 3.0  # serial would take 50 s


@pytest.mark.anyio
async def test_rpc_cancel_stops_the_request_and_answers_it(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        outcome: dict[str, Any] = {}

        async def long_call() -> None:
            try:
                await sidecar.call("test.sleep", {"seconds": 60})
            except RpcCallError as exc:
                outcome["error"] = exc
                outcome["at"] = time.monotonic()

        async with anyio.create_task_group() as tg:
            target_id = sidecar.next_request_id
            tg.start_soon(long_call)
            await anyio.sleep(0.2)
            status = await sidecar.call("system.status")
            assert [r["id"] for r in status["inflight"]] == [target_id]
            assert status["inflight"][0]["method"] == "test.sleep"
            asked = time.monotonic()
            assert await sidecar.call("rpc.cancel", {"id": target_id}) == {"cancelled": True}
        error = outcome["error"]
        assert error.code == -32001 and error.kind == "cancelled"
        assert outcome["at"] - asked < 1.0
        assert await sidecar.call("rpc.cancel", {"id": target_id}) == {"cancelled": False}
        assert (await sidecar.call("system.status"))["inflight"] == []


@pytest.mark.anyio
async def test_cancel_as_a_notification(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        errors: list[RpcCallError] = []

        async def long_call() -> None:
            try:
                await sidecar.call("test.sleep", {"seconds": 60})
            except RpcCallError as exc:
                errors.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                target_id = sidecar.next_request_id
                tg.start_soon(long_call)
                await anyio.sleep(0.2)
                await sidecar.notify("rpc.cancel", {"id": target_id})
        assert [e.kind for e in errors] == ["cancelled"]


@pytest.mark.anyio
async def test_duplicate_inflight_id_is_refused(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        line = b'{"jsonrpc":"2.0","id":"dup","method":"test.sleep","params":{"seconds":0.5}}\n'
        await sidecar.send_raw(line + line)
        first = await sidecar.unmatched.receive()
        second = await sidecar.unmatched.receive()
        assert first.value["error"]["data"]["kind"] == "duplicate_id"
        assert first.value["error"]["code"] == -32600
        assert second.value["result"] is True


@pytest.mark.anyio
async def test_notifications_reach_the_host_in_order(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        assert await sidecar.call("test.notify", {"count": 5}) == 5
        notes = [await sidecar.notifications.receive() for _ in range(5)]
        assert [n.method for n in notes] == ["test.note"] * 5
        assert [json.loads(bytes(n.params))["seq"] for n in notes] == [0, 1, 2, 3, 4]


@pytest.mark.anyio
async def test_discover_describes_every_method(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        doc = await sidecar.call("rpc.discover")
        methods = {m["name"]: m for m in doc["methods"]}
        for name in ("system.ping", "system.status", "system.shutdown", "rpc.cancel", "rpc.discover"):
            assert name in methods and methods[name]["summary"]
        sleep_params = methods["test.sleep"]["params"]
        assert sleep_params == [{"name": "seconds", "required": True, "schema": {"type": "number"}}]
        cancel = methods["rpc.cancel"]["params"]
        assert cancel[0]["name"] == "id" and cancel[0]["required"] is True
        assert methods["test.echo"]["params"][0]["required"] is False
        assert doc["info"]["version"] and doc["openrpc"]
        status_schema = methods["system.status"]["result"]["schema"]
        assert status_schema == {"$ref": "#/components/schemas/StatusResult"}
        assert "pid" in doc["components"]["schemas"]["StatusResult"]["properties"]


@pytest.mark.anyio
async def test_status_reports_the_process(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        status = await sidecar.call("system.status")
        assert status["name"] == "sidecar" and status["protocol"] == 1
        assert status["pid"] == int(sidecar.boot.get("pid"))
        assert status["version"] == sidecar.boot.get("version")
        assert status["paths"]["data_dir"] == str(data_dir)
        assert status["uptime_ms"] >= 0
        assert "getppid" in status["parent_watch"]


@pytest.mark.anyio
async def test_test_methods_are_absent_without_the_flag(data_dir: Path) -> None:
    from tests.support import sidecar_env

    env = sidecar_env()
    env.pop("SIDECAR_TEST_METHODS")
    async with running_sidecar(data_dir, env=env) as sidecar:
        with pytest.raises(RpcCallError) as caught:
            await sidecar.call("test.echo", {"value": 1})
        assert caught.value.code == -32601
        names = {m["name"] for m in (await sidecar.call("rpc.discover"))["methods"]}
        assert not any(name.startswith("test.") for name in names)


@pytest.mark.anyio
async def test_a_frame_nested_too_deep_is_answered_and_the_next_request_served(data_dir: Path) -> None:
    """1,000 levels used to end the process (msgspec's RecursionError escaped the decoder)."""
    deep = b'{"jsonrpc":"2.0","id":1,"method":"system.ping","params":' + b"[" * 1000 + b"]" * 1000 + b"}\n"
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.send_raw(deep)
        refused = await sidecar.unmatched.receive()
        assert refused.value["id"] is None and refused.value["error"]["code"] == -32700
        assert refused.value["error"]["data"] == {
            "kind": "parse_error",
            "detail": "nesting deeper than 128 levels",
            "max_depth": 128,
        }
        assert (await sidecar.call("system.ping"))["pong"] is True
    assert sidecar.violations == []
    assert sidecar.stop_result is not None and sidecar.stop_result.shutdown_reason == "normal"


def test_engine_methods_are_served_from_the_first_line(data_dir: Path) -> None:
    """The engine's namespaces are registered after READY; requests written before READY (all
    of stdin here, written at spawn) are answered as usual, never -32601, and discovery lists
    every namespace."""
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "settings.get", "params": {"key": "absent"}},
        {"jsonrpc": "2.0", "id": 2, "method": "rpc.discover"},
        {"jsonrpc": "2.0", "id": 3, "method": "db.nope"},
        {"jsonrpc": "2.0", "id": 4, "method": "system.ping"},
    ]
    proc = run_once(data_dir, b"".join(json.dumps(r).encode() + b"\n" for r in requests))
    answers = {frame["id"]: frame for frame in frames(check_stdout(proc.stdout))}
    assert set(answers) == {1, 2, 3, 4}
    assert "error" not in answers[1] or answers[1]["error"]["code"] != -32601, answers[1]
    methods = {m["name"].split(".")[0] for m in answers[2]["result"]["methods"]}
    assert methods >= {"rpc", "system", "db", "files", "jobs", "runs", "schedules", "secrets", "settings"}
    assert answers[3]["error"]["code"] == -32601  # a name no namespace has is still unknown
    assert "result" in answers[4]
