"""The sidecar ends when the process that launched it dies, checked by pid.

The launcher is a real intermediate process (as a onefile bootstrap is): it
starts the sidecar with our pipes as its stdin/stdout, then we SIGKILL it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support import sidecar_args, sidecar_env, under_test_is_binary, wait_gone

LAUNCHER = """
import subprocess, sys, time
child = subprocess.Popen(sys.argv[1:])
sys.stderr.write(f"launcher started {child.pid}\\n")
while True:
    time.sleep(60)
"""


def _launch(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *sidecar_args(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=sidecar_env(),
    )
    assert launcher.stdout is not None
    boot = launcher.stdout.readline()
    assert boot.startswith(b"BOOT "), boot
    assert launcher.stdout.readline() == b"READY\n"
    return launcher, int(boot.split(b"pid=")[1])


def _read_rest(launcher: subprocess.Popen[bytes]) -> list[bytes]:
    assert launcher.stdout is not None
    return launcher.stdout.read().splitlines()


def test_launcher_sigkill_ends_the_sidecar_within_a_second(data_dir: Path) -> None:
    launcher, sidecar_pid = _launch(data_dir)
    assert sidecar_pid != launcher.pid
    os.kill(launcher.pid, signal.SIGKILL)
    killed = time.monotonic()
    launcher.wait(5)
    assert wait_gone([sidecar_pid], 1.0) == [], "sidecar outlived its launcher by more than 1 s"
    elapsed = time.monotonic() - killed
    rest = _read_rest(launcher)
    assert rest[-1] == b"SHUTDOWN reason=parent_exit", rest
    assert elapsed < 1.0


def test_launcher_death_while_requests_are_in_flight(data_dir: Path) -> None:
    launcher, sidecar_pid = _launch(data_dir)
    assert launcher.stdin is not None
    launcher.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"test.sleep","params":{"seconds":30}}\n')
    launcher.stdin.flush()
    time.sleep(0.2)
    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait(5)
    assert wait_gone([sidecar_pid], 1.0) == []
    rest = _read_rest(launcher)
    assert b'"kind":"shutting_down"' in rest[0]
    assert rest[-1] == b"SHUTDOWN reason=parent_exit"


def test_launcher_death_while_the_main_thread_is_blocked(data_dir: Path) -> None:
    """A handler that blocks the event loop (a bug) cannot keep an orphan alive."""
    launcher, sidecar_pid = _launch(data_dir)
    assert launcher.stdin is not None
    launcher.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"test.block","params":{"seconds":20}}\n')
    launcher.stdin.flush()
    time.sleep(0.3)
    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait(5)
    assert wait_gone([sidecar_pid], 1.5) == [], "a blocked main thread kept the orphan alive"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_launcher_thread_exiting_is_not_a_parent_death(data_dir: Path) -> None:
    """PDEATHSIG also fires when the spawning *thread* ends; the sidecar must see its parent is alive."""
    script = """
import subprocess, sys, threading, time
holder = {}
def spawn():
    holder["p"] = subprocess.Popen(sys.argv[1:])
t = threading.Thread(target=spawn); t.start(); t.join()
time.sleep(60)
"""
    launcher = subprocess.Popen(
        [sys.executable, "-c", script, *sidecar_args(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=sidecar_env(),
    )
    assert launcher.stdout is not None and launcher.stdin is not None
    boot = launcher.stdout.readline()
    assert launcher.stdout.readline() == b"READY\n"
    sidecar_pid = int(boot.split(b"pid=")[1])
    time.sleep(1.0)  # the spawning thread is long gone
    assert wait_gone([sidecar_pid], 0) == [sidecar_pid], "sidecar died although its parent lives"
    launcher.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n')
    launcher.stdin.flush()
    assert b'"pong":true' in launcher.stdout.readline()
    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait(5)
    assert wait_gone([sidecar_pid], 1.0) == []


FAKE_BOOTSTRAP_HOST = """
import os, subprocess, sys, time
# The host: starts a stand-in for a onefile bootstrap, then waits to be killed.
bootstrap = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
sys.stderr.write(f"bootstrap {bootstrap.pid}\\n")
time.sleep(60)
"""

FAKE_BOOTSTRAP = """
import os, subprocess, sys, time
# A stand-in for a Nuitka onefile bootstrap: it starts the real program with
# NUITKA_ONEFILE_PARENT set (as Nuitka does) and, like it, never notices its own parent dying.
env = dict(os.environ, NUITKA_ONEFILE_PARENT=str(os.getpid()))
child = subprocess.Popen(sys.argv[1:], env=env)
child.wait()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the host behind a bootstrap is read from /proc")
@pytest.mark.skipif(under_test_is_binary(), reason="simulates a bootstrap around the source; binaries have a real one")
def test_host_death_is_seen_through_a_onefile_bootstrap(data_dir: Path) -> None:
    """host -> bootstrap -> sidecar; SIGKILL the host while the bootstrap lives on (issue-log 0018).

    The bootstrap here is a small Python stand-in that behaves like Nuitka's (it sets
    NUITKA_ONEFILE_PARENT and ignores its parent's death), so the path is tested from source.
    """
    host = subprocess.Popen(
        [sys.executable, "-c", FAKE_BOOTSTRAP_HOST, FAKE_BOOTSTRAP, *sidecar_args(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=sidecar_env(),
    )
    assert host.stdout is not None
    boot = host.stdout.readline()
    assert host.stdout.readline() == b"READY\n"
    sidecar_pid = int(boot.split(b"pid=")[1])
    bootstrap_pid = psutil.Process(sidecar_pid).ppid()
    assert bootstrap_pid != host.pid
    os.kill(host.pid, signal.SIGKILL)
    host.wait(5)
    assert wait_gone([sidecar_pid], 1.0) == [], "the sidecar outlived the host behind its bootstrap"
    assert _read_rest(host)[-1] == b"SHUTDOWN reason=parent_exit"
    assert wait_gone([bootstrap_pid], 2.0) == []  # it ends with its child
