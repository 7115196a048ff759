"""Handing granted files to DuckDB,.

DuckDB's own sandbox (``allowed_directories``) is fixed once external access is
off: it cannot learn a grant made later. So a granted file outside the sandbox
reaches DuckDB through ``<data>/staging/<id>/``: a hard link (instant, no
space) when the file is on the same filesystem, else a copy; the folder goes
when the job ends, and a killed run's leftovers go at the next start. (An export
to a granted place is written inside the sandbox and moved into place:
sidecar.common.moves.)
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.to_thread

from sidecar.common.disk import disk_full_error, is_disk_full
from sidecar.files.access import FileAccess

log = logging.getLogger("sidecar.files")


def _new_staging_folder(access: FileAccess) -> Path:
    access.staging_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = access.staging_dir / os.urandom(8).hex()
    folder.mkdir(mode=0o700)
    return folder


@contextlib.asynccontextmanager
async def staging_folder(access: FileAccess) -> AsyncIterator[Path]:
    """A fresh private folder inside staging/, removed with everything in it afterwards
    (created and removed in a worker thread: removing a large copy takes a while)."""
    folder = await anyio.to_thread.run_sync(_new_staging_folder, access)
    try:
        yield folder
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(functools.partial(shutil.rmtree, folder, ignore_errors=True))


def stage_for_reading(access: FileAccess, files: list[Path], folder: Path) -> list[Path]:
    """For each resolved, already checked file: a path DuckDB may open with the same content.

    Files inside the sandbox are used as they are; others are linked (or copied) into ``folder``,
    keeping their names (the format is inferred from them) behind an index that keeps them apart.
    """
    staged = []
    for index, path in enumerate(files):
        if access.in_sandbox(path):
            staged.append(path)
            continue
        target = folder / f"{index:05d}-{path.name}"
        try:
            os.link(path, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                raise
            # Another filesystem (or one without hard links): a copy costs its size in time and space.
            log.info("granted file copied for reading", extra={"ctx": {"bytes": path.stat().st_size}})
            try:
                shutil.copyfile(path, target)
            except OSError as copy_failed:
                with contextlib.suppress(OSError):
                    target.unlink()  # a partial copy takes the room the engine needs
                if is_disk_full(copy_failed):
                    raise disk_full_error(copy_failed, f"staging {path.name} for reading") from copy_failed
                raise
        staged.append(target)
    return staged


def sweep_staging(access: FileAccess) -> int:
    """Remove what a killed run left in staging/ (called once at engine start); the count removed."""
    try:
        leftovers = list(access.staging_dir.iterdir())
    except FileNotFoundError:
        return 0
    for entry in leftovers:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    return len(leftovers)


def export_target(access: FileAccess, path: str | None, new_name: str) -> Path:
    """Where an export goes: ``path`` checked as writable (relative: under exports/), or a new file
    named ``new_name`` in exports/ when no path was given."""
    if path is None:
        return access.exports_dir / new_name
    return access.writable(path)


@contextlib.asynccontextmanager
async def export_scratch(access: FileAccess, target: Path) -> AsyncIterator[Path]:
    """A folder inside DuckDB's sandbox for an export's temporary file: the target's own folder
    when that is inside it (the final rename stays on one filesystem), else a staging folder."""
    if access.in_sandbox(target):
        yield target.parent
        return
    async with staging_folder(access) as folder:
        yield folder
