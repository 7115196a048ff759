"""What every bench script shares: the subjects, a raw stdio peer, statistics and output files.

The bench scripts are run as files (``python bench/rpc.py``), so this module is
imported by its bare name. Nothing here asserts a speed: the scripts measure
side by side in one run and report medians and ratios.

The stdio peer is deliberately thin (blocking ``os.write``/``os.read`` on the
pipes, no event loop, no decoding inside a timed region): it measures the
server, not the client. It still checks what it reads: every stdout line after
the ready point must be a JSON object or a lifecycle line, responses must carry
the id that was sent, and the counts must match.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import msgspec

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
SUBJECTS = BENCH / "subjects"
DEFAULT_OUT = REPO / "dist" / "bench"
DEFAULT_PYTHON = REPO / ".venv" / "bin" / "python"

sys.path.insert(0, str(REPO / "build"))
import buildinfo  # noqa: E402

sys.path.insert(0, str(REPO))
from sidecar_harness.stats import percentile  # noqa: E402

LIFECYCLE_PREFIXES = (b"BOOT ", b"READY", b"HEARTBEAT ", b"SHUTDOWN ")
SIDECAR_PACKAGERS = ("nuitka", "pyinstaller")
READY_TIMEOUT_S = 60.0
READ_CHUNK = 1 << 20


class BenchError(RuntimeError):
    """A subject misbehaved (no ready point, a wrong answer, a stray stdout line)."""


# --------------------------------------------------------------------- statistics


def summarize(values: Sequence[float], digits: int = 1) -> dict[str, float | int]:
    """n, p50 (the median), p95, min and max of ``values``."""
    if not values:
        raise ValueError("no samples")
    return {
        "n": len(values),
        "p50": round(statistics.median(values), digits),
        "p95": round(percentile(values, 95) or 0.0, digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def ratio(slower: float | None, faster: float | None) -> float | None:
    """How many times ``faster`` beats ``slower`` (None when either is missing)."""
    if not slower or not faster:
        return None
    return round(slower / faster, 1)


# ------------------------------------------------------------------ machine, versions


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Where and with what a run happened: quoted at the top of every result."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    from sidecar._version import __version__

    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "os": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": mem_gib,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "versions": {
            "sidecar": __version__,
            **{
                d: _version(d)
                for d in (
                    "duckdb",
                    "msgspec",
                    "anyio",
                    "fastapi",
                    "uvicorn",
                    "uvloop",
                    "httptools",
                    "mcp",
                    "pydantic",
                    "nuitka",
                    "pyinstaller",
                )
            },
        },
    }


# ------------------------------------------------------------------------ subjects


@dataclass
class Command:
    """How to start one subject: argv, environment and (optionally) the working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None


def clean_env(work: Path) -> dict[str, str]:
    """The caller's environment without SIDECAR_* settings, caches and temp files under ``work``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    (work / "cache").mkdir(parents=True, exist_ok=True)
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    env["XDG_CACHE_HOME"] = str(work / "cache")
    env["TMPDIR"] = str(work / "tmp")
    return env


def binary_path(packager: str) -> Path:
    """dist/<packager>/sidecar-<target triple>[.exe], as the build scripts write it."""
    name = f"sidecar-{buildinfo.target_triple()}{'.exe' if sys.platform == 'win32' else ''}"
    return REPO / "dist" / packager / name


def sidecar_command(
    variant: str, data_dir: Path, env: dict[str, str], python: Path = DEFAULT_PYTHON, extra: Sequence[str] = ()
) -> Command | None:
    """The sidecar as ``source`` (``python -m sidecar``) or as a built binary; None when not built."""
    args = ["--data-dir", str(data_dir), "--heartbeat-interval", "0", *extra]
    if variant == "source":
        return Command([str(python), "-m", "sidecar", *args], dict(env, PYTHONPATH=str(REPO)))
    path = binary_path(variant)
    if not path.is_file():
        return None
    return Command([str(path), *args], env)


def python_subject(script: str, *args: str, env: dict[str, str], python: Path = DEFAULT_PYTHON) -> Command:
    """A comparison subject from bench/subjects/, run with the project's Python."""
    return Command([str(python), str(SUBJECTS / script), *args], dict(env, PYTHONPATH=str(REPO)))


def free_port() -> int:
    """A localhost TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------- stdio peer


_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def request_frame(request_id: int, method: str, params: Any = None) -> bytes:
    """One JSON-RPC request line."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return _encode(message) + b"\n"


class _Subject:
    """A running subject process: stopped politely on leaving a ``with`` block, killed if that fails."""

    process: subprocess.Popen[bytes]

    def close(self, timeout: float = 30.0) -> int:
        raise NotImplementedError

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            try:
                self.close()
            except (BenchError, subprocess.TimeoutExpired, OSError):
                self.kill()


@dataclass
class StdioPeer(_Subject):
    """A subject spoken to over its stdin/stdout with blocking pipe I/O.

    ``ready`` is how the subject says it serves: ``"lifecycle"`` waits for the
    sidecar's READY line; ``"mcp"`` runs the MCP initialize handshake.
    """

    command: Command
    ready: str = "lifecycle"
    #: Busy-poll for answers instead of sleeping in read() (bench/rpc.py's "host polls" rows).
    host_polls: bool = False
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
            chunk = self._poll_read() if self.host_polls else os.read(self._out, READ_CHUNK)
            if not chunk:
                raise BenchError(f"{self.command.argv[0]}: stdout closed (exit status {self.process.poll()})")
            self._buffer += chunk

    def _poll_read(self) -> bytes:
        """Busy-poll the non-blocking stdout pipe: a host that never sleeps between request and answer."""
        os.set_blocking(self._out, False)
        try:
            while True:
                try:
                    return os.read(self._out, READ_CHUNK)
                except BlockingIOError:
                    continue
        finally:
            os.set_blocking(self._out, True)

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


# ---------------------------------------------------------------------- HTTP peer


class HttpPeer(_Subject):
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


def fastapi_peer(db: Path, env: dict[str, str], python: Path = DEFAULT_PYTHON) -> HttpPeer:
    """The FastAPI subject on a fresh port, serving the DuckDB file ``db``."""
    port = free_port()
    return HttpPeer(
        python_subject("fastapi_server.py", "--db", str(db), "--port", str(port), env=env, python=python), port
    )


# ------------------------------------------------------------------ process memory


def tree_rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` and its descendants (a onefile bootstrap and its child)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class PeakRss:
    """Samples the resident memory of a process tree every few milliseconds while in use."""

    def __init__(self, pid: int, interval_s: float = 0.005) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss_bytes(self.pid)
            if rss:
                self.peak = max(self.peak, rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------------ outputs


def skipped_line(skipped: dict[str, str]) -> str:
    """ "Skipped: `name` why; ..." for the subjects a run could not measure ("" when none)."""
    if not skipped:
        return ""
    return "Skipped: " + "; ".join(f"`{name}` {why}" for name, why in skipped.items()) + ".\n"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join("-" if cell is None else str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(
    out: Path, name: str, document: dict[str, Any], markdown: str, chart: Callable[[Path], None] | None
) -> None:
    """<out>/<name>.json, <name>.md and <name>.png, and the markdown on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)
    if chart is not None:
        chart(out / f"{name}.png")
    print(markdown)
    print(f"written: {out / name}.json, .md" + (", .png" if chart else ""))


def bar_chart(
    path: Path,
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    ylabel: str,
    log: bool = False,
) -> None:
    """Grouped bars: one group per label, one bar per series (missing values left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    width = 0.8 / max(1, len(series))
    for index, (series_name, values) in enumerate(series.items()):
        xs = [i + index * width for i, v in enumerate(values) if v is not None]
        ys = [v for v in values if v is not None]
        bars = ax.bar(xs, ys, width, label=series_name)
        ax.bar_label(bars, labels=[_short(v) for v in ys], fontsize=7, padding=2)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))], labels, fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def standard_arguments(parser: Any) -> None:
    """--out, --python and --quick, the same in every script."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON, markdown and chart go")
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="the Python that runs the source subjects")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and counts: proves the script works, measures nothing worth quoting",
    )


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
