"""Which files the engine may touch for a request: its own two folders and what the host granted.

The engine's reach on disk is, whatever the caller asks:

* ``<data>/imports/``: files the app dropped there (read);
* ``<data>/exports/``: where exports go by default (read and write);
* every path the trusted host granted with ``files.grant`` (a file, or a folder and all below it),
  for reading or for writing (a write grant also lets the engine read back what it wrote).

Every path from a request is resolved first (``~`` expanded, relative names put under imports/
for reading or exports/ for writing, symlinks followed, ``..`` folded) and checked after:
checking the spelling and then opening what it resolves to would let a symlink or a ``..`` walk
out. Grants live as long as the process: a grant is the answer to one user action in one
session (a file picked in a dialog), and a grant that outlived the process would let a page
loaded later reach a file the user picked for an earlier one.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Final, Literal

import msgspec

from sidecar.common.errors import ApplicationError
from sidecar.common.ids import new_uuid7

IMPORTS_DIR: Final = "imports"
EXPORTS_DIR: Final = "exports"
#: Where granted files are linked (or copied) for DuckDB to read, per job; emptied at start.
STAGING_DIR: Final = "staging"

GrantMode = Literal["read", "write"]
GrantKind = Literal["file", "folder"]


class Grant(msgspec.Struct, frozen=True):
    """One path the host granted.

    grant_id: names it for files.revoke. path: resolved, absolute. mode: read or write.
    kind: file or folder (a folder grant covers everything below it). granted_at: ISO 8601 UTC.
    """

    grant_id: str
    path: Path
    mode: GrantMode
    kind: GrantKind
    granted_at: str

    def covers(self, resolved: Path) -> bool:
        """True when ``resolved`` is the granted file, or inside the granted folder."""
        if self.kind == "file":
            return _same(resolved, self.path)
        return _inside(resolved, self.path)


def forbidden_path(given: str, why: str) -> ApplicationError:
    """The refusal of a path outside the engine's reach (data.kind forbidden_path)."""
    return ApplicationError("forbidden_path", f"{given!r} {why}", path=given)


class FileAccess:
    """The engine's folders plus the grants of this process; thread-safe (jobs check from threads).

    data_dir: the engine's data folder (its imports/, exports/ and staging/ folders live there).
    private_dirs: the engine's other folders (logs, cache), never reachable either.
    """

    def __init__(self, data_dir: Path, private_dirs: tuple[Path, ...] = ()) -> None:
        self._data_dir = Path(os.path.realpath(data_dir))
        self._private = [self._data_dir, *(Path(os.path.realpath(folder)) for folder in private_dirs)]
        self.imports_dir = self._data_dir / IMPORTS_DIR
        self.exports_dir = self._data_dir / EXPORTS_DIR
        self.staging_dir = self._data_dir / STAGING_DIR
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ grants

    def grant(self, path: str, mode: GrantMode) -> Grant:
        """Grant ``path`` (absolute; must exist, except a file to be written inside an existing folder)."""
        given = Path(os.path.expanduser(path))
        if not given.is_absolute():
            raise ApplicationError("invalid_input", f"a grant needs an absolute path, got {path!r}", path=path)
        resolved = Path(os.path.realpath(given))
        if resolved.is_dir():
            kind: GrantKind = "folder"
        elif resolved.is_file():
            kind = "file"
        elif mode == "write" and resolved.parent.is_dir() and not resolved.exists():
            kind = "file"  # a file an export will create: "save as" in a dialog
        else:
            raise ApplicationError("not_found", f"{path!r} does not exist (or is not a file or folder)", path=path)
        if any(_inside(resolved, folder) for folder in self._private):
            # The data dir holds the engine's own state (databases, settings, logs): never grantable
            # (imports/ and exports/ need no grant). A folder that contains it can be granted: the
            # checks below keep the data dir out of such a grant.
            raise forbidden_path(path, "is inside the engine's data folder, which cannot be granted")
        grant = Grant(
            grant_id=new_uuid7(),
            path=resolved,
            mode=mode,
            kind=kind,
            granted_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        with self._lock:
            self._grants[grant.grant_id] = grant
        return grant

    def revoke(self, grant_id: str) -> bool:
        """Remove a grant; False when there was none with that id."""
        with self._lock:
            return self._grants.pop(grant_id, None) is not None

    def grants(self) -> list[Grant]:
        """The grants in force, oldest first."""
        with self._lock:
            return sorted(self._grants.values(), key=lambda grant: grant.grant_id)

    # ------------------------------------------------------------ checks

    def readable(self, path: str) -> Path:
        """``path`` resolved, if the engine may read it; else forbidden_path."""
        resolved = self._resolve(path, self.imports_dir)
        if _inside(resolved, self.imports_dir) or _inside(resolved, self.exports_dir):
            return resolved
        self._refuse_engine_files(path, resolved)
        if any(grant.covers(resolved) for grant in self.grants()):  # read and write grants both read
            return resolved
        raise forbidden_path(path, "is outside the data dir's imports/ and exports/ folders and every granted path")

    def writable(self, path: str) -> Path:
        """``path`` resolved, if the engine may write it; else forbidden_path."""
        resolved = self._resolve(path, self.exports_dir)
        if _inside(resolved, self.exports_dir) and not _same(resolved, self.exports_dir):
            return resolved
        self._refuse_engine_files(path, resolved)
        if any(grant.mode == "write" and grant.covers(resolved) for grant in self.grants()):
            if resolved.is_dir():
                raise ApplicationError("io", f"{path!r} is a folder: give a file path", path=path)
            return resolved
        raise forbidden_path(path, "is outside the data dir's exports/ folder and every path granted for writing")

    def in_sandbox(self, resolved: Path) -> bool:
        """True when DuckDB may open ``resolved`` itself (it lies in a folder of :meth:`sandbox_dirs`)."""
        return any(_inside(resolved, folder) for folder in (self.imports_dir, self.exports_dir, self.staging_dir))

    def sandbox_dirs(self) -> list[str]:
        """The folders DuckDB may open files in (its ``allowed_directories``), with a trailing separator
        so that ``exports`` does not also allow ``exports-old``."""
        return [str(folder) + os.sep for folder in (self.imports_dir, self.exports_dir, self.staging_dir)]

    def _refuse_engine_files(self, given: str, resolved: Path) -> None:
        """The data dir outside imports/ and exports/ holds the engine's own state (databases, settings,
        logs, the lock): never reachable, even through a grant of a folder that contains it."""
        if any(_inside(resolved, folder) for folder in self._private):
            raise forbidden_path(given, "is one of the engine's own files (only imports/ and exports/ are reachable)")

    def _resolve(self, path: str, base: Path) -> Path:
        if "\x00" in path:
            raise forbidden_path(path, "holds a NUL character")
        given = Path(os.path.expanduser(path))
        return Path(os.path.realpath(given if given.is_absolute() else base / given))


def _normal(path: Path) -> str:
    return os.path.normcase(str(path))


def _same(a: Path, b: Path) -> bool:
    return _normal(a) == _normal(b)


def _inside(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or below it (both resolved)."""
    inner, outer = _normal(path), _normal(folder)
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)
