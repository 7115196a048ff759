"""build/buildinfo.py for app builds, without building: reading an app package, the generated
build-info module, and the report check extended to the app's dependency closure.

The app package is the real example (examples/wordfreq-app) or a small pyproject written
for one refusal; the dependency closure comes from an installed distribution of this venv
made for the test (a dist-info folder on a private sys.path entry, as pip lays it out).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILDINFO = REPO / "build" / "buildinfo.py"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BUILDINFO), *args], capture_output=True, text=True, timeout=60, env=env)


def assignments(text: str) -> dict[str, str]:
    return {
        key: shlex.split(value)[0] if value else ""
        for key, _, value in (line.partition("=") for line in text.splitlines())
    }


def test_the_example_app_is_read_from_its_pyproject() -> None:
    done = run("app-info", str(REPO / "examples" / "wordfreq-app"))
    assert done.returncode == 0, done.stderr
    assert assignments(done.stdout) == {
        "APP_DIST": "sidecar-wordfreq",
        "APP_VERSION": "0.1.0",
        "APP_NAME": "WordFreq",
        "BINARY_NAME": "sidecar",
        "APP_SLUG": "wordfreq",
        "APP_PACKAGES": "wordfreq_app",
    }
    renamed = assignments(run("app-info", str(REPO / "examples" / "wordfreq-app"), "--app-name", "PlutoDuck").stdout)
    assert renamed["APP_NAME"] == "PlutoDuck" and renamed["APP_SLUG"] == "wordfreq-plutoduck"


@pytest.mark.parametrize(
    ("pyproject", "says"),
    [
        ('[project]\nname = "a"\nversion = "1"\n', 'no [project.entry-points."sidecar.apps"]'),
        (
            '[project]\nname = "a"\nversion = "1"\ndependencies = ["sidecar>=0.1"]\n'
            '[project.entry-points."sidecar.apps"]\na = "a:register"\n',
            "do not list 'sidecar' in dependencies",
        ),
        (
            '[project]\nname = "a"\nversion = "1"\n[project.entry-points."sidecar.apps"]\na = "a:register"\n'
            '[tool.sidecar]\napp-name = "../etc"\n',
            "app-name '../etc'",
        ),
    ],
)
def test_an_unusable_app_is_refused(tmp_path: Path, pyproject: str, says: str) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    done = run("app-info", str(tmp_path))
    assert done.returncode != 0 and says in done.stderr, done.stderr


def _installed_app(site: Path) -> dict[str, str]:
    """A distribution 'demo-app' requiring msgspec, with a sidecar.apps entry point, on PYTHONPATH."""
    info = site / "demo_app-2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: demo-app\nVersion: 2.0\nRequires-Dist: msgspec>=0.19\n"
    )
    (info / "entry_points.txt").write_text("[sidecar.apps]\ndemo = demo_app:register\n")
    (site / "demo_app").mkdir()
    return {**os.environ, "PYTHONPATH": str(site)}


def test_the_build_module_bakes_the_installed_entry_points(tmp_path: Path) -> None:
    env = _installed_app(tmp_path / "site")
    out = tmp_path / "gen" / "sidecar_build_info.py"
    done = run(
        "gen-module",
        "--out",
        str(out),
        "--app-name",
        "Demo",
        "--binary-name",
        "demo",
        "--app-dist",
        "demo-app",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    namespace: dict[str, object] = {}
    exec(out.read_text(), namespace)  # the generated module is plain assignments
    assert namespace["APP_NAME"] == "Demo" and namespace["BINARY_NAME"] == "demo"
    assert namespace["APPS"] == [("demo", "demo_app:register", "demo-app", "2.0")]
    plain = tmp_path / "plain.py"
    assert run("gen-module", "--out", str(plain)).returncode == 0
    assert "APP_NAME = 'PlutoDuck'" in plain.read_text() and "APPS = []" in plain.read_text()


def test_the_report_check_allows_the_apps_closure_only(tmp_path: Path) -> None:
    env = _installed_app(tmp_path / "site")
    report = tmp_path / "compilation-report.xml"
    report.write_text(
        '<?xml version="1.0"?>\n<nuitka-compilation-report>\n'
        '  <module name="demo_app" kind="CompiledPythonPackage" distribution="demo-app" />\n'
        '  <module name="msgspec" kind="CompiledPythonModule" distribution="msgspec" />\n'
        '  <module name="pytest" kind="CompiledPythonModule" distribution="pytest" />\n'
        "</nuitka-compilation-report>\n"
    )
    without = run("check-report", str(report), env=env)
    assert without.returncode == 1 and "demo_app (from demo-app)" in without.stderr
    with_app = run("check-report", str(report), "--app-dist", "demo-app", env=env)
    assert with_app.returncode == 1 and "demo_app" not in with_app.stderr and "pytest (from pytest)" in with_app.stderr
