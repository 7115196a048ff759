"""Where the sidecar keeps its files: data, logs, cache.

Precedence for the data dir: ``--data-dir``, then ``SIDECAR_DATA_DIR``, then
``APP_DATA_DIR`` (what the app's original Electron design passed), then the platform's per-user data folder
(platformdirs). Logs: ``LOG_DIR``, else ``<data>/logs`` when the data dir was
given explicitly, else the platform's log folder. Every folder is created on
first run, readable by the user only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

_PRIVATE = 0o700
#: The umask the sidecar runs with (POSIX): new folders 0700, new files 0600.
PRIVATE_UMASK = 0o077


class DataDirError(Exception):
    """A data, log or cache folder cannot be created or written."""


class DataPaths(msgspec.Struct, frozen=True):
    """The sidecar's folders and well-known files.

    data_dir: databases, settings, reports.
    logs_dir: the rotating JSON log.
    cache_dir: anything that can be thrown away.
    lock_file: the single-instance lock, inside data_dir.
    log_file: the current log file, inside logs_dir.
    """

    data_dir: Path
    logs_dir: Path
    cache_dir: Path

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "sidecar.lock"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "sidecar.log"

    def as_dict(self) -> dict[str, str]:
        """Folder paths as strings, for system.status."""
        return {"data_dir": str(self.data_dir), "logs_dir": str(self.logs_dir), "cache_dir": str(self.cache_dir)}


def resolve_paths(app_name: str, data_dir: str | None, env: Mapping[str, str] = os.environ) -> DataPaths:
    """Decide the folders (nothing is created here)."""
    explicit = data_dir or env.get("SIDECAR_DATA_DIR") or env.get("APP_DATA_DIR")
    if explicit:
        root = Path(explicit).expanduser().absolute()
        logs = Path(env["LOG_DIR"]).expanduser().absolute() if env.get("LOG_DIR") else root / "logs"
        return DataPaths(data_dir=root, logs_dir=logs, cache_dir=root / "cache")
    import platformdirs  # only needed when no folder was given: keeps the common host path cheap

    dirs = platformdirs.PlatformDirs(app_name, appauthor=False)
    logs = Path(env["LOG_DIR"]).expanduser().absolute() if env.get("LOG_DIR") else Path(dirs.user_log_dir)
    return DataPaths(data_dir=Path(dirs.user_data_dir), logs_dir=logs, cache_dir=Path(dirs.user_cache_dir))


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; new folders are private to the user."""
    try:
        if not path.is_dir():
            path.mkdir(mode=_PRIVATE, parents=True, exist_ok=True)
            if os.name == "posix":
                os.chmod(path, _PRIVATE)  # mkdir's mode is filtered by the umask
        if not os.access(path, os.W_OK | os.X_OK):
            raise DataDirError(f"folder {path} is not writable")
    except OSError as exc:
        raise DataDirError(f"cannot create folder {path}: {exc.strerror or exc}") from exc


def shared_folders(paths: DataPaths) -> list[Path]:
    """The sidecar's folders whose mode lets the group or others in (POSIX; [] elsewhere)."""
    if os.name != "posix":
        return []
    found = []
    for folder in (paths.data_dir, paths.logs_dir, paths.cache_dir):
        try:
            if folder.stat().st_mode & 0o077:
                found.append(folder)
        except OSError:
            pass
    return found
