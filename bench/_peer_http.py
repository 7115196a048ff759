"""The FastAPI subject (bench/subjects/fastapi_server.py), spoken to over localhost HTTP."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
from _paths import DEFAULT_PYTHON
from _subjects import READ_CHUNK, READY_TIMEOUT_S, BenchError, Command, Subject, python_subject

_encode = msgspec.json.Encoder().encode


def free_port() -> int:
    """A localhost TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpPeer(Subject):
    """The FastAPI subject: started, polled until ``GET /health`` answers 200, spoken to with keep-alive.

    Sequential requests go through one ``http.client`` connection (keep-alive,
    no per-request connect); pipelined ones are written back to back on a raw
    socket (HTTP/1.1 pipelining, which uvicorn's httptools protocol serves in
    order) while the responses are read.
    """

    def __init__(self, command: Command, port: int) -> None:
        import http.client

        self.command = command
        self.port = port
        self.spawned_at = time.perf_counter()
        self.process = subprocess.Popen(
            command.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=command.env
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"HTTP subject exited with status {self.process.returncode} before /health")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    break
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise BenchError("HTTP subject: no /health in time")
            time.sleep(0.002)
        self.ready_at = time.perf_counter()
        self.connection = conn

    def reconnect(self) -> None:
        """A fresh keep-alive connection: uvicorn closes one idle for 5 s (its keep-alive timeout)."""
        import http.client

        self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.get("/health")

    def get(self, path: str) -> bytes:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise BenchError(f"GET {path}: HTTP {response.status}")
        return body

    def post(self, path: str, body: Any) -> bytes:
        self.connection.request("POST", path, body=_encode(body), headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise BenchError(f"POST {path}: HTTP {response.status}: {data[:200]!r}")
        return data

    def sequential_us(self, path: str, body: Any, count: int, warmup: int) -> list[float]:
        """Round trips in microseconds over the keep-alive connection (GET when body is None)."""
        self.reconnect()  # untimed: the connection may have idled past uvicorn's keep-alive
        samples: list[float] = []
        clock = time.perf_counter_ns
        for index in range(count + warmup):
            start = clock()
            if body is None:
                self.get(path)
            else:
                self.post(path, body)
            elapsed = clock() - start
            if index >= warmup:
                samples.append(elapsed / 1000)
        return samples

    def pipelined_per_s(self, path: str, body: Any, count: int) -> float:
        """Requests per second, ``count`` requests pipelined on one fresh keep-alive socket."""
        if body is None:
            one = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        else:
            data = _encode(body)
            one = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode() + data
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        failure: list[BaseException] = []

        def writer() -> None:
            try:
                sock.sendall(one * count)
            except BaseException as exc:
                failure.append(exc)

        start = time.perf_counter()
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        buffer = bytearray()
        answered = 0
        while answered < count:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end >= 0:
                head = bytes(buffer[:head_end]).lower()
                if not head.startswith(b"http/1.1 200"):
                    raise BenchError(f"pipelined {path}: {head[:80]!r}")
                length_at = head.find(b"content-length:")
                length = int(head[length_at + 15 :].split(b"\r\n", 1)[0])
                end = head_end + 4 + length
                if len(buffer) >= end:
                    del buffer[:end]
                    answered += 1
                    continue
            chunk = sock.recv(READ_CHUNK)
            if not chunk:
                raise BenchError(f"pipelined {path}: connection closed after {answered} answers")
            buffer += chunk
        elapsed = time.perf_counter() - start
        thread.join()
        sock.close()
        if failure:
            raise BenchError(f"writing the pipelined requests failed: {failure[0]!r}")
        return count / elapsed

    def close(self, timeout: float = 30.0) -> int:
        """SIGTERM (uvicorn's graceful stop) and the exit status; its stdout must have stayed empty."""
        self.connection.close()
        self.process.terminate()
        out = self.process.stdout.read() if self.process.stdout else b""
        status = self.process.wait(timeout)
        if out.strip():
            raise BenchError(f"HTTP subject wrote to stdout: {out[:120]!r}")
        return status


def fastapi_peer(
    db: Path, env: dict[str, str], python: Path = DEFAULT_PYTHON, cors_origin: str | None = None
) -> HttpPeer:
    """The FastAPI subject on a fresh port, serving the DuckDB file ``db`` (CORS for ``cors_origin``)."""
    port = free_port()
    cors = ("--cors-origin", cors_origin) if cors_origin else ()
    return HttpPeer(
        python_subject("fastapi_server.py", "--db", str(db), "--port", str(port), *cors, env=env, python=python), port
    )
