"""The host's launch lock without a sidecar: where it is, that it excludes, waits, gives up and is never fatal."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import anyio
import pytest

from sidecar_host.launch_lock import LaunchLock, default_lock_path, is_locked

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file ownership and O_NOFOLLOW")


@posix_only
def test_one_file_per_user_and_app_in_tmp_whatever_tmpdir_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", "/somewhere/else")
    assert default_lock_path() == Path(f"/tmp/sidecar-launch-{os.getuid()}-PlutoDuck.lock")
    assert default_lock_path("WordFreq") == Path(f"/tmp/sidecar-launch-{os.getuid()}-WordFreq.lock")
    assert default_lock_path("My App/../x") == Path(f"/tmp/sidecar-launch-{os.getuid()}-My_App_.._x.lock")


@pytest.mark.anyio
async def test_a_second_holder_waits_until_the_first_releases(tmp_path: Path) -> None:
    path = tmp_path / "launch.lock"
    first = await LaunchLock.acquire(path)
    assert first.held and first.problem is None and is_locked(path)
    got: list[LaunchLock] = []

    async def second() -> None:
        got.append(await LaunchLock.acquire(path, wait=5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        await anyio.sleep(0.3)
        assert got == []  # still waiting
        first.release()
    assert got[0].held and 0.25 < got[0].waited_s < 2
    assert first.held_s is not None and first.held_s >= 0.3
    got[0].release()
    assert not is_locked(path)
    got[0].release()  # idempotent


@pytest.mark.anyio
async def test_the_wait_is_bounded_and_then_the_launch_goes_ahead(tmp_path: Path) -> None:
    path = tmp_path / "launch.lock"
    holder = await LaunchLock.acquire(path)
    started = time.monotonic()
    late = await LaunchLock.acquire(path, wait=0.2)
    assert 0.2 <= time.monotonic() - started < 1.5
    assert not late.held and late.problem is not None and "still held" in late.problem
    late.release()  # nothing to release: no error
    assert is_locked(path)  # the holder's lock is untouched
    holder.release()


@pytest.mark.anyio
async def test_an_unopenable_lock_file_is_a_problem_not_an_error(tmp_path: Path) -> None:
    lock = await LaunchLock.acquire(tmp_path / "no" / "such" / "dir" / "launch.lock")
    assert not lock.held and lock.problem is not None and "cannot open" in lock.problem


@posix_only
@pytest.mark.anyio
async def test_a_symlink_planted_at_the_path_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "someone-elses-file"
    target.write_text("keep me")
    path = tmp_path / "launch.lock"
    path.symlink_to(target)
    lock = await LaunchLock.acquire(path)
    assert not lock.held and lock.problem is not None
    assert target.read_text() == "keep me"


@posix_only
def test_the_lock_file_is_close_on_exec_and_private(tmp_path: Path) -> None:
    path = tmp_path / "launch.lock"
    lock = anyio.run(LaunchLock.acquire, path)
    try:
        assert lock._fd is not None
        assert not os.get_inheritable(lock._fd)
        assert path.stat().st_mode & 0o077 == 0
    finally:
        lock.release()
