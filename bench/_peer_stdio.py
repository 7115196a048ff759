"""A subject spoken to over its stdin/stdout: the sidecar, the MCP subject and the stdio floor.

The peer is deliberately thin (blocking ``os.write``/``os.read`` on the pipes,
no event loop, no decoding inside a timed region): it measures the server, not
the client. It still checks what it reads: every stdout line after the ready
point must be a JSON object or a lifecycle line, responses must carry the id
that was sent, and the counts must match.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from _subjects import READ_CHUNK, READY_TIMEOUT_S, BenchError, Command, Subject

LIFECYCLE_PREFIXES = (b"BOOT ", b"READY", b"HEARTBEAT ", b"SHUTDOWN ")

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def request_frame(request_id: int, method: str, params: Any = None) -> bytes:
    """One JSON-RPC request line."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return _encode(message) + b"\n"


@dataclass
class StdioPeer(Subject):
    """A subject spoken to over its stdin/stdout with blocking pipe I/O.

    ``ready`` is how the subject says it serves: ``"lifecycle"`` waits for the
    sidecar's READY line; ``"mcp"`` runs the MCP initialize handshake.
    """

    command: Command
    ready: str = "lifecycle"
    #: Poll for an answer up to this long before sleeping in read() (bench/rpc.py's "host polls"
    #: row: what the sidecar's own reader does, so an idle host costs nothing); None: read() at once.
    host_polls: float | None = None
    process: subprocess.Popen[bytes] = field(init=False)
    pid: int = field(init=False)
    spawned_at: float = field(init=False)
    boot_at: float | None = field(init=False, default=None)
    ready_at: float = field(init=False)
    notifications: int = field(init=False, default=0)
    _buffer: bytearray = field(init=False, default_factory=bytearray)
    _next_id: int = field(init=False, default=1)

    def __post_init__(self) -> None:
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.command.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.command.env,
            bufsize=0,
            cwd=self.command.cwd,
        )
        self.pid = self.process.pid
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in = self.process.stdin.fileno()
        self._out = self.process.stdout.fileno()
        try:
            if self.ready == "lifecycle":
                self._wait_ready_line()
            else:
                self._mcp_handshake()
        except BaseException:
            self.kill()
            raise
        self.ready_at = time.perf_counter()

    # -- reading

    def _read_line(self, deadline: float | None = None) -> bytes:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                return line
            if deadline is not None:
                import select

                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self._out], [], [], remaining)[0]:
                    raise BenchError(f"{self.command.argv[0]}: no output line in time")
            chunk = self._poll_read(self.host_polls) if self.host_polls else os.read(self._out, READ_CHUNK)
            if not chunk:
                raise BenchError(f"{self.command.argv[0]}: stdout closed (exit status {self.process.poll()})")
            self._buffer += chunk

    def _poll_read(self, budget_s: float) -> bytes:
        """Poll the non-blocking stdout pipe for up to ``budget_s``, then sleep in read()."""
        os.set_blocking(self._out, False)
        try:
            give_up = time.perf_counter() + budget_s
            while time.perf_counter() < give_up:
                try:
                    return os.read(self._out, READ_CHUNK)
                except BlockingIOError:
                    continue
        finally:
            os.set_blocking(self._out, True)
        return os.read(self._out, READ_CHUNK)

    def _wait_ready_line(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            line = self._read_line(deadline)
            if self.boot_at is None:
                self.boot_at = time.perf_counter()
            if not line.startswith(LIFECYCLE_PREFIXES):
                raise BenchError(f"stray stdout line before READY: {line[:120]!r}")
            if line.startswith(b"READY"):
                return

    def _mcp_handshake(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        init = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "sidecar-bench", "version": "1"},
        }
        self.write(request_frame(0, "initialize", init))
        answer = self._decode_checked(self._read_line(deadline), 0)
        if "result" not in answer:
            raise BenchError(f"MCP initialize failed: {answer}")
        self.write(_encode({"jsonrpc": "2.0", "method": "notifications/initialized"}) + b"\n")

    def _decode_checked(self, line: bytes, request_id: int) -> dict[str, Any]:
        try:
            message = _decode(line)
        except msgspec.DecodeError as exc:
            raise BenchError(f"stdout line is not JSON: {line[:120]!r}") from exc
        if not isinstance(message, dict) or message.get("id") != request_id:
            raise BenchError(f"expected the answer to id {request_id}, got {line[:200]!r}")
        return message

    def _read_response_line(self) -> bytes:
        """The next line that answers a request; notifications are counted and skipped."""
        while True:
            line = self._read_line()
            if line.startswith(b'{"jsonrpc":"2.0","method"') or line.startswith(b'{"method"'):
                self.notifications += 1
                continue
            if line.startswith(LIFECYCLE_PREFIXES):
                raise BenchError(f"unexpected lifecycle line while serving: {line[:120]!r}")
            return line

    # -- writing

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._in, view)
            view = view[written:]

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- requests

    def call(self, method: str, params: Any = None) -> Any:
        """One request, its result (a JSON-RPC error raises BenchError)."""
        request_id = self.next_id()
        self.write(request_frame(request_id, method, params))
        answer = self._decode_checked(self._read_response_line(), request_id)
        if "error" in answer:
            raise BenchError(f"{method} failed: {answer['error']}")
        return answer["result"]

    def call_raw(self, frame: bytes) -> bytes:
        """Write one prepared frame, return the next response line, untimed checks left to the caller."""
        self.write(frame)
        return self._read_response_line()

    def sequential_us(self, method: str, params: Any, count: int, warmup: int) -> list[float]:
        """Round-trip times in microseconds of ``count`` requests sent one after another.

        Frames are encoded before the clock starts and answers are checked after
        it stops, so the figure is the subject's turnaround plus one pipe each way.
        """
        frames = [request_frame(self.next_id(), method, params) for _ in range(count + warmup)]
        ids = [_decode(f)["id"] for f in frames]
        lines: list[bytes] = []
        samples: list[float] = []
        clock = time.perf_counter_ns
        for index, frame in enumerate(frames):
            start = clock()
            line = self.call_raw(frame)
            elapsed = clock() - start
            lines.append(line)
            if index >= warmup:
                samples.append(elapsed / 1000)
        self._next_id = max(ids) + 1
        for request_id, line in zip(ids, lines, strict=True):
            answer = self._decode_checked(line, request_id)
            if "result" not in answer:
                raise BenchError(f"{method} failed: {answer.get('error')}")
        return samples

    def pipelined_per_s(self, method: str, params: Any, count: int) -> float:
        """Requests per second with ``count`` requests written back to back while answers are read."""
        first = self._next_id + 1
        payload = b"".join(request_frame(first + i, method, params) for i in range(count))
        self._next_id = first + count
        failure: list[BaseException] = []

        def writer() -> None:
            try:
                self.write(payload)
            except BaseException as exc:
                failure.append(exc)

        start = time.perf_counter()
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        lines = [self._read_response_line() for _ in range(count)]
        elapsed = time.perf_counter() - start
        thread.join()
        if failure:
            raise BenchError(f"writing the pipelined requests failed: {failure[0]!r}")
        seen = set()
        for line in lines:
            answer = _decode(line)
            if "result" not in answer:
                raise BenchError(f"{method} failed: {answer.get('error')}")
            seen.add(answer["id"])
        if seen != set(range(first, first + count)):
            raise BenchError(f"pipelined answers do not match the {count} requests")
        return count / elapsed

    # -- the end

    def close(self, timeout: float = 30.0) -> int:
        """Close stdin (the polite stop), drain stdout checking every line, return the exit status."""
        try:
            os.close(self._in)
        except OSError:
            pass
        self.process.stdin = None
        rest = bytes(self._buffer) + self.process.stdout.read()  # type: ignore[union-attr]
        self._buffer.clear()
        for line in rest.splitlines():
            if line and not line.startswith(LIFECYCLE_PREFIXES) and not line.startswith(b"{"):
                raise BenchError(f"stray stdout line: {line[:120]!r}")
        return self.process.wait(timeout)
