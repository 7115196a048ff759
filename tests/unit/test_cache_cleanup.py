"""Old Nuitka and dead PyInstaller extraction folders are removed, used or fresh ones kept (real folders, real locks)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sidecar.daemon import watchdog
from sidecar.daemon.cache_cleanup import IN_USE, mark_in_use, sweep, sweep_pyinstaller_leftovers
from sidecar.daemon.extraction import ASIDE_SUFFIX, remove_extraction_folder, remove_own_extraction

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


def _mei(root: Path, name: str, marker_age_s: float | None, app: str = "") -> Path:
    """A PyInstaller-like extraction folder; ``marker_age_s`` None: no ``.in-use`` (not a sidecar's);
    ``app``: the app name in the marker (empty: a marker from before app names)."""
    folder = root / name
    (folder / "python3.11" / "lib-dynload").mkdir(parents=True)
    (folder / "python3.11" / "lib-dynload" / "_json.so").write_bytes(b"x" * 100)
    (folder / "base_library.zip").write_bytes(b"zip")
    if marker_age_s is not None:
        marker = folder / IN_USE
        marker.write_bytes(app.encode())
        old = time.time() - marker_age_s
        os.utime(marker, (old, old))
    return folder


def test_pyinstaller_sweep_removes_only_dead_sidecars_marked_folders(tmp_path: Path) -> None:
    own = _mei(tmp_path, "_MEI000100aaaaaa", 0)
    dead = _mei(tmp_path, "_MEI000200bbbbbb", 3600)  # its sidecar died: the lock is free
    half = _mei(tmp_path, "_MEI000300cccccc", 3600)  # a removal cut short: only the marker and a bit left
    for entry in ("python3.11", "base_library.zip"):
        path = half / entry
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    running = _mei(tmp_path, "_MEI000400dddddd", 3600)  # its sidecar holds the shared lock
    young = _mei(tmp_path, "_MEI000500eeeeee", 5)  # marked a moment ago: maybe its lock is being taken
    other_app = _mei(tmp_path, "_MEI000600ffffff", None)  # no marker: another PyInstaller app's
    other_kit_app = _mei(tmp_path, "_MEI000650ffffff", 3600, app="WordFreq")  # a dead sidecar of another app
    named = _mei(tmp_path, "_MEI000660ffffff", 3600, app="PlutoDuck")  # a dead sidecar of ours, named
    not_mei = _mei(tmp_path, "something-else", 3600)
    (tmp_path / "_MEI000700link").symlink_to(dead)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(running / IN_USE)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        assert mark_in_use(own, "PlutoDuck")
        removed = sweep_pyinstaller_leftovers(own)
    finally:
        holder.kill()
        holder.wait()
    assert sorted(removed) == [dead, half, named]
    assert not dead.exists() and not half.exists()
    assert (own / IN_USE).read_text() == "PlutoDuck"
    for kept in (own, running, young, other_app, other_kit_app, not_mei):
        assert kept.exists(), kept
    assert (tmp_path / "_MEI000700link").is_symlink()


def test_a_removal_deletes_the_marker_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut short anywhere before the end, what is left still carries the marker; the
    largest files go first, so a removal cut short has freed the most it could."""
    folder = _mei(tmp_path, "_MEI000800gggggg", 0)
    order: list[str] = []
    real_unlink = os.unlink

    def recording_unlink(path: str, *args: object, **kwargs: object) -> None:
        order.append(os.path.basename(path))
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", recording_unlink)
    remove_extraction_folder(folder)
    assert not folder.exists()
    assert order[-1] == IN_USE and order.count(IN_USE) == 1
    assert order == ["_json.so", "base_library.zip", IN_USE]  # the largest first (100 bytes, 3), the marker last


def test_a_removal_past_its_deadline_leaves_the_marker(tmp_path: Path) -> None:
    """A removal out of time stops before the next file, and what is left is still marked."""
    folder = _mei(tmp_path, "_MEI000810gggggg", 0)
    assert remove_extraction_folder(folder, deadline=time.monotonic() - 1) is False
    assert (folder / IN_USE).exists()
    assert remove_extraction_folder(folder, deadline=time.monotonic() + 10) is True
    assert not folder.exists()


def test_a_symlink_to_a_folder_is_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("kept")
    folder = _mei(tmp_path, "_MEI000820gggggg", 0)
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    assert remove_extraction_folder(folder) is True
    assert (outside / "keep.txt").read_text() == "kept"


@pytest.mark.parametrize("reason", ["normal", "signal", "parent_exit"])
def test_the_sidecar_takes_its_folder_out_of_the_bootstraps_hands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reason: str
) -> None:
    """Whatever ended it, the sidecar deletes its own folder; with a live bootstrap it leaves an
    empty folder under the old name, which the bootstrap removes at once (it used to delete the
    whole payload itself, too slowly for the hosts' stop step on a busy machine)."""
    own = _mei(tmp_path, "_MEI000830iiiiii", 0)
    monkeypatch.setattr(watchdog, "_first_armed", [])  # no shutdown began in this process
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(own), raising=False)
    assert remove_own_extraction(reason) is True
    assert not own.with_name(own.name + ASIDE_SUFFIX).exists()
    if reason == "parent_exit":
        assert not own.exists()
    else:
        assert own.is_dir() and list(own.iterdir()) == []


def test_the_removal_ends_its_budget_after_the_shutdown_began(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shutdown sequence that already used the budget leaves the whole folder to a later
    start: the stop must fit the hosts' step, the clean-up can wait."""
    own = _mei(tmp_path, "_MEI000835iiiiii", 0)
    monkeypatch.setattr(watchdog, "_first_armed", [time.monotonic() - 5])
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(own), raising=False)
    assert remove_own_extraction("signal") is True
    aside = own.with_name(own.name + ASIDE_SUFFIX)
    assert (aside / IN_USE).exists() and (aside / "base_library.zip").exists()


def test_what_a_removal_out_of_time_leaves_is_swept_by_a_later_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _mei(tmp_path, "_MEI000840jjjjjj", 3600)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(own), raising=False)
    assert remove_own_extraction("signal", budget_s=-1) is True
    aside = own.with_name(own.name + ASIDE_SUFFIX)
    assert (aside / IN_USE).exists() and (aside / "base_library.zip").exists()
    later = _mei(tmp_path, "_MEI000850kkkkkk", 0)
    assert sweep_pyinstaller_leftovers(later) == [aside]
    assert not aside.exists()


def test_a_pyinstaller_sidecar_marks_its_folder_and_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sidecar.daemon import cache_cleanup

    own = _mei(tmp_path, "_MEI000900hhhhhh", None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(own), raising=False)
    monkeypatch.delenv("NUITKA_ONEFILE_PARENT", raising=False)
    monkeypatch.setattr(cache_cleanup, "_marked", [])
    held = list(cache_cleanup._held)
    try:
        assert cache_cleanup.mark_own_folder()
        assert cache_cleanup._marked == [(own, cache_cleanup.sweep_pyinstaller_leftovers)]
        fd = os.open(own / IN_USE, os.O_RDWR)
        try:
            with pytest.raises(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a sweeper cannot take it
        finally:
            os.close(fd)
    finally:
        for fd in cache_cleanup._held[len(held) :]:
            os.close(fd)
        cache_cleanup._held[:] = held


def test_a_nuitka_folder_of_another_app_name_is_not_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from ``<cache>/<other app>/sidecar/<build>``, a binary whose baked name is PlutoDuck sweeps nothing."""
    from sidecar.daemon import cache_cleanup

    for app, expected in (("PlutoDuck", True), ("WordFreq", False)):
        folder = _folder(tmp_path / app / "sidecar", "0.1.0-abcd", 0)
        monkeypatch.setenv("NUITKA_ONEFILE_PARENT", "1")
        monkeypatch.setattr(sys, "executable", str(folder / "sidecar"))
        assert (cache_cleanup.own_extraction_folder() == folder) is expected, app


def test_the_exec_launcher_names_our_folder_only_when_we_run_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build/launcher execs the program in ``SIDECAR_LAUNCHER_DIR``; the variable counts only
    when it is the folder our executable is in (an inherited one names someone else's)."""
    from sidecar.daemon import cache_cleanup

    folder = _folder(tmp_path / "PlutoDuck" / "sidecar", "0.1.0-abcd", 0)
    other = _folder(tmp_path / "PlutoDuck" / "sidecar", "0.1.0-ef01", 0)
    monkeypatch.delenv("NUITKA_ONEFILE_PARENT", raising=False)
    monkeypatch.setattr(sys, "executable", str(folder / "sidecar"))
    monkeypatch.setenv("SIDECAR_LAUNCHER_DIR", str(folder))
    assert cache_cleanup.own_extraction_folder() == folder
    monkeypatch.setenv("SIDECAR_LAUNCHER_DIR", str(other))
    assert cache_cleanup.own_extraction_folder() is None
    monkeypatch.delenv("SIDECAR_LAUNCHER_DIR")
    assert cache_cleanup.own_extraction_folder() is None  # a plain standalone folder: not a cache


def test_the_launchers_abandoned_unpacks_are_swept(tmp_path: Path) -> None:
    """A launcher killed mid-unpack leaves ``<folder>.tmp-<pid>``; one that swapped out an
    unfinished folder and died before removing it, ``<folder>.stale-<pid>``. Old and unused,
    both go; a fresh one (an unpack under way right now) stays."""
    root = tmp_path / "PlutoDuck" / "sidecar"
    own = _folder(root, "0.2.0-bbbb", 0)
    abandoned = _folder(root, "0.2.0-bbbb.tmp-4242", 3600)
    stale = _folder(root, "0.2.0-bbbb.stale-4243", 3600)
    unpacking = _folder(root, "0.2.0-bbbb.tmp-4244", 1)
    assert sorted(sweep(own)) == sorted([abandoned, stale])
    assert unpacking.is_dir()
