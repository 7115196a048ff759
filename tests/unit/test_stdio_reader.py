"""FdReader on real pipes: the persistent selector registration and the adaptive poll.

No timing is asserted: the tests check what is read, that the fd is watched
only while somebody waits (a readable fd nobody reads must not spin the event
loop), and how the poll backs off when it catches nothing and comes back when
it does. The poll window is widened where a test needs a catch to be certain.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import anyio
import pytest

from sidecar.transport import stdio
from sidecar.transport.stdio import READ_SPIN_MAX_BACKOFF, FdReader

pytestmark = pytest.mark.anyio


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


def write_later(fd: int, data: bytes, delay_s: float) -> threading.Thread:
    def target() -> None:
        time.sleep(delay_s)
        os.write(fd, data)

    thread = threading.Thread(target=target)
    thread.start()
    return thread


async def test_reads_what_arrives_and_eof(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    reader = FdReader(read_fd)
    os.write(write_fd, b"first\n")
    assert await reader.read() == b"first\n"
    thread = write_later(write_fd, b"second\n", 0.05)  # arrives while the reader sleeps in the selector
    assert await reader.read() == b"second\n"
    thread.join()
    os.close(write_fd)
    assert await reader.read() == b""
    reader.close()


async def test_fd_is_watched_only_while_someone_waits(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    reader = FdReader(read_fd)
    thread = write_later(write_fd, b"a\n", 0.05)
    assert await reader.read() == b"a\n"  # waited: the fd is registered now
    thread.join()
    assert reader._registered
    # Data arrives while nobody reads: the first readiness callback unregisters,
    # so the loop does not wake on every turn until the data is read.
    os.write(write_fd, b"b\n")
    turns = 0
    while reader._registered and turns < 1000:
        await anyio.sleep(0)
        turns += 1
    assert not reader._registered, "a readable fd nobody waits for stayed registered"
    assert await reader.read() == b"b\n"
    reader.close()


async def test_poll_backs_off_when_it_catches_nothing_and_resets_when_it_does(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_fd, write_fd = pipe
    reader = FdReader(read_fd)
    # Nothing comes within the poll window (the data comes 50 ms later): a miss.
    thread = write_later(write_fd, b"late\n", 0.05)
    assert await reader.read() == b"late\n"
    thread.join()
    assert (reader._spin_misses, reader._spin_skip) == (1, 2)
    # The next reads skip the poll (data already there, or not: no poll either way).
    for expected_skip in (1, 0):
        os.write(write_fd, b"x\n")
        assert await reader.read() == b"x\n"
        assert reader._spin_skip == expected_skip
    # Misses in a row double the skip, up to the cap.
    for _ in range(READ_SPIN_MAX_BACKOFF + 2):
        reader._spin_skip = 0
        thread = write_later(write_fd, b"late\n", 0.01)
        await reader.read()
        thread.join()
    assert reader._spin_misses == READ_SPIN_MAX_BACKOFF
    assert reader._spin_skip == 1 << READ_SPIN_MAX_BACKOFF
    # A poll that catches the data (window widened to make the catch certain) resets the backoff.
    monkeypatch.setattr(stdio, "READ_SPIN_NS", 5_000_000_000)
    reader._spin_skip = 0
    thread = write_later(write_fd, b"caught\n", 0.02)
    assert await reader.read() == b"caught\n"
    thread.join()
    assert reader._spin_misses == 0
    reader.close()
