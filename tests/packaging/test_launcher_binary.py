"""The exec launcher of the BUILT Nuitka binary (build/launcher), on the real payload (Linux).

``dist/nuitka/sidecar-<triple>`` built with the launcher (the default): the first launch
unpacks ~130 MB into ``$XDG_CACHE_HOME/<app>/sidecar/<version>-<build id>/`` and every later
launch execs the program there without reading it. These tests use a private
``XDG_CACHE_HOME`` each, so cold launches are cold and the user's cache is untouched. The
launcher itself, on small made-up payloads, is tested in tests/packaging/test_launcher.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import bootstrap_of, check_stdout

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build"))
import buildinfo  # noqa: E402

BINARY = REPO / "dist" / "nuitka" / f"sidecar-{buildinfo.target_triple()}"


def _manifest() -> dict[str, object]:
    return dict(json.loads((BINARY.parent / "manifest.json").read_text()))


pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CACHE_HOME is the Linux cache location"),
    pytest.mark.skipif(
        not BINARY.is_file() or bootstrap_of(BINARY) != "launcher",
        reason=f"{BINARY.relative_to(REPO)} not built with the launcher (build-nuitka.sh)",
    ),
]


def _env(cache_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "NUITKA_"))}
    env.pop("PYTHONPATH", None)
    env["XDG_CACHE_HOME"] = str(cache_home)
    return env


def _folder(cache_home: Path) -> Path:
    manifest = _manifest()
    return cache_home / str(manifest["app_name"]) / "sidecar" / f"{manifest['sidecar_version']}-{manifest['build_id']}"


def _ping_once(cache_home: Path, data_dir: Path) -> subprocess.CompletedProcess[bytes]:
    """One launch that answers a ping and stops on stdin EOF."""
    return subprocess.run(
        [str(BINARY), "--data-dir", str(data_dir), "--heartbeat-interval", "0"],
        input=b'{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n',
        capture_output=True,
        env=_env(cache_home),
        timeout=120,
    )


def _answered(run: subprocess.CompletedProcess[bytes]) -> None:
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    lines = check_stdout(run.stdout)
    assert lines[1] == "READY"
    assert json.loads(lines[2])["result"]["pong"] is True
    assert lines[-1].startswith("SHUTDOWN reason=normal")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (inode, mtime_ns) of every regular file the build put there."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and p.name not in (".in-use",)
    }


def test_a_warm_launch_rewrites_nothing(tmp_path: Path) -> None:
    """Cold: unpacked and marked complete. Warm: the same files, untouched (same inodes and
    times), and the engine answers: nothing was read back or rewritten."""
    cache = tmp_path / "cache"
    _answered(_ping_once(cache, tmp_path / "d1"))
    folder = _folder(cache)
    assert (folder / ".complete").is_file()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no tmp or stale folder left
    before = _snapshot(folder)
    assert len(before) > 100
    _answered(_ping_once(cache, tmp_path / "d2"))
    assert _snapshot(folder) == before


def test_a_damaged_cache_folder_is_unpacked_again(tmp_path: Path) -> None:
    """A file deleted and another truncated in the cache folder (a cleaner, a full disk in
    another program): the next launch notices by size and unpacks a fresh folder."""
    cache = tmp_path / "cache"
    _answered(_ping_once(cache, tmp_path / "d1"))
    folder = _folder(cache)
    libs = sorted(p for p in folder.glob("*.so*") if p.is_file())
    deleted, truncated = libs[0], libs[-1]
    size = truncated.stat().st_size
    deleted.unlink()
    with truncated.open("r+b") as fh:
        fh.truncate(size // 2)
    _answered(_ping_once(cache, tmp_path / "d2"))
    assert deleted.is_file()
    assert truncated.stat().st_size == size
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_an_unfinished_unpack_is_never_used(tmp_path: Path) -> None:
    """A folder at the final name without ``.complete`` (a crash mid-unpack by an older
    build, or a copy): the launcher unpacks beside it and swaps it out."""
    cache = tmp_path / "cache"
    folder = _folder(cache)
    folder.mkdir(parents=True)
    (folder / "half-written").write_bytes(b"x" * 10)
    _answered(_ping_once(cache, tmp_path / "d1"))
    assert not (folder / "half-written").exists()
    assert (folder / ".complete").is_file()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_on_first_launch_is_status_4_and_leaves_nothing(tmp_path: Path) -> None:
    """A real full disk: the cache on a 16 MB tmpfs, the payload ~130 MB. Exit status 4 (the
    cache folder cannot be written, PROTOCOL.md section 7), one stderr JSON line naming the
    OS error, nothing on stdout, and no partial folder left to fill the disk for good."""
    cache = tmp_path / "cache"
    cache.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(cache)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        run = _ping_once(cache, tmp_path / "d1")
        assert run.returncode == 4, run.stderr
        assert run.stdout == b""
        lines = run.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        error = json.loads(lines[0])
        assert error["level"] == "error" and error["exit_status"] == 4
        assert "No space left on device" in error["msg"], error
        sidecar_dir = _folder(cache).parent
        assert list(sidecar_dir.iterdir()) == []
    finally:
        subprocess.run(["umount", str(cache)], check=False)


def test_a_cache_location_that_cannot_exist_is_status_4(tmp_path: Path) -> None:
    """``XDG_CACHE_HOME`` under a regular file: no folder can be made there (root too)."""
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    run = _ping_once(blocker / "cache", tmp_path / "d1")
    assert run.returncode == 4
    assert run.stdout == b""
    error = json.loads(run.stderr.decode().splitlines()[-1])
    assert error["exit_status"] == 4 and "Not a directory" in error["msg"], error


def test_a_truncated_binary_is_status_7(tmp_path: Path) -> None:
    """A download cut short: the launcher finds no trailer and says the binary is damaged."""
    cut = tmp_path / BINARY.name
    with BINARY.open("rb") as src, cut.open("wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.truncate(BINARY.stat().st_size - 1000)
    cut.chmod(0o755)
    run = subprocess.run([str(cut), "--version"], capture_output=True, env=_env(tmp_path / "cache"), timeout=60)
    assert run.returncode == 7
    assert run.stdout == b""
    error = json.loads(run.stderr.decode().splitlines()[-1])
    assert error["exit_status"] == 7, error
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob(".complete"))
