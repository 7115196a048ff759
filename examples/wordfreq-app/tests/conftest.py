"""The example app's tests run its sidecar as a host would, through the Python host client.

Against the sidecar from source with the app loaded by module name (the dev loop:
``--app-module wordfreq=wordfreq_app:register``, src/ on PYTHONPATH), or, with
``SIDECAR_BINARY`` set, against the app's built binary (which has the app baked in).
The repository's test helpers (tests/support.py) check that stdout stayed pure.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

APP_ROOT = Path(__file__).resolve().parents[1]
REPO = APP_ROOT.parents[1]
SRC = APP_ROOT / "src"
for path in (str(SRC), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)

from sidecar_host import SidecarClient  # noqa: E402
from tests.support import running_sidecar, sidecar_env, under_test_is_binary  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir that does not exist yet (the sidecar creates it)."""
    return tmp_path / "data"


def app_args() -> list[str]:
    """The arguments that load the app: none for the binary (baked in), the module from source."""
    return [] if under_test_is_binary() else ["--app-module", "wordfreq=wordfreq_app:register"]


def app_env(**extra: str) -> dict[str, str]:
    env = sidecar_env(**extra)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env["PYTHONPATH"]])
    return env


@contextlib.asynccontextmanager
async def wordfreq_sidecar(data_dir: Path, *extra: str, **spawn_kw: object) -> AsyncIterator[SidecarClient]:
    """The sidecar with the wordfreq app, stopped (and its stdout checked) on exit."""
    async with running_sidecar(data_dir, *app_args(), *extra, env=app_env(), **spawn_kw) as client:
        yield client
