"""The Python host's launch lock with stand-in sidecars: held from spawn to BOOT and released on every path.

The lock serialises first launches of a onefile binary (issue-log 0012; the proof with the
real Nuitka binary is tests/packaging/test_concurrent_first_launches.py). Here a stand-in
that sleeps before BOOT (tests/fixtures/bad_sidecars/slow_boot.py) shows the mechanics;
each test uses its own lock file, so parallel test runs do not see each other.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from sidecar_host import ExitedBeforeReady, ReadyTimeout, SidecarClient, SidecarStartError
from sidecar_host.launch_lock import LaunchLock, is_locked

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_sidecars"


def fixture(name: str) -> list[str]:
    return [sys.executable, str(FIXTURES / f"{name}.py")]


def slow_env(seconds: float, trace: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, SLOW_BOOT_S=str(seconds))
    if trace is not None:
        env["SLOW_BOOT_TRACE"] = str(trace)
    return env


def read_trace(trace: Path) -> dict[int, tuple[float, float]]:
    """pid -> (start, boot) from the fixture's trace file."""
    seen: dict[int, dict[str, float]] = {}
    for line in trace.read_text().splitlines():
        what, pid, at = line.split()
        seen.setdefault(int(pid), {})[what] = float(at)
    return {pid: (times["start"], times["boot"]) for pid, times in seen.items()}


def open_fds_to(pid: int, path: Path) -> list[str]:
    """The fds of ``pid`` that point at ``path`` (Linux /proc)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    found = []
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == str(path):
                found.append(fd.name)
        except OSError:
            pass
    return found


@pytest.mark.anyio
async def test_held_from_spawn_until_boot_then_released(tmp_path: Path) -> None:
    lock = tmp_path / "launch.lock"
    held_while_booting: list[bool] = []

    def on_spawn(client: SidecarClient) -> None:
        held_while_booting.append(is_locked(lock))  # the process exists, BOOT is a second away

    async with SidecarClient.spawn(
        fixture("slow_boot"), env=slow_env(1.0), launch_lock=lock, on_spawn=on_spawn
    ) as client:
        assert held_while_booting == [True]
        assert not is_locked(lock), "still held after READY"
        assert client.launch_lock is not None and client.launch_lock.problem is None
        assert client.launch_lock.held_s is not None and client.launch_lock.held_s >= 0.9
        if sys.platform.startswith("linux"):
            assert open_fds_to(client.pid, lock) == [], "the child inherited the lock file"
        assert (await client.call("system.ping"))["pong"] is True


@pytest.mark.anyio
@pytest.mark.parametrize("locked", [True, False], ids=["lock", "no-lock"])
async def test_two_launches_boot_one_after_the_other(tmp_path: Path, locked: bool) -> None:
    trace = tmp_path / "trace"
    lock: Path | bool = tmp_path / "launch.lock" if locked else False

    async def launch() -> None:
        async with SidecarClient.spawn(fixture("slow_boot"), env=slow_env(1.0, trace), launch_lock=lock):
            pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(launch)
        tg.start_soon(launch)
    (_, a_boot), (b_start, _) = sorted(read_trace(trace).values())
    if locked:
        assert b_start >= a_boot, "the second launch started before the first printed BOOT"
    else:
        assert b_start < a_boot, "without the lock both should start at once"


@pytest.mark.anyio
async def test_released_when_the_process_exits_before_boot(tmp_path: Path) -> None:
    lock = tmp_path / "launch.lock"
    with pytest.raises(ExitedBeforeReady):
        async with SidecarClient.spawn([sys.executable, "-c", "raise SystemExit(5)"], launch_lock=lock):
            pass
    assert not is_locked(lock)


@pytest.mark.anyio
async def test_held_while_waiting_for_ready_and_released_on_the_timeout(tmp_path: Path) -> None:
    lock = tmp_path / "launch.lock"
    held: list[bool] = []

    async def watch() -> None:
        await anyio.sleep(0.5)
        held.append(is_locked(lock))

    async def launch() -> None:
        with pytest.raises(ReadyTimeout):
            async with SidecarClient.spawn(fixture("garbage_no_ready"), ready_timeout=1.0, launch_lock=lock):
                pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        tg.start_soon(launch)
    assert held == [True]  # no BOOT: held until READY was given up on
    assert not is_locked(lock)


@pytest.mark.anyio
async def test_released_when_the_spawn_fails(tmp_path: Path) -> None:
    lock = tmp_path / "launch.lock"
    with pytest.raises(SidecarStartError):
        async with SidecarClient.spawn(fixture("slow_boot"), cwd=str(tmp_path / "no-such-dir"), launch_lock=lock):
            pass
    assert not is_locked(lock)


@pytest.mark.anyio
async def test_a_lock_held_too_long_is_waited_for_then_ignored(tmp_path: Path) -> None:
    lock = tmp_path / "launch.lock"
    stuck = await LaunchLock.acquire(lock)  # e.g. a host frozen between spawn and BOOT
    try:
        async with SidecarClient.spawn(
            fixture("slow_boot"), env=slow_env(0), launch_lock=lock, launch_lock_wait=0.3
        ) as client:
            assert client.launch_lock is not None and not client.launch_lock.held
            assert client.launch_lock.waited_s >= 0.3
            assert "still held" in (client.launch_lock.problem or "")
    finally:
        stuck.release()


@pytest.mark.anyio
async def test_off_takes_no_lock(tmp_path: Path) -> None:
    async with SidecarClient.spawn(fixture("slow_boot"), env=slow_env(0), launch_lock=False) as client:
        assert client.launch_lock is None
