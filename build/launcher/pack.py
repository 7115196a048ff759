#!/usr/bin/env python3
"""Attach a Nuitka standalone dist folder to the sidecar launcher.

Writes OUT = [launcher][payload][meta][trailer] (see README.md):

- payload: one zstd frame of a pax tar of the tree, in sorted order with
  uid/gid 0, empty user/group names and a fixed mtime (SOURCE_DATE_EPOCH or
  0), so two packs of the same tree are byte-identical;
- meta: UTF-8 JSON naming the cache folder, the program to exec, the
  payload's SHA-256 and every regular file with its size;
- trailer: b"SCLNCH01" + payload_len (u64 LE) + meta_len (u64 LE).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import stat
import struct
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

try:
    import zstandard
except ImportError:  # pragma: no cover - depends on the environment
    zstandard = None  # type: ignore[assignment]

MAGIC = b"SCLNCH01"
TRAILER = struct.Struct("<8sQQ")
FORMAT = 1


class PackError(Exception):
    """The inputs cannot make a valid launcher file."""


@dataclasses.dataclass(frozen=True)
class PackResult:
    out: Path
    launcher_size: int
    payload_size: int
    meta_size: int
    total_size: int
    file_count: int
    unpacked_size: int
    payload_sha256: str


@dataclasses.dataclass(frozen=True)
class _Entry:
    rel: str  # posix path inside the tree
    path: Path  # where it is on disk
    st: os.stat_result  # lstat


def _require_zstandard() -> None:
    if zstandard is None:
        raise PackError("pack.py needs the 'zstandard' package (pip install zstandard / uv pip install zstandard)")


def _check_component(what: str, name: str) -> None:
    # Must match the launcher's rule: one path component, so the cache folder stays put.
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise PackError(f"{what} must be a single path component, got {name!r}")


def _check_relative(what: str, rel: str) -> None:
    parts = rel.split("/")
    if not rel or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        raise PackError(f"{what} must be a clean relative path without '..', got {rel!r}")


def _walk(root: Path, rel: str = "") -> Iterator[_Entry]:
    """Depth-first, each directory's names sorted: parents before children."""
    with os.scandir(root / rel if rel else root) as it:
        names = sorted(e.name for e in it)
    for name in names:
        child_rel = f"{rel}/{name}" if rel else name
        path = root / child_rel
        st = path.lstat()
        yield _Entry(child_rel, path, st)
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, child_rel)


def _check_symlink(root: Path, entry: _Entry) -> str:
    """Symlinks must be relative and stay inside the tree (the unpacked copy moves)."""
    target = os.readlink(entry.path)
    if os.path.isabs(target):
        raise PackError(f"symlink {entry.rel} -> {target} is absolute")
    resolved = os.path.normpath(os.path.join(os.path.dirname(entry.rel), target))
    if resolved == ".." or resolved.startswith("../") or os.path.isabs(resolved):
        raise PackError(f"symlink {entry.rel} -> {target} points outside the tree")
    return target


def _tarinfo(root: Path, entry: _Entry, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.rel)
    info.mode = stat.S_IMODE(entry.st.st_mode)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = mtime  # an int: a float would add a pax record
    mode = entry.st.st_mode
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISREG(mode):
        info.type = tarfile.REGTYPE  # hard links are stored as plain copies
        info.size = entry.st.st_size
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = _check_symlink(root, entry)
    else:
        raise PackError(f"{entry.rel}: only directories, regular files and symlinks can be packed")
    return info


class _HashingWriter(io.RawIOBase):
    """Counts and hashes the compressed bytes on their way to the output file."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.hasher = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        view = memoryview(b)
        self._out.write(view)
        self.hasher.update(view)
        self.count += len(view)
        return len(view)


def _source_date_epoch() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    try:
        return max(0, int(value)) if value else 0
    except ValueError as e:
        raise PackError(f"SOURCE_DATE_EPOCH is not an integer: {value!r}") from e


def _write_payload(out: BinaryIO, root: Path, entries: list[_Entry], level: int, threads: int) -> tuple[int, str]:
    """Stream the tar through zstd into `out`; returns (payload_len, sha256 hex)."""
    mtime = _source_date_epoch()
    sink = _HashingWriter(out)
    # threads=0 on our CLI means all cores, which is zstandard's -1.
    cctx = zstandard.ZstdCompressor(level=level, threads=-1 if threads == 0 else threads, write_checksum=True)
    # The sink is a RawIOBase, which zstandard takes; its stubs ask for IO[bytes].
    zout = cctx.stream_writer(cast(BinaryIO, sink), closefd=False)
    with zout, tarfile.open(fileobj=zout, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = _tarinfo(root, entry, mtime)
            if info.type == tarfile.REGTYPE:
                with open(entry.path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return sink.count, sink.hasher.hexdigest()


def _meta_bytes(app_name: str, folder: str, exe: str, sha256: str, entries: list[_Entry]) -> bytes:
    files = sorted([e.rel, e.st.st_size] for e in entries if stat.S_ISREG(e.st.st_mode))
    meta = {
        "format": FORMAT,
        "app_name": app_name,
        "folder": folder,
        "exe": exe,
        "payload_sha256": sha256,
        "files": files,
    }
    return json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _check_exe(tree: Path, exe: str) -> None:
    _check_relative("--exe", exe)
    path = tree / exe
    if not path.is_file():
        raise PackError(f"--exe {exe} is not a file inside {tree}")
    if not os.access(path, os.X_OK) or not (path.stat().st_mode & 0o111):
        raise PackError(f"--exe {exe} is not executable")


def _read_launcher(launcher: Path) -> bytes:
    data = launcher.read_bytes()
    if len(data) >= TRAILER.size and data[-TRAILER.size :][:8] == MAGIC:
        raise PackError(f"{launcher} already has a payload attached: pass the bare launcher build")
    return data


def pack(
    launcher: Path | str,
    tree: Path | str,
    exe: str,
    app_name: str,
    folder: str,
    out: Path | str,
    level: int = 19,
    threads: int = 0,
) -> PackResult:
    """Write the launcher file; raises PackError for bad inputs."""
    _require_zstandard()
    launcher, tree, out = Path(launcher), Path(tree), Path(out)
    _check_component("--app-name", app_name)
    _check_component("--folder", folder)
    if not tree.is_dir():
        raise PackError(f"--tree {tree} is not a directory")
    _check_exe(tree, exe)
    launcher_bytes = _read_launcher(launcher)
    entries = list(_walk(tree))
    tmp = out.with_name(out.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(launcher_bytes)
            payload_len, sha256 = _write_payload(f, tree, entries, level, threads)
            meta = _meta_bytes(app_name, folder, exe, sha256, entries)
            f.write(meta)
            f.write(TRAILER.pack(MAGIC, payload_len, len(meta)))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    regular = [e for e in entries if stat.S_ISREG(e.st.st_mode)]
    return PackResult(
        out=out,
        launcher_size=len(launcher_bytes),
        payload_size=payload_len,
        meta_size=len(meta),
        total_size=len(launcher_bytes) + payload_len + len(meta) + TRAILER.size,
        file_count=len(regular),
        unpacked_size=sum(e.st.st_size for e in regular),
        payload_sha256=sha256,
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Attach a Nuitka standalone dist folder to the sidecar launcher.")
    p.add_argument("--launcher", required=True, type=Path, help="the bare sidecar-launcher build")
    p.add_argument("--tree", required=True, type=Path, help="the --mode=standalone dist folder")
    p.add_argument("--exe", required=True, help="program to exec, relative to --tree")
    p.add_argument("--app-name", required=True, help="cache folder: <cache>/<app-name>/sidecar/<folder>")
    p.add_argument("--folder", required=True, help="cache folder name for this build")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--level", type=int, default=19, help="zstd level (default 19)")
    p.add_argument("--threads", type=int, default=0, help="zstd threads (default 0 = all cores)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        r = pack(args.launcher, args.tree, args.exe, args.app_name, args.folder, args.out, args.level, args.threads)
    except (PackError, OSError) as e:
        print(f"pack.py: error: {e}", file=sys.stderr)
        return 1
    print(
        f"pack.py: wrote {r.out} ({r.total_size} bytes: launcher {r.launcher_size}, payload {r.payload_size}, "
        f"meta {r.meta_size}; {r.file_count} files, {r.unpacked_size} bytes unpacked)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
