"""How a bench subject is started and stopped: its command line, environment and work dir.

A subject is one process a script measures: the sidecar (from source or a
built binary) or a comparison program from bench/subjects/. ``Subject`` is what
the stdio and HTTP peers share: leaving a ``with`` block stops the process
politely and kills it when that fails, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from _paths import DEFAULT_PYTHON, REPO, SUBJECTS, buildinfo

SIDECAR_PACKAGERS = ("nuitka", "pyinstaller")
READY_TIMEOUT_S = 60.0
READ_CHUNK = 1 << 20


class BenchError(RuntimeError):
    """A subject misbehaved (no ready point, a wrong answer, a stray stdout line)."""


@dataclass
class Command:
    """How to start one subject: argv, environment and (optionally) the working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None


def clean_env(work: Path) -> dict[str, str]:
    """The caller's environment without SIDECAR_* settings, caches and temp files under ``work``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    (work / "cache").mkdir(parents=True, exist_ok=True)
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    env["XDG_CACHE_HOME"] = str(work / "cache")
    env["TMPDIR"] = str(work / "tmp")
    return env


def compile_bytecode(python: Path) -> str:
    """Write the ``.pyc`` files of the sidecar, the comparison subjects and ``python``'s site-packages.

    A start from source measured without them compiles every imported module again: ``uv``
    installs without bytecode, and a ``PYTHONDONTWRITEBYTECODE=1`` environment (this machine's)
    never writes it, which made the source sidecar and the FastAPI and MCP subjects 1.2-2x slower
    to start than on a user's machine (issue-log 0060). Returns what was compiled, for the record.
    """
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    folders = [str(REPO / "sidecar"), str(SUBJECTS), purelib]
    subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", *folders], check=True, stdout=subprocess.DEVNULL)
    return "compiled before the runs: " + ", ".join(folders)


def binary_path(packager: str) -> Path:
    """dist/<packager>/sidecar-<target triple>[.exe], as the build scripts write it."""
    name = f"sidecar-{buildinfo.target_triple()}{'.exe' if sys.platform == 'win32' else ''}"
    return REPO / "dist" / packager / name


def sidecar_command(
    variant: str, data_dir: Path, env: dict[str, str], python: Path = DEFAULT_PYTHON, extra: Sequence[str] = ()
) -> Command | None:
    """The sidecar as ``source`` (``python -m sidecar``) or as a built binary; None when not built."""
    args = ["--data-dir", str(data_dir), "--heartbeat-interval", "0", *extra]
    if variant == "source":
        return Command([str(python), "-m", "sidecar", *args], dict(env, PYTHONPATH=str(REPO)))
    path = binary_path(variant)
    if not path.is_file():
        return None
    return Command([str(path), *args], env)


def python_subject(script: str, *args: str, env: dict[str, str], python: Path = DEFAULT_PYTHON) -> Command:
    """A comparison subject from bench/subjects/, run with the project's Python."""
    return Command([str(python), str(SUBJECTS / script), *args], dict(env, PYTHONPATH=str(REPO)))


def remove_tree(path: Path) -> None:
    """Delete a run's work dir, errors ignored: it runs in ``finally`` blocks, where one would hide the run's own."""
    shutil.rmtree(path, ignore_errors=True)


class Subject:
    """A running subject process: stopped politely on leaving a ``with`` block, killed if that fails."""

    process: subprocess.Popen[bytes]

    def close(self, timeout: float = 30.0) -> int:
        raise NotImplementedError

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            try:
                self.close()
            except (BenchError, subprocess.TimeoutExpired, OSError):
                self.kill()
