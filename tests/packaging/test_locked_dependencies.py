"""uv.lock: what the shipped engine's runtime closure holds, the packagers' groups, the pinned uv.

Reads the committed lock and pyproject files only (no network, no uv): the build
envs are made from exactly these entries (scripts/build-env.sh), so a dev or
host-side package that shows up in the sidecar's runtime closure here would end up
in every build env.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Never needed by the shipped engine: tests, benchmarks, host side, checkers, packagers.
DEV_ONLY = {
    "pytest",
    "fastapi",
    "uvicorn",
    "mcp",
    "py-spy",
    "pyinstrument",
    "psutil",
    "matplotlib",
    "uvloop",
    "attrs",
    "ruff",
    "mypy",
    "import-linter",
    "sidecar-host",
    "nuitka",
    "pyinstaller",
}


def lock() -> dict[str, dict]:
    data = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"]: package for package in data["package"]}


def closure(packages: dict[str, dict], roots: list[dict]) -> set[str]:
    """Names reachable from ``roots`` (lock dependency entries), extras followed."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo = list(roots)
    while todo:
        dep = todo.pop()
        key = (dep["name"], tuple(dep.get("extra", [])))
        if key in seen:
            continue
        seen.add(key)
        package = packages[dep["name"]]
        todo += package.get("dependencies", [])
        for extra in key[1]:
            todo += package.get("optional-dependencies", {}).get(extra, [])
    return {name for name, _ in seen}


def test_the_runtime_closure_holds_nothing_from_dev_or_the_host_side() -> None:
    packages = lock()
    runtime = closure(packages, packages["sidecar"]["dependencies"])
    assert {"anyio", "msgspec", "duckdb", "keyring", "platformdirs", "uuid6", "pyyaml"} <= runtime
    assert runtime & DEV_ONLY == set()


def test_the_dev_group_brings_the_extras_the_host_member_and_the_checkers() -> None:
    packages = lock()
    dev = closure(packages, packages["sidecar"]["dev-dependencies"]["dev"])
    assert {"pytest", "fastapi", "matplotlib", "psutil", "sidecar-host", "ruff", "mypy", "import-linter"} <= dev


def test_each_packager_group_is_pinned_exactly_and_locked() -> None:
    groups = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]
    packages = lock()
    for group, wanted in {"build-nuitka": {"nuitka", "zstandard"}, "build-pyinstaller": {"pyinstaller"}}.items():
        pins = [r for r in groups[group] if isinstance(r, str)]
        assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in pins), pins
        locked = closure(packages, packages["sidecar"]["dev-dependencies"][group])
        assert wanted <= locked
        for pin in pins:
            name, version = pin.split("==")
            assert packages[name.lower()]["version"] == version


def test_the_workspace_has_the_engine_and_the_host_member() -> None:
    data = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    assert sorted(data["manifest"]["members"]) == ["sidecar", "sidecar-host"]
    host = tomllib.loads((REPO / "hosts" / "python" / "pyproject.toml").read_text(encoding="utf-8"))
    assert host["project"]["name"] == "sidecar-host"
    for package in host["tool"]["setuptools"]["packages"]:
        assert (REPO / "hosts" / "python" / package / "__init__.py").is_file(), package
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "harness" not in root["project"].get("optional-dependencies", {})


def test_uv_is_pinned_to_one_version() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    required = tomllib.loads(text)["tool"]["uv"]["required-version"]
    assert re.fullmatch(r"==\d+\.\d+\.\d+", required)
    # scripts/uv.sh reads the pin with this sed expression's equivalent.
    assert re.search(r'^required-version *= *"==([0-9][0-9.]*)"', text, re.MULTILINE)


@pytest.mark.parametrize("packager", ["nuitka", "pyinstaller"])
def test_a_build_manifest_records_the_lock_and_its_build_env(packager: str) -> None:
    path = REPO / "dist" / packager / "manifest.json"
    if not path.is_file():
        pytest.skip(f"no {packager} build")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if "uv_lock_sha256" not in manifest:
        pytest.skip(f"the {packager} build predates uv.lock")
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["uv_lock_sha256"])
    env = manifest["build_env"]
    assert env["python_version"] == manifest["python_version"]
    names = {p.split("==")[0] for p in env["packages"]}
    assert packager in names
    assert names & (DEV_ONLY - {packager}) == set()
