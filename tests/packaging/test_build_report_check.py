"""build/buildinfo.py check-report: a module from outside the runtime dependencies fails the build.

Runs the real command on small inputs shaped like the packagers' own: Nuitka's
compilation report (``<module name=... distribution=...>``) and PyInstaller's
work folder (``PYZ-00.toc``/``PKG-00.toc``). The dependency closure comes from
this venv's installed metadata, as it does in a build.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def check(tmp_path: Path, modules: list[tuple[str, str | None]]) -> subprocess.CompletedProcess[str]:
    rows = "\n".join(
        f'  <module name="{name}" kind="CompiledPythonModule"' + (f' distribution="{dist}"' if dist else "") + " />"
        for name, dist in modules
    )
    report = tmp_path / "compilation-report.xml"
    report.write_text(f'<?xml version="1.0"?>\n<nuitka-compilation-report>\n{rows}\n</nuitka-compilation-report>\n')
    return subprocess.run(
        [sys.executable, str(REPO / "build" / "buildinfo.py"), "check-report", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runtime_dependencies_and_the_standard_library_pass(tmp_path: Path) -> None:
    done = check(
        tmp_path,
        [
            ("asyncio", None),
            ("sidecar.app.main", "sidecar"),
            ("anyio", "anyio"),
            ("duckdb", "duckdb"),
            ("yaml", "PyYAML"),
            ("jaraco.context", "jaraco.classes,jaraco.context,jaraco.functools"),
            ("secretstorage", "SecretStorage"),
            ("more_itertools", "more-itertools"),
        ],
    )
    assert done.returncode == 0, done.stderr


def test_an_optional_import_of_something_installed_fails_with_its_name(tmp_path: Path) -> None:
    done = check(tmp_path, [("anyio", "anyio"), ("uvloop.loop", "uvloop"), ("attr._make", "attrs")])
    assert done.returncode == 1
    assert "uvloop.loop (from uvloop)" in done.stderr and "attr._make (from attrs)" in done.stderr
    assert "build/exclude-modules.txt" in done.stderr


def check_pyinstaller(tmp_path: Path, modules: list[tuple[str, str]]) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir(parents=True)
    pyz = [(name, f"/x/{name}.py", "PYMODULE") for name, kind in modules if kind == "PYMODULE"]
    pkg = [(name, f"/x/{name}", "EXTENSION") for name, kind in modules if kind == "EXTENSION"]
    (work / "PYZ-00.toc").write_text(repr(("/x/PYZ-00.pyz", pyz)))
    (work / "PKG-00.toc").write_text(repr(("/x/PKG-00.pkg", "", True, "sidecar", pkg, False, False)))
    return subprocess.run(
        [sys.executable, str(REPO / "build" / "buildinfo.py"), "check-report", str(work)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pyinstaller_work_folder_is_checked_the_same_way(tmp_path: Path) -> None:
    fine = check_pyinstaller(
        tmp_path / "a",
        [
            ("asyncio.events", "PYMODULE"),
            ("anyio._core", "PYMODULE"),
            ("yaml", "PYMODULE"),
            ("msgspec/_core.cpython-311-x86_64-linux-gnu.so", "EXTENSION"),
            ("python3.11/lib-dynload/_struct.cpython-311-x86_64-linux-gnu.so", "EXTENSION"),
        ],
    )
    assert fine.returncode == 0, fine.stderr
    bad = check_pyinstaller(
        tmp_path / "b", [("anyio", "PYMODULE"), ("uvloop.loop.cpython-311-x86_64-linux-gnu.so", "EXTENSION")]
    )
    assert bad.returncode == 1 and "uvloop.loop" in bad.stderr
