"""Watch a process tree from a thread: peak RSS and every pid that belonged to it."""

from __future__ import annotations

import threading

import psutil

SAMPLE_INTERVAL_S = 0.02


class TreeSampler:
    """Samples ``pid`` and its descendants until :meth:`stop`.

    peak_rss: the largest summed RSS seen (bytes).
    pids: every pid seen in the tree (the root included).
    states: from the last sample while the root was alive, one line per process:
    pid, name, status and (Linux) the kernel function it waits in, for a failed launch's record.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self.pids: set[int] = {pid}
        self.states: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def start(self) -> None:
        """Begin sampling (returns at once)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop.set()
        self._thread.join(2)

    def add_pid(self, pid: int) -> None:
        """Also account for ``pid`` (e.g. the Python child named in BOOT)."""
        self.pids.add(pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_INTERVAL_S)

    def sample(self) -> None:
        """Take one sample now."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
            root_alive = root.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
        except psutil.Error:
            return
        total = 0
        states = []
        for proc in procs:
            try:
                total += proc.memory_info().rss
                self.pids.add(proc.pid)
                states.append(f"{proc.pid} {proc.name()} {proc.status()} wchan={_wchan(proc.pid)}")
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, total)
        if root_alive:
            self.states = states


def _wchan(pid: int) -> str:
    """Where in the kernel ``pid`` waits (Linux), '-' elsewhere or when unreadable."""
    try:
        with open(f"/proc/{pid}/wchan") as wchan:
            return wchan.read().strip() or "-"
    except OSError:
        return "-"


#: ``PF_EXITING`` in /proc/<pid>/stat's flags: the process has begun to exit (Linux).
_PF_EXITING = 0x4


def kernel_state(pid: int) -> str:
    """What the kernel says of ``pid`` right now (Linux): its state letter, whether it is
    already exiting, and where it waits; '-' when unreadable (gone, or not Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "-"
    exiting = int(fields[6]) & _PF_EXITING if len(fields) > 6 and fields[6].isdigit() else 0
    return f"state {fields[0]}{', exiting' if exiting else ''}, wchan={_wchan(pid)}"


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
