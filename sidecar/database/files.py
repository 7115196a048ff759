"""Where the engine database lives and how big it is (os only: system.status reads this inline)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

DB_FILE_NAME: Final = "engine.duckdb"


def database_file(data_dir: Path) -> Path:
    """Where the engine's database lives in ``data_dir``."""
    return data_dir / DB_FILE_NAME


def database_bytes(data_dir: Path) -> int:
    """Size on disk of the database and its WAL (0 when neither exists yet)."""
    path = database_file(data_dir)
    total = 0
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            total += candidate.stat().st_size
        except OSError:
            pass
    return total
