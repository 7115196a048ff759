"""Every shared JSON-RPC vector through the real dispatcher and registry, in-process.

The dispatcher is served over the in-memory transport (sidecar.transport.memory),
so no process starts; the method surface is the sidecar's own (build_registry
with the test methods), with a real, unstarted engine behind it. A subset of
the same vectors runs against the real process in tests/process/test_server_jsonrpc.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from sidecar._version import __version__
from sidecar.api.context import SidecarState
from sidecar.api.errors import translate_error
from sidecar.api.surface import build_registry
from sidecar.daemon.config import Config
from sidecar.daemon.lifecycle import Lifecycle
from sidecar.daemon.parent_watch import ParentWatch
from sidecar.daemon.paths import resolve_paths
from sidecar.engine.engine import Engine
from sidecar.rpc.dispatcher import Dispatcher
from sidecar.transport.memory import HostEnd, memory_transport
from tests.support import match_answer
from tests.unit.test_protocol_vectors import JSONRPC, vector_input


class InProcessSidecar:
    """The sidecar's dispatcher on an in-memory transport, as a test drives it."""

    def __init__(self, data_dir: Path, *, max_inflight: int = 64) -> None:
        self.host, self.server = memory_transport()
        config = Config(app_name="PlutoDuck", data_dir=str(data_dir), test_methods=True)
        paths = resolve_paths(config.app_name, config.data_dir)
        self.lifecycle = Lifecycle(started=time.monotonic())

        async def notify(method: str, params: Any) -> None:
            await self.dispatcher.notify(method, params)

        engine = Engine(paths, config.app_name, __version__, notify)
        state = SidecarState(config, paths, self.lifecycle, ParentWatch(lambda: None, os.getppid()), engine)
        self.dispatcher = Dispatcher(
            build_registry(test_methods=True),
            self.server.sink,
            state,
            max_inflight=max_inflight,
            translate_error=translate_error,
        )

    async def run(self, lines: list[bytes]) -> list[bytes]:
        """Send the lines, close the input, serve until every request answered; returns what was sent."""
        async with anyio.create_task_group() as work:
            for line in lines:
                await self.host.send(line + b"\n")
            await self.host.close()
            await self.dispatcher.serve(self.server.frames, work)
        self.server.sink.close()
        return await _drain(self.host)


async def _drain(host: HostEnd) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(await host.receive_line())
        except anyio.EndOfStream:
            return out


@pytest.mark.anyio
@pytest.mark.parametrize("case", JSONRPC, ids=[c["name"] for c in JSONRPC])
async def test_vector_in_process(case: dict[str, Any], tmp_path: Path) -> None:
    """Exactly the expected answer (or none), ids echoed byte for byte, one line per answer."""
    sidecar = InProcessSidecar(tmp_path)
    out = await sidecar.run([vector_input(case)])
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in out), out
    if case["respond"] is None:
        assert out == []
        return
    assert len(out) == 1, out
    match_answer(json.loads(out[0]), case["respond"])
    if isinstance(case["respond"], dict):
        assert f'"id":{case["respond"]["id"]},'.encode() in out[0]


@pytest.mark.anyio
async def test_a_request_while_stopping_is_answered_shutting_down(tmp_path: Path) -> None:
    sidecar = InProcessSidecar(tmp_path)
    sidecar.dispatcher.stop_accepting()
    out = await sidecar.run([b'{"jsonrpc":"2.0","id":7,"method":"test.sleep","params":{"seconds":5}}'])
    answer = json.loads(out[0])
    assert answer["id"] == 7 and answer["error"]["code"] == -32002
    assert answer["error"]["data"]["kind"] == "shutting_down"


@pytest.mark.anyio
async def test_cancel_and_duplicate_ids_in_process(tmp_path: Path) -> None:
    """A second request with an in-flight id is refused; rpc.cancel answers the first with -32001."""
    sidecar = InProcessSidecar(tmp_path)
    host = sidecar.host
    async with anyio.create_task_group() as work:
        work.start_soon(sidecar.dispatcher.serve, sidecar.server.frames, work)
        await host.send(b'{"jsonrpc":"2.0","id":"s","method":"test.sleep","params":{"seconds":30}}\n')
        await anyio.sleep(0.05)
        await host.send(b'{"jsonrpc":"2.0","id":"s","method":"test.sleep","params":{"seconds":1}}\n')
        duplicate = json.loads(await host.receive_line())
        assert duplicate["error"]["data"]["kind"] == "duplicate_id"
        assert [entry.id_key for entry in sidecar.dispatcher.inflight()] == ["s"]
        await host.send(b'{"jsonrpc":"2.0","id":1,"method":"rpc.cancel","params":{"id":"s"}}\n')
        answers = {json.loads(await host.receive_line())["id"]: None for _ in range(2)}
        assert set(answers) == {"s", 1}
        await host.close()
    assert sidecar.dispatcher.inflight() == []


@pytest.mark.anyio
async def test_back_pressure_stops_pulling_frames(tmp_path: Path) -> None:
    """With every slot busy the dispatcher reads no further: frames wait in the (bounded) stream."""
    sidecar = InProcessSidecar(tmp_path, max_inflight=2)
    host = sidecar.host
    async with anyio.create_task_group() as work:
        work.start_soon(sidecar.dispatcher.serve, sidecar.server.frames, work)
        for n in range(5):
            await host.send(b'{"jsonrpc":"2.0","id":%d,"method":"test.sleep","params":{"seconds":0.3}}\n' % n)
        await anyio.sleep(0.1)
        assert len(sidecar.dispatcher.inflight()) == 2
        assert sidecar.server.frames.statistics().current_buffer_used >= 2
        await host.close()
    sidecar.server.sink.close()
    assert sorted(json.loads(line)["id"] for line in await _drain(host)) == [0, 1, 2, 3, 4]


@pytest.mark.anyio
async def test_notifications_go_to_the_sink_in_order(tmp_path: Path) -> None:
    sidecar = InProcessSidecar(tmp_path)
    out = await sidecar.run([b'{"jsonrpc":"2.0","id":1,"method":"test.notify","params":{"count":5}}'])
    decoded = [msgspec.json.decode(line) for line in out]
    assert [note["params"]["seq"] for note in decoded[:-1]] == [0, 1, 2, 3, 4]
    assert decoded[-1] == {"jsonrpc": "2.0", "id": 1, "result": 5}


@pytest.mark.anyio
async def test_system_shutdown_asks_the_lifecycle_to_stop(tmp_path: Path) -> None:
    sidecar = InProcessSidecar(tmp_path)
    out = await sidecar.run([b'{"jsonrpc":"2.0","id":1,"method":"system.shutdown"}'])
    assert json.loads(out[0])["result"] == {"ok": True}
    assert sidecar.lifecycle.reason == "normal" and sidecar.lifecycle.stopping.is_set()


@pytest.mark.anyio
async def test_an_unencodable_result_is_an_error_answer_and_serving_goes_on(tmp_path: Path) -> None:
    sidecar = InProcessSidecar(tmp_path)

    @sidecar.dispatcher.registry.method("test.unencodable")
    def unencodable(ctx: Any) -> Any:
        """Return something msgspec cannot encode (a handler bug)."""
        return object()

    out = await sidecar.run(
        [
            b'{"jsonrpc":"2.0","id":1,"method":"test.unencodable"}',
            b'[{"jsonrpc":"2.0","id":2,"method":"test.unencodable"},{"jsonrpc":"2.0","id":3,"method":"system.ping"}]',
            b'{"jsonrpc":"2.0","id":4,"method":"system.ping"}',
        ]
    )
    decoded = [json.loads(line) for line in out]  # the batch runs in a task: it may answer last
    (batch,) = [answer for answer in decoded if isinstance(answer, list)]
    single, ping = sorted((answer for answer in decoded if isinstance(answer, dict)), key=lambda a: a["id"])
    assert single["id"] == 1 and single["error"]["code"] == -32099
    assert single["error"]["data"]["kind"] == "unhandled_exception"
    assert batch[0]["error"]["code"] == -32099 and batch[1]["result"]["pong"] is True
    assert ping["result"]["pong"] is True
