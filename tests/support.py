"""Helpers shared by the tests that run a real sidecar process.

The command under test comes from the environment, so the same suite runs
against ``python -m sidecar`` and against a built binary:

* ``SIDECAR_BINARY=/path/to/sidecar-x86_64-unknown-linux-gnu`` runs that file;
* otherwise ``<this python> -m sidecar``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import psutil

from sidecar.protocol import LifecycleError, parse_lifecycle
from sidecar_host import SidecarClient

REPO = Path(__file__).resolve().parent.parent


def sidecar_command() -> list[str]:
    """The sidecar command under test."""
    binary = os.environ.get("SIDECAR_BINARY")
    if binary:
        return [binary]
    return [sys.executable, "-m", "sidecar"]


def under_test_is_binary() -> bool:
    """True when the suite runs against a packaged binary."""
    return bool(os.environ.get("SIDECAR_BINARY"))


def bootstrap_of(binary: Path) -> str:
    """What a built binary starts with, from the build manifest beside it: launcher
    (build/launcher execs the program: one process), nuitka or pyinstaller (the packager's
    bootstrap forks a child), or unknown (no readable manifest)."""
    try:
        manifest = json.loads((binary.parent / "manifest.json").read_text())
        return str(manifest.get("bootstrap") or manifest["packager"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def binary_bootstrap() -> str:
    """:func:`bootstrap_of` the binary under test (``SIDECAR_BINARY``), or source."""
    binary = os.environ.get("SIDECAR_BINARY")
    return bootstrap_of(Path(binary)) if binary else "source"


def sidecar_env(**extra: str) -> dict[str, str]:
    """The environment for a sidecar under test (test methods on, repo importable)."""
    env = dict(os.environ)
    env["SIDECAR_TEST_METHODS"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SIDECAR_DATA_DIR", None)
    env.pop("APP_DATA_DIR", None)
    env.pop("LOG_DIR", None)
    env.update(extra)
    return env


def sidecar_args(data_dir: Path, *extra: str, heartbeat: float = 0) -> list[str]:
    """Command + the usual test arguments."""
    return [*sidecar_command(), "--data-dir", str(data_dir), "--heartbeat-interval", str(heartbeat), *extra]


@contextlib.asynccontextmanager
async def running_sidecar(
    data_dir: Path, *extra: str, heartbeat: float = 0, env: dict[str, str] | None = None, **spawn_kw: Any
) -> AsyncIterator[SidecarClient]:
    """Spawn a sidecar, yield the client; on exit stop it and check stdout stayed pure."""
    async with SidecarClient.spawn(
        sidecar_args(data_dir, *extra, heartbeat=heartbeat), env=env or sidecar_env(), **spawn_kw
    ) as client:
        yield client
    assert client.violations == [], f"stdout protocol violations: {client.violations}"


def check_stdout(stdout: bytes) -> list[str]:
    """Assert every stdout line is a lifecycle line or a JSON frame, BOOT first, READY at most once.

    Returns the lines (decoded, newline removed).
    """
    assert stdout == b"" or stdout.endswith(b"\n"), f"stdout does not end with a newline: {stdout[-80:]!r}"
    assert b"\r\n" not in stdout
    lines = stdout.decode("utf-8").split("\n")[:-1] if stdout else []
    ready = 0
    for index, line in enumerate(lines):
        if line[:1] in ("{", "["):
            json.loads(line)
            continue
        try:
            parsed = parse_lifecycle(line)
        except LifecycleError as exc:
            raise AssertionError(f"stdout line {index} is not protocol: {line!r}") from exc
        if index == 0:
            assert parsed.token == "BOOT", f"first line is not BOOT: {line!r}"
        ready += parsed.token == "READY"
    assert ready <= 1, "READY printed more than once"
    return lines


def run_once(
    data_dir: Path, stdin: bytes, *extra: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a sidecar with ``stdin`` as its whole input; returns the finished process."""
    return subprocess.run(
        sidecar_args(data_dir, *extra),
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=env or sidecar_env(),
        check=False,
    )


def frames(lines: Sequence[str]) -> list[Any]:
    """The JSON frames among stdout lines, decoded."""
    return [json.loads(line) for line in lines if line[:1] in ("{", "[")]


def wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive (zombies count as gone); returns the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in pids if pid_alive(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def match_answer(actual: Any, expected: Any) -> None:
    """Compare one response (or batch) with a JSON-RPC vector's ``respond`` shape."""
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), actual
        for got, want in zip(actual, expected, strict=True):
            match_answer(got, want)
        return
    assert actual["jsonrpc"] == "2.0"
    want_id = json.loads(expected["id"])
    assert actual["id"] == want_id and type(actual["id"]) is type(want_id), actual
    if "result" in expected:
        assert "error" not in actual
        assert actual["result"] == expected["result"]
    else:
        assert "result" not in actual
        error = actual["error"]
        assert error["code"] == expected["error"]["code"], error
        assert isinstance(error["message"], str) and error["message"]
        for key, value in expected["error"].items():
            if key != "code":
                assert error["data"][key] == value, error
