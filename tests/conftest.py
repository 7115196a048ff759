"""pytest configuration: anyio on asyncio, and a fresh data dir per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir that does not exist yet (the sidecar creates it)."""
    return tmp_path / "data"
