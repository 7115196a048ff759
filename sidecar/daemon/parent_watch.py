"""Notice the death of the process that launched us, whatever the main thread does.

The launcher may be the host app or a onefile bootstrap; when it dies (even
by SIGKILL) we must not live on as an orphan holding the DuckDB file.

* Linux: ``prctl(PR_SET_PDEATHSIG, SIGUSR2)`` makes the kernel signal us the
  moment the parent goes (the signal handler confirms the parent really
  changed: the kernel also fires it when only the parent *thread* that
  spawned us exits). A watcher thread polling ``getppid()`` backs it up.
* macOS and other POSIX: the watcher thread polling ``getppid()`` (it becomes
  1 or a subreaper's pid when the parent dies).
* Windows: the watcher thread waits on a handle to the parent process.

Under a onefile packager our parent is the bootstrap, and the bootstrap does
not notice when *its* parent (the host app) dies. So when we run as a onefile
child (Nuitka sets ``NUITKA_ONEFILE_PARENT``; PyInstaller sets ``sys._MEIPASS``)
the watcher also records the bootstrap's own parent at start and treats a
change of it as the host's death (Linux: ``/proc/<bootstrap>/stat``; elsewhere
the host's death still reaches us as stdin EOF). Parent pids are compared, not
probed, so pid reuse and zombies cannot fool it.

The watcher is a plain thread, so it works while the main thread is blocked
anywhere (a read, a C call): it does not rely on an exception raised into
the main thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Final

#: How often the watcher thread looks at the parent pid.
POLL_INTERVAL_S: Final = 0.1
PDEATH_SIGNAL: Final = getattr(signal, "SIGUSR2", None)
_PR_SET_PDEATHSIG: Final = 1


class ParentWatch:
    """Calls ``on_lost`` once, from a thread, when the launching process is gone."""

    def __init__(self, on_lost: Callable[[], None], launcher_pid: int) -> None:
        """``launcher_pid`` is ``os.getppid()`` read first thing at startup."""
        self._on_lost = on_lost
        self.original_ppid = launcher_pid
        #: The host behind a onefile bootstrap (the bootstrap's parent), when we can see it.
        self.host_pid = _ppid_of(launcher_pid) if _behind_onefile_bootstrap() else None
        if self.host_pid is not None and self.host_pid <= 1:
            self.host_pid = None  # the bootstrap was launched by init (or its host is already gone)
        self._stop = threading.Event()
        self._fired = threading.Event()
        self._thread: threading.Thread | None = None
        self.mechanism = "none"

    def parent_lost(self) -> bool:
        """True once our parent is no longer the process that launched us."""
        if os.name == "nt":
            return _windows_parent_gone(self.original_ppid, 0)
        return os.getppid() != self.original_ppid or self._host_lost()

    def _host_lost(self) -> bool:
        return self.host_pid is not None and _ppid_of(self.original_ppid) != self.host_pid

    def install_pdeathsig(self) -> bool:
        """Ask the Linux kernel to send PDEATH_SIGNAL when the parent dies."""
        if not sys.platform.startswith("linux") or PDEATH_SIGNAL is None:
            return False
        # The process's own symbols (dlopen(NULL)) hold libc's prctl: ctypes.util.find_library
        # would import subprocess and run ldconfig, ~15 ms before READY.
        for libc_name in (None, "libc.so.6"):
            try:
                libc = ctypes.CDLL(libc_name, use_errno=True)
                ok: bool = libc.prctl(_PR_SET_PDEATHSIG, int(PDEATH_SIGNAL), 0, 0, 0) == 0
            except (OSError, AttributeError):
                continue
            return ok
        return False

    def start(self) -> None:
        """Start watching (when launched by init there is no parent worth watching)."""
        if self.original_ppid <= 1 and os.name != "nt":
            self.mechanism = "none (launched by init)"
            return
        pdeathsig = self.install_pdeathsig()
        self.mechanism = (
            "prctl(PR_SET_PDEATHSIG)+getppid poll"
            if pdeathsig
            else ("parent process handle wait" if os.name == "nt" else "getppid poll")
        )
        if self.host_pid is not None:
            self.mechanism += f"+host {self.host_pid} behind the onefile bootstrap"
        self._thread = threading.Thread(target=self._run, name="sidecar-parent-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the watcher thread (at shutdown)."""
        self._stop.set()

    def fire(self) -> None:
        """Report the loss once (from the thread or the PDEATH signal handler)."""
        if not self._fired.is_set():
            self._fired.set()
            self._on_lost()

    def _run(self) -> None:
        # The parent may have died between our start and prctl(): check first.
        while not self._stop.is_set():
            if os.name == "nt":
                gone = _windows_parent_gone(self.original_ppid, int(POLL_INTERVAL_S * 1000))
            else:
                gone = os.getppid() != self.original_ppid or self._host_lost()
            if gone:
                self.fire()
                return
            if os.name != "nt":
                self._stop.wait(POLL_INTERVAL_S)


def _behind_onefile_bootstrap() -> bool:
    """True when our parent is a onefile bootstrap (Nuitka or PyInstaller)."""
    if os.environ.get("NUITKA_ONEFILE_PARENT"):
        return True
    return bool(getattr(sys, "frozen", False) and getattr(sys, "_MEIPASS", None))


def _ppid_of(pid: int) -> int | None:
    """The parent pid of ``pid`` (Linux /proc), None if it is gone or cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == b"Z":  # a zombie: it has exited
        return None
    return int(fields[1])


def _windows_parent_gone(pid: int, wait_ms: int) -> bool:  # pragma: no cover - Windows only
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]  # WinDLL exists only on Windows; mypy checks as Linux
    synchronize = 0x00100000
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return True  # no such process any more
    try:
        return bool(kernel32.WaitForSingleObject(handle, wait_ms) == 0)  # WAIT_OBJECT_0: it exited
    finally:
        kernel32.CloseHandle(handle)
