"""An anyio client that runs one sidecar process and talks JSON-RPC to it.

    async with SidecarClient.spawn(["sidecar-x86_64-unknown-linux-gnu"]) as sidecar:
        status = await sidecar.call("system.status")

``spawn`` returns once READY was read (or raises a :class:`SidecarStartError`
saying what went wrong); leaving the block stops the process gracefully.
The client checks the protocol as it reads: every stdout line that is not a
lifecycle line or a JSON frame, a second READY, a BOOT that is not first,
anything after SHUTDOWN, is recorded in :attr:`SidecarClient.violations`.

Launches pass spawn -> BOOT one at a time on the machine (the launch lock,
sidecar_host.launch_lock: first launches of a onefile binary would otherwise race on
its extraction cache, issue-log 0012); ``launch_lock=False`` turns that off.

Stop sequence (each step only if the previous one did not end the process):
``system.shutdown`` -> close stdin -> SIGTERM -> SIGKILL of the process
group, each with its own named timeout (sidecar_host.records).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sidecar.protocol import LifecycleLine, LineSplitter, Notification, OversizeFrame, Response
from sidecar.protocol.host_session import (
    Answer,
    Boot,
    CallTable,
    Heartbeat,
    NoteReceived,
    Ready,
    Shutdown,
    StdoutSession,
    Violation,
    show_line,
)
from sidecar_host.errors import (
    BinaryNotFound,
    CallTimeout,
    ExitedBeforeReady,
    ReadyTimeout,
    RpcCallError,
    SidecarExited,
)
from sidecar_host.executable import check_executable
from sidecar_host.host_key import env_with_host_key, new_host_key, params_with_host_key
from sidecar_host.launch_lock import DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT_S, LaunchLock, default_lock_path
from sidecar_host.records import (
    CALL_TIMEOUT_S,
    CANCEL_WRITE_TIMEOUT_S,
    LINES_KEPT_BEFORE_READY,
    MAX_LINE_BYTES,
    READY_TIMEOUT_S,
    SIGKILL_TIMEOUT_S,
    STDERR_TAIL_LINES,
    VIOLATIONS_KEPT,
    ProtocolViolation,
    StopResult,
    StopTimeouts,
    UnmatchedFrame,
)

_decode = msgspec.json.decode


@dataclass
class _Pending:
    method: str
    done: anyio.Event = field(default_factory=anyio.Event)
    result: Any = None
    error: BaseException | None = None


class SidecarClient:
    """One running sidecar process. Create it with :meth:`spawn`."""

    def __init__(self, process: anyio.abc.Process, command: Sequence[str], notification_buffer: int) -> None:
        self.process = process
        self.command = list(command)
        self.pid: int = process.pid
        #: Monotonic time just before the process was created.
        self.spawned_at = time.monotonic()
        self.boot_at: float | None = None
        self.ready_at: float | None = None
        self.heartbeats: list[LifecycleLine] = []
        self.violations: list[ProtocolViolation] = []
        self.lines_before_ready: list[str] = []
        self.stderr_lines: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.exit_status: int | None = None
        #: How the process ended when ``spawn``'s block stopped it.
        self.stop_result: StopResult | None = None
        #: This launch's hold on the launch lock (None when ``launch_lock=False``).
        self.launch_lock: LaunchLock | None = None
        #: The key host-only calls carry (None when spawned with ``host_key=False``).
        self.host_key: str | None = None
        self._ready = anyio.Event()
        self._stdout_closed = anyio.Event()
        self._exited = anyio.Event()
        self._session = StdoutSession()
        self._calls = CallTable()
        self._pending: dict[int, _Pending] = {}
        self._write_lock = anyio.Lock()
        send, receive = anyio.create_memory_object_stream[Notification](notification_buffer)
        self._note_send: MemoryObjectSendStream[Notification] = send
        #: Notifications from the sidecar (bounded: an unread buffer makes the reader wait).
        self.notifications: MemoryObjectReceiveStream[Notification] = receive
        usend, ureceive = anyio.create_memory_object_stream[UnmatchedFrame](notification_buffer)
        self._unmatched_send: MemoryObjectSendStream[UnmatchedFrame] = usend
        #: Responses that answer no pending :meth:`call` (e.g. to :meth:`send_raw`).
        self.unmatched: MemoryObjectReceiveStream[UnmatchedFrame] = ureceive

    # ------------------------------------------------------------ spawning

    @classmethod
    @contextlib.asynccontextmanager
    async def spawn(
        cls,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
        notification_buffer: int = 10_000,
        new_process_group: bool = True,
        stop_on_exit: bool = True,
        on_spawn: Callable[[SidecarClient], None] | None = None,
        launch_lock: bool | str | os.PathLike[str] = True,
        launch_lock_wait: float = LAUNCH_LOCK_WAIT_S,
        host_key: bool | str = True,
        app_name: str = DEFAULT_APP_NAME,
    ) -> AsyncIterator[SidecarClient]:
        """Start ``command``, wait for READY, yield the client, stop it on exit.

        ``new_process_group`` puts the sidecar in its own process group so the
        last stop step (SIGKILL) also reaches a onefile bootstrap's child.
        ``on_spawn`` is called with the client as soon as the process exists
        (before READY), e.g. to watch its pid even if it never becomes ready.
        ``launch_lock``: True takes the machine's launch lock of ``app_name`` (the app name
        the binary was built with; :func:`~sidecar_host.launch_lock.default_lock_path`) from before the spawn
        until BOOT, waiting up to ``launch_lock_wait`` seconds for it; a path uses
        that lock file instead; False spawns without it.
        ``host_key``: True makes a fresh key for this launch (sidecar_host.host_key), a string
        uses that one, False starts the sidecar without one (its host-only methods are off).
        """
        check_executable(command[0])
        key = new_host_key() if host_key is True else (host_key or None)
        if key is not None:
            env = env_with_host_key(env, key)
        lock: LaunchLock | None = None
        if launch_lock is not False:
            path = default_lock_path(app_name) if launch_lock is True else Path(launch_lock)
            lock = await LaunchLock.acquire(path, launch_lock_wait)
        try:
            launched = time.monotonic()
            try:
                process = await anyio.open_process(
                    list(command),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=dict(env) if env is not None else None,
                    cwd=cwd,
                    start_new_session=new_process_group,
                )
            except (FileNotFoundError, PermissionError) as exc:
                raise BinaryNotFound(command[0], exc.strerror or str(exc)) from exc
            client = cls(process, command, notification_buffer)
            client.spawned_at = launched
            client.launch_lock = lock
            client.host_key = key
            if on_spawn is not None:
                on_spawn(client)
            async with anyio.create_task_group() as tg:
                tg.start_soon(client._read_stdout)
                tg.start_soon(client._read_stderr)
                tg.start_soon(client._wait_exit)
                try:
                    try:
                        await client._wait_ready(ready_timeout)
                    finally:
                        client._release_launch_lock()  # BOOT may never have come: held at most ready_timeout
                    yield client
                finally:
                    with anyio.CancelScope(shield=True):
                        if stop_on_exit:
                            client.stop_result = await client.stop()
                        else:
                            await client._kill_group()
                            await client.wait(SIGKILL_TIMEOUT_S)
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The readers never raise, so a group here wraps the caller's own error: unwrap it.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            if lock is not None:
                lock.release()  # every path: spawn failure, READY given up, cancelled (else done at BOOT)

    async def _wait_ready(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            async with anyio.create_task_group() as tg:

                async def ready() -> None:
                    await self._ready.wait()
                    tg.cancel_scope.cancel()

                async def exited() -> None:
                    await self._exited.wait()
                    await self._stdout_closed.wait()  # read every line it printed first
                    tg.cancel_scope.cancel()

                tg.start_soon(ready)
                tg.start_soon(exited)
        if self._ready.is_set():
            return
        if self._exited.is_set():
            raise ExitedBeforeReady(self.exit_status, self.stderr_tail(), list(self.lines_before_ready))
        raise ReadyTimeout(timeout, list(self.lines_before_ready), self.stderr_tail())

    def _release_launch_lock(self) -> None:
        if self.launch_lock is not None:
            self.launch_lock.release()

    # ------------------------------------------------------------ calls

    async def call(self, method: str, params: Any = msgspec.UNSET, *, timeout: float = CALL_TIMEOUT_S) -> Any:
        """Call ``method`` and return its decoded result; raises RpcCallError on an error answer.

        On timeout the sidecar is sent an ``rpc.cancel`` notification for the id (so it
        stops the work, as the Rust host does) and :class:`CallTimeout` is raised.
        """
        request_id, frame = self._calls.start(method, params)
        pending = _Pending(method)
        self._pending[request_id] = pending
        try:
            await self.send_raw(frame)
            with anyio.move_on_after(timeout):
                await pending.done.wait()
        finally:
            self._calls.finish(request_id)
            self._pending.pop(request_id, None)
        if not pending.done.is_set():
            with anyio.move_on_after(CANCEL_WRITE_TIMEOUT_S), contextlib.suppress(SidecarExited):
                await self.send_raw(CallTable.cancel_frame(request_id))
            raise CallTimeout(method, timeout)
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def call_host(self, method: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """Call a host-only method (files.grant, files.revoke, secrets.get): ``call`` with the host key added."""
        if self.host_key is None:
            raise ValueError("this sidecar was spawned with host_key=False: it has no host-only methods")
        return await self.call(method, params_with_host_key(params, self.host_key), **kw)

    async def grant(self, path: str | os.PathLike[str], mode: str = "read") -> dict[str, Any]:
        """Grant the engine a path the user chose (``files.grant``); returns the grant record."""
        result: dict[str, Any] = await self.call_host("files.grant", {"path": os.fspath(path), "mode": mode})
        return result

    @property
    def next_request_id(self) -> int:
        """The id the next :meth:`call` will use (for rpc.cancel in tests)."""
        return self._calls.next_id

    async def notify(self, method: str, params: Any = msgspec.UNSET) -> None:
        """Send a notification (never answered)."""
        await self.send_raw(CallTable.notification_frame(method, params))

    async def send_raw(self, data: bytes) -> None:
        """Write bytes to the sidecar's stdin as given (add the newline yourself)."""
        stdin = self.process.stdin
        if stdin is None:
            raise SidecarExited(self.exit_status, self.stderr_tail())
        async with self._write_lock:
            try:
                await stdin.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, BrokenPipeError) as exc:
                raise SidecarExited(self.exit_status, self.stderr_tail()) from exc

    async def close_stdin(self) -> None:
        """Close the sidecar's stdin (it answers with SHUTDOWN reason=normal)."""
        if self.process.stdin is not None:
            async with self._write_lock:
                with contextlib.suppress(anyio.BrokenResourceError, OSError):
                    await self.process.stdin.aclose()

    # ------------------------------------------------------------ state

    @property
    def boot(self) -> LifecycleLine | None:
        """The latest BOOT line, once seen."""
        return self._session.boot

    @property
    def shutdown(self) -> LifecycleLine | None:
        """The SHUTDOWN line, once seen."""
        return self._session.shutdown

    @property
    def running(self) -> bool:
        """True until the process has exited."""
        return not self._exited.is_set()

    def stderr_tail(self, lines: int = 20) -> list[str]:
        """The last stderr lines."""
        return list(self.stderr_lines)[-lines:]

    async def wait(self, timeout: float | None = None) -> int | None:
        """Wait for exit (and the last stdout line); returns the status, or None on timeout."""
        with anyio.move_on_after(timeout):
            await self._exited.wait()
            await self._stdout_closed.wait()
        return self.exit_status if self._exited.is_set() else None

    def send_signal(self, signum: int) -> None:
        """Send a signal to the process itself (not its group)."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    # ------------------------------------------------------------ stopping

    async def stop(self, timeouts: StopTimeouts | None = None) -> StopResult:
        """Stop gracefully, escalating step by step; see the module docstring."""
        limits = timeouts or StopTimeouts()
        started = time.monotonic()
        step = "already_exited"
        if self.running:
            step = "shutdown_request"
            with contextlib.suppress(Exception):
                await self.call("system.shutdown", timeout=limits.shutdown_request)
            if await self.wait(limits.shutdown_request) is None:
                step = "stdin_close"
                await self.close_stdin()
                if await self.wait(limits.stdin_close) is None:
                    step = "sigterm"
                    self.send_signal(signal.SIGTERM)
                    if await self.wait(limits.sigterm) is None:
                        step = "sigkill"
                        await self._kill_group()
                        await self.wait(limits.sigkill)
        await self.close_stdin()
        return StopResult(
            exit_status=self.exit_status,
            shutdown_reason=self.shutdown.get("reason") if self.shutdown else None,
            step=step,
            seconds=time.monotonic() - started,
        )

    async def _kill_group(self) -> None:
        if not self.running:
            return
        try:
            os.killpg(os.getpgid(self.pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    # ------------------------------------------------------------ readers

    async def _wait_exit(self) -> None:
        self.exit_status = await self.process.wait()
        self._release_launch_lock()  # it exited before BOOT (or the lock is gone already)
        self._exited.set()
        with anyio.move_on_after(1.0):  # the pipe may stay open in a grandchild
            await self._stdout_closed.wait()
        self._fail_pending()

    def _fail_pending(self) -> None:
        for pending in list(self._pending.values()):
            if not pending.done.is_set():
                pending.error = SidecarExited(self.exit_status, self.stderr_tail())
                pending.done.set()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        splitter = LineSplitter(1 << 20)
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            async for chunk in self.process.stderr:
                for line in splitter.feed(chunk):
                    if isinstance(line, bytes):
                        self.stderr_lines.append(line.decode("utf-8", "replace"))
        last = splitter.finish()
        if isinstance(last, bytes):
            self.stderr_lines.append(last.decode("utf-8", "replace"))

    async def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        splitter = LineSplitter(MAX_LINE_BYTES)
        try:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                async for chunk in self.process.stdout:
                    for line in splitter.feed(chunk):
                        await self._on_line(line)
            last = splitter.finish()
            if last is not None:
                shown = show_line(last) if isinstance(last, bytes) else f"{last.size} bytes"
                self._violation("non_protocol_line", "(unterminated last line) " + shown)
        finally:
            self._stdout_closed.set()
        with anyio.move_on_after(1.0):  # stdout closes a moment before the exit status is known
            await self._exited.wait()
        self._fail_pending()

    async def _on_line(self, line: bytes | OversizeFrame) -> None:
        if (
            isinstance(line, bytes)
            and not self._ready.is_set()
            and len(self.lines_before_ready) < LINES_KEPT_BEFORE_READY
        ):
            self.lines_before_ready.append(show_line(line))
        events = self._session.on_line(line)
        answers = 0
        matched = 0
        for event in events:
            if isinstance(event, Answer):
                answers += 1
                matched += self._resolve(event)
            elif isinstance(event, NoteReceived):
                await self._note_send.send(event.notification)
            else:
                self._on_lifecycle(event)
        if answers and not matched:
            assert isinstance(line, bytes)
            await self._unmatched_send.send(UnmatchedFrame(line, _decode(line)))

    def _on_lifecycle(self, event: Boot | Ready | Heartbeat | Shutdown | Violation) -> None:
        now = time.monotonic()
        if isinstance(event, Violation):
            self._violation(event.kind, event.line)
            if event.kind == "boot_not_first" and event.line.startswith("BOOT"):
                self.boot_at = now  # a repeated BOOT still counts as the latest (the session keeps its line)
        elif isinstance(event, Boot):
            self.boot_at = now
            self._release_launch_lock()  # the bootstrap has unpacked and started the engine
        elif isinstance(event, Ready):
            self.ready_at = now
            self._ready.set()
        elif isinstance(event, Heartbeat):
            self.heartbeats.append(event.line)

    def _resolve(self, answer: Answer) -> bool:
        request_id = self._calls.match(answer.message)
        pending = self._pending.get(request_id) if request_id is not None else None
        if pending is None or pending.done.is_set():
            return False
        message = answer.message
        if isinstance(message, Response):
            pending.result = _decode(message.result)
        else:
            error = message.error
            pending.error = RpcCallError(pending.method, error.code, error.message, error.data)
        pending.done.set()
        return True

    def _violation(self, kind: str, line: str) -> None:
        if len(self.violations) < VIOLATIONS_KEPT:
            self.violations.append(ProtocolViolation(kind, line))
