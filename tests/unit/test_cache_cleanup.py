"""Old Nuitka extraction folders are removed, used or fresh ones are kept (real folders, real locks)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from sidecar.daemon.cache_cleanup import IN_USE, mark_in_use, sweep

HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_SH)
print("locked", flush=True)
time.sleep(60)
"""


def _folder(root: Path, name: str, age_s: float) -> Path:
    folder = root / name
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "x.so").write_bytes(b"x" * 100)
    old = time.time() - age_s
    for path in (folder / "lib" / "x.so", folder / "lib", folder):
        os.utime(path, (old, old))
    return folder


def test_sweep_removes_only_old_unused_siblings(tmp_path: Path) -> None:
    root = tmp_path / "PlutoDuck" / "sidecar"
    own = _folder(root, "0.2.0-bbbb", 0)
    stale = _folder(root, "0.1.0-aaaa", 3600)
    fresh = _folder(root, "0.1.9-cccc", 30)  # maybe being unpacked right now
    busy = _folder(root, "0.1.5-dddd", 3600)
    other = _folder(root, "not-a-build", 3600)
    (root / "0.0.1-link").symlink_to(stale)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(busy / IN_USE)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        assert mark_in_use(own)
        removed = sweep(own)
    finally:
        holder.kill()
        holder.wait()
    assert removed == [stale]
    assert not stale.exists()
    for kept in (own, fresh, busy, other, root / "0.0.1-link"):
        assert kept.exists() or kept.is_symlink()


def test_own_folder_lock_blocks_other_sweepers(tmp_path: Path) -> None:
    root = tmp_path / "sidecar"
    mine = _folder(root, "0.1.0-aaaa", 3600)
    assert mark_in_use(mine)
    fd = os.open(mine / IN_USE, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except OSError:
            locked = False
    finally:
        os.close(fd)
    # flock locks belong to the open file: another open in this process conflicts like another process.
    assert locked is False
