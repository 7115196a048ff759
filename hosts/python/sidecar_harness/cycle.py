"""One launch cycle: spawn -> READY -> a few RPCs -> stop (graceful, SIGKILL or SIGTERM).

Every cycle ends in a :class:`LaunchRecord` with ``ok`` and, when not ok, one
failure class from :data:`FAILURE_CLASSES` plus a message that says what to
look at. Processes are checked by pid: the spawned process (the onefile
bootstrap), the Python process named in BOOT, and every descendant seen.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import anyio
from msgspec import Struct

from sidecar_harness.builds import Build
from sidecar_harness.sampler import TreeSampler, alive, kernel_state
from sidecar_host import (
    BinaryNotFound,
    CallTimeout,
    ExitedBeforeReady,
    ReadyTimeout,
    RpcCallError,
    SidecarClient,
    SidecarExited,
)
from sidecar_host.records import SIGTERM_TIMEOUT_S

CycleKind = Literal["graceful", "kill", "term"]
#: Every cycle kind, in the order a run takes them within each round.
CYCLE_KINDS: Final[tuple[CycleKind, ...]] = ("graceful", "kill", "term")

#: Every failure class, in the order the report lists them.
FAILURE_CLASSES: Final = (
    "missing_binary",
    "exit_before_ready",
    "ready_timeout",
    "malformed_stdout",
    "duplicate_ready",
    "rpc_error",
    "unclean_shutdown",
    "orphan",
)

#: After SIGKILL of the bootstrap the Python child must be gone within this.
KILL_ORPHAN_DEADLINE_S: Final = 1.5
#: How much longer a child past that deadline is watched, to tell a slow exit from a real orphan.
LATE_GONE_WAIT_S: Final = 10.0
#: After SIGTERM the Python process must have written SHUTDOWN reason=signal and exited within
#: this: the sidecar's own stop with nothing in flight (PROTOCOL.md section 6: at most 0.5 s closing
#: its files, 0.5 s flushing stdout, 0.5 s for stuck threads at exit).
TERM_DEADLINE_S: Final = 2.0
#: After SIGTERM the spawned process (a onefile bootstrap, which still removes its extraction
#: folder once the Python child is gone) must have exited within the step the hosts give SIGTERM
#: before they SIGKILL the process group.
TERM_TREE_DEADLINE_S: Final = SIGTERM_TIMEOUT_S
#: After a graceful stop, how long leftover processes get before they count as orphans.
LEFTOVER_GRACE_S: Final = 2.0


class LaunchRecord(Struct, omit_defaults=True):
    """What one launch did. Times are milliseconds from just before the spawn.

    build, index, kind: which launch this was.
    ok: True when every check passed. failure: the class when not ok. message: why.
    launch_to_boot_ms, launch_to_ready_ms: lifecycle lines seen.
    first_rpc_ms: round trip of the first system.ping.
    shutdown_ms: from the stop request (or signal) to the process being gone.
    python_exit_ms: SIGTERM cycles: from the signal to the Python process being gone (for a
    onefile build, shutdown_ms - python_exit_ms is the bootstrap's clean-up after its child).
    late_gone_ms: kill cycles whose child outlived the orphan deadline: from the kill to the
    child being gone after all (None: still alive 10 s after the deadline).
    exit_status: of the spawned process (negative: killed by that signal).
    shutdown_reason: from the SHUTDOWN line, if any. stop_step: how it ended.
    peak_rss_bytes: largest summed RSS of the process tree.
    spawned_pid, python_pid: the spawned process and the Python process from BOOT.
    leftover_pids: processes still alive after the cycle (orphans).
    rpcs: the methods called and their round trips (ms).
    stderr_tail, stdout_excerpt, violations: evidence, kept on failure.
    process_states: on failure, each process of the tree as last seen alive (status, wait channel).
    started_at: wall clock time of the launch (UTC, ISO 8601).
    """

    build: str
    index: int
    kind: CycleKind
    ok: bool
    started_at: str
    failure: str | None = None
    message: str | None = None
    launch_to_boot_ms: float | None = None
    launch_to_ready_ms: float | None = None
    first_rpc_ms: float | None = None
    shutdown_ms: float | None = None
    python_exit_ms: float | None = None
    late_gone_ms: float | None = None
    exit_status: int | None = None
    shutdown_reason: str | None = None
    stop_step: str | None = None
    peak_rss_bytes: int | None = None
    spawned_pid: int | None = None
    python_pid: int | None = None
    leftover_pids: list[int] = []
    rpcs: dict[str, float] = {}
    stderr_tail: list[str] = []
    stdout_excerpt: list[str] = []
    violations: list[str] = []
    process_states: list[str] = []


@dataclass(frozen=True)
class CycleOptions:
    """Knobs for every cycle.

    ready_timeout: seconds to wait for READY. rpc_timeout: per call.
    extra_args: appended to the build's command (after --data-dir).
    env: the environment for the sidecar (None: inherit).
    """

    ready_timeout: float = 15.0
    rpc_timeout: float = 5.0
    extra_args: tuple[str, ...] = ("--heartbeat-interval", "0")
    env: dict[str, str] | None = None


class _Failed(Exception):
    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


def _ms(start: float, end: float | None) -> float | None:
    return None if end is None else round((end - start) * 1000, 3)


async def run_cycle(build: Build, index: int, kind: CycleKind, options: CycleOptions) -> LaunchRecord:
    """Launch ``build`` once and check everything the kind asks for."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    data_dir = tempfile.mkdtemp(prefix=f"harness-{build.name}-")
    record: dict[str, Any] = {"build": build.name, "index": index, "kind": kind, "started_at": started_at}
    holder: dict[str, Any] = {}

    def on_spawn(client: SidecarClient) -> None:
        holder["client"] = client
        sampler = TreeSampler(client.pid)
        sampler.start()
        holder["sampler"] = sampler
        record["spawned_pid"] = client.pid

    failure: _Failed | None = None
    try:
        command = [*build.command, "--data-dir", data_dir, *options.extra_args]
        async with SidecarClient.spawn(
            command, env=options.env, ready_timeout=options.ready_timeout, on_spawn=on_spawn, stop_on_exit=False
        ) as client:
            _record_lifecycle(record, client)
            if client.boot is not None and client.boot.get("pid", "").isdigit():
                holder["sampler"].add_pid(int(client.boot.get("pid")))
            await _exercise(client, record, options)
            await _stop(client, kind, record)
    except _Failed as exc:
        failure = exc
    except BinaryNotFound as exc:
        failure = _Failed("missing_binary", f"{exc}. Build it (scripts/build-*.sh) or fix the path.")
    except ExitedBeforeReady as exc:
        failure = _Failed(
            "exit_before_ready",
            f"exited with status {exc.status} before READY; read the stderr tail for the cause. {_first_line(exc.stderr_tail)}",
        )
        record["stderr_tail"] = exc.stderr_tail[-20:]
        record["stdout_excerpt"] = exc.lines_seen[:20]
        record["exit_status"] = exc.status
    except ReadyTimeout as exc:
        non_protocol = [line for line in exc.lines_seen if not _looks_like_protocol(line)]
        if non_protocol:
            failure = _Failed(
                "malformed_stdout",
                f"no READY within {exc.timeout:g}s and stdout carried non-protocol text "
                f"(first: {non_protocol[0]!r}): something prints to stdout; route it to stderr.",
            )
        else:
            failure = _Failed(
                "ready_timeout",
                f"no READY within {exc.timeout:g}s (stdout lines seen: {exc.lines_seen[:5]!r}); "
                "the process is alive but never became ready: check a cold unpack or a startup hang.",
            )
        record["stderr_tail"] = exc.stderr_tail[-20:]
        record["stdout_excerpt"] = exc.lines_seen[:20]
    finally:
        sampler = holder.get("sampler")
        if sampler is not None:
            sampler.stop()
            record["peak_rss_bytes"] = sampler.peak_rss
        shutil.rmtree(data_dir, ignore_errors=True)

    client = holder.get("client")
    if client is not None:
        _record_lifecycle(record, client)
        record["exit_status"] = client.exit_status if client.exit_status is not None else record.get("exit_status")
        protocol = _protocol_failure(client)
        if protocol is not None and (failure is None or failure.failure in ("rpc_error", "unclean_shutdown")):
            failure = protocol  # a broken stdout is the root cause of what followed
        sampler = holder.get("sampler")
        pids = sorted(sampler.pids) if sampler else [client.pid]
        leftovers = await _leftovers(pids, LEFTOVER_GRACE_S)
        if leftovers:
            record["leftover_pids"] = leftovers
            _kill_all(leftovers)
            if failure is None:
                failure = _Failed(
                    "orphan", f"processes {leftovers} were still alive {LEFTOVER_GRACE_S:g}s after the cycle"
                )
        if failure is not None:
            record.setdefault("stderr_tail", client.stderr_tail(20))
            record.setdefault("stdout_excerpt", client.lines_before_ready[:20])
            record["violations"] = [f"{v.kind}: {v.line}" for v in client.violations[:20]]
    record["ok"] = failure is None
    if failure is not None:
        record["failure"] = failure.failure
        record["message"] = failure.message
        sampler = holder.get("sampler")
        if sampler is not None:
            record["process_states"] = sampler.states
    return LaunchRecord(**record)


def _record_lifecycle(record: dict[str, Any], client: SidecarClient) -> None:
    record["launch_to_boot_ms"] = _ms(client.spawned_at, client.boot_at)
    record["launch_to_ready_ms"] = _ms(client.spawned_at, client.ready_at)
    if client.boot is not None and client.boot.get("pid", "").isdigit():
        record["python_pid"] = int(client.boot.get("pid"))
    if client.shutdown is not None:
        record["shutdown_reason"] = client.shutdown.get("reason")


async def _exercise(client: SidecarClient, record: dict[str, Any], options: CycleOptions) -> None:
    """The RPCs of a cycle: ping, status, and a DuckDB query when the engine has one."""
    rpcs: dict[str, float] = {}
    try:
        for method in ("system.ping", "system.status", "rpc.discover"):
            started = time.perf_counter()
            result = await client.call(method, timeout=options.rpc_timeout)
            rpcs[method] = round((time.perf_counter() - started) * 1000, 3)
            if method == "system.status" and record.get("python_pid") and result.get("pid") != record["python_pid"]:
                raise _Failed(
                    "rpc_error", f"system.status pid {result.get('pid')} differs from BOOT pid {record['python_pid']}"
                )
            if method == "rpc.discover" and any(m.get("name") == "db.query" for m in result.get("methods", [])):
                started = time.perf_counter()
                answer = await client.call("db.query", {"sql": "SELECT 42 AS answer"}, timeout=options.rpc_timeout)
                rpcs["db.query"] = round((time.perf_counter() - started) * 1000, 3)
                if answer.get("rows") != [[42]]:
                    raise _Failed("rpc_error", f"db.query SELECT 42 returned {answer.get('rows')!r}")
    except CallTimeout as exc:
        raise _Failed(
            "rpc_error",
            f"{exc.method}: no answer within {exc.timeout:g}s although READY was printed: the sidecar hangs after READY",
        ) from None
    except RpcCallError as exc:
        raise _Failed("rpc_error", f"{exc.method} answered error {exc.code} ({exc.kind}): {exc.message}") from None
    except SidecarExited as exc:
        raise _Failed("rpc_error", f"the sidecar exited (status {exc.status}) during the first RPCs") from None
    finally:
        record["rpcs"] = rpcs
        record["first_rpc_ms"] = rpcs.get("system.ping")


async def _stop(client: SidecarClient, kind: CycleKind, record: dict[str, Any]) -> None:
    """End the cycle the way ``kind`` says and check how the process ended."""
    if kind == "graceful":
        result = await client.stop()
        record["shutdown_ms"] = round(result.seconds * 1000, 3)
        record["stop_step"] = result.step
        record["exit_status"] = result.exit_status
        if result.step != "shutdown_request" or result.exit_status != 0 or result.shutdown_reason != "normal":
            raise _Failed(
                "unclean_shutdown",
                f"system.shutdown did not end it cleanly: stopped by {result.step}, exit status "
                f"{result.exit_status}, SHUTDOWN reason={result.shutdown_reason}",
            )
        return
    python_pid = record.get("python_pid") or client.pid
    sent = time.monotonic()
    if kind == "kill":
        os.kill(client.pid, signal.SIGKILL)  # only the bootstrap, as Tauri's kill() does
        gone_at = await _wait_pid_gone(python_pid, KILL_ORPHAN_DEADLINE_S)
        record["stop_step"] = "sigkill_bootstrap"
        await client.wait(2)
        if gone_at is None:
            seen = kernel_state(python_pid)  # running its code, or already exiting, stuck on the disk?
            late = await _wait_pid_gone(python_pid, LATE_GONE_WAIT_S)
            record["late_gone_ms"] = _ms(sent, late)
            ended = f"gone {record['late_gone_ms']:.0f} ms after the kill" if late else "still alive after that"
            raise _Failed(
                "orphan",
                f"after SIGKILL of the bootstrap (pid {client.pid}) the Python child (pid {python_pid}) "
                f"was still alive {KILL_ORPHAN_DEADLINE_S:g}s later ({seen}; {ended})",
            )
        record["shutdown_ms"] = _ms(sent, gone_at)
        return
    client.send_signal(signal.SIGTERM)
    python_gone = await _wait_pid_gone(python_pid, TERM_DEADLINE_S)
    status = await client.wait(max(0.0, sent + TERM_TREE_DEADLINE_S - time.monotonic()))
    record["stop_step"] = "sigterm"
    record["python_exit_ms"] = _ms(sent, python_gone)
    record["shutdown_ms"] = _ms(sent, time.monotonic()) if status is not None else None
    reason = client.shutdown.get("reason") if client.shutdown else None
    if python_gone is None:
        said = f"SHUTDOWN reason={reason} was written" if reason else "no SHUTDOWN line was written"
        raise _Failed(
            "unclean_shutdown",
            f"the Python process (pid {python_pid}) was still running {TERM_DEADLINE_S:g}s after SIGTERM "
            f"({said}): its stop waits on something; its log in the data dir has the timestamps",
        )
    if status is None:
        raise _Failed(
            "unclean_shutdown",
            f"the Python process ended {record['python_exit_ms']:.0f} ms after SIGTERM, but the spawned process "
            f"(pid {client.pid}) was still running {TERM_TREE_DEADLINE_S:g}s after it, when a host SIGKILLs "
            "the process group (a onefile bootstrap removing its extraction folder on a slow disk?)",
        )
    if reason != "signal" or status != 0:
        raise _Failed(
            "unclean_shutdown", f"SIGTERM ended it with status {status} and SHUTDOWN reason={reason} (want signal, 0)"
        )


async def _wait_pid_gone(pid: int, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return time.monotonic()
        await anyio.sleep(0.01)
    return None if alive(pid) else time.monotonic()


def _protocol_failure(client: SidecarClient) -> _Failed | None:
    kinds = [v.kind for v in client.violations]
    if "duplicate_ready" in kinds:
        return _Failed("duplicate_ready", "READY was printed more than once: the host cannot know when it is ready")
    if kinds:
        first = client.violations[0]
        return _Failed("malformed_stdout", f"stdout carried a non-protocol line ({first.kind}): {first.line[:200]!r}")
    return None


async def _leftovers(pids: list[int], grace: float) -> list[int]:
    deadline = time.monotonic() + grace
    while True:
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        await anyio.sleep(0.02)


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _looks_like_protocol(line: str) -> bool:
    return line[:1] in ("{", "[") or line.split(" ", 1)[0] in ("BOOT", "READY", "HEARTBEAT", "SHUTDOWN")


def _first_line(lines: list[str]) -> str:
    return f"Last stderr line: {lines[-1]!r}" if lines else "(stderr was empty)"
