"""Two binaries built with different app names run side by side without touching each other's folders.

The plain build (``dist/nuitka``, app name PlutoDuck) and the example app's
(``dist/apps/wordfreq/nuitka``, WordFreq, built with ``scripts/build-nuitka.sh --app
examples/wordfreq-app``). Each unpacks into ``<cache>/<its app name>/sidecar/``, keeps its
data in ``<data>/<its app name>/``, takes its own launch lock, and its clean-up sweep removes
an idle old extraction of its own app while leaving the other app's alone. Real binaries,
real folders under a private ``XDG_*`` root; skipped when a binary is not built.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import anyio
import pytest

from sidecar.daemon.cache_cleanup import MIN_AGE_S, SWEEP_DELAY_S
from sidecar_host import RpcCallError, SidecarClient
from tests.support import REPO

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders (Linux)"),
]

sys.path.insert(0, str(REPO / "build"))
import buildinfo  # noqa: E402

TRIPLE = buildinfo.target_triple()
BUILDS = {"PlutoDuck": REPO / "dist" / "nuitka", "WordFreq": REPO / "dist" / "apps" / "wordfreq" / "nuitka"}


def binary(app: str) -> Path:
    path = BUILDS[app] / f"sidecar-{TRIPLE}"
    if not path.is_file():
        pytest.skip(
            f"{path.relative_to(REPO)} not built (scripts/build-nuitka.sh{' --app examples/wordfreq-app' if app != 'PlutoDuck' else ''})"
        )
    return path


def manifest(app: str) -> dict[str, object]:
    binary(app)  # skipped, as the other tests, until the binary is built (the python stage runs first)
    data: dict[str, object] = json.loads((BUILDS[app] / "manifest.json").read_text())
    return data


def stale_extraction(root: Path) -> Path:
    """An idle extraction folder of an older build, untouched for longer than the sweep's minimum age."""
    folder = root / "0.0.1-0ldbu1ld"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "x.so").write_bytes(b"x" * 64)
    old = time.time() - 2 * MIN_AGE_S
    for path in (folder / "lib" / "x.so", folder / "lib", folder):
        os.utime(path, (old, old))
    return folder


def test_the_manifests_name_the_app() -> None:
    plain, app = manifest("PlutoDuck"), manifest("WordFreq")
    assert plain["app_name"] == "PlutoDuck" and plain["app"] is None and plain["binary_name"] == "sidecar"
    assert "{CACHE_DIR}/PlutoDuck/sidecar/" in str(plain["extraction_dir"])
    assert app["app_name"] == "WordFreq" and "{CACHE_DIR}/WordFreq/sidecar/" in str(app["extraction_dir"])
    described = app["app"]
    assert isinstance(described, dict)
    assert described["distribution"] == "sidecar-wordfreq" and described["version"] == "0.1.0"
    assert described["entry_points"] == [{"name": "wordfreq", "target": "wordfreq_app:register"}]
    assert any(dep.startswith("anyio==") for dep in described["dependencies"])


async def test_two_apps_side_by_side_keep_to_their_own_folders(tmp_path: Path) -> None:
    plain, wordfreq = binary("PlutoDuck"), binary("WordFreq")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "NUITKA_", "APP_DATA_DIR", "LOG_DIR"))}
    env.pop("PYTHONPATH", None)  # the binaries must not need the source tree
    for name in ("CACHE", "DATA", "STATE", "CONFIG"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    cache = tmp_path / "cache"
    stale = {app: stale_extraction(cache / app / "sidecar") for app in BUILDS}

    async with (
        SidecarClient.spawn([str(plain), "--heartbeat-interval", "0"], env=env, app_name="PlutoDuck") as one,
        SidecarClient.spawn([str(wordfreq), "--heartbeat-interval", "0"], env=env, app_name="WordFreq") as two,
    ):
        for client, app in ((one, "PlutoDuck"), (two, "WordFreq")):
            assert client.launch_lock is not None and client.launch_lock.path.name.endswith(f"-{app}.lock")
            paths = (await client.call("system.status"))["paths"]
            assert paths["data_dir"] == str(tmp_path / "data" / app), paths
            assert paths["cache_dir"] == str(cache / app), paths
        assert (await two.call("wordfreq.count", {"text": "side by side by"}))["total"] == 4
        with pytest.raises(RpcCallError) as missing:
            await one.call("wordfreq.count", {"text": "x"})
        assert missing.value.code == -32601
        # Each sweep (SWEEP_DELAY_S after READY) removes its own app's stale folder only.
        deadline = time.monotonic() + SWEEP_DELAY_S + 20
        while any(folder.exists() for folder in stale.values()) and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        assert not stale["PlutoDuck"].exists() and not stale["WordFreq"].exists()
    assert one.violations == [] and two.violations == []
    for app, build in (("PlutoDuck", manifest("PlutoDuck")), ("WordFreq", manifest("WordFreq"))):
        ours = cache / app / "sidecar" / f"{build['sidecar_version']}-{build['build_id']}"
        assert ours.is_dir(), f"{app}'s extraction is not in its own folder"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["PlutoDuck", "WordFreq"]


async def test_one_apps_sweep_leaves_the_other_apps_idle_extraction_alone(tmp_path: Path) -> None:
    wordfreq = binary("WordFreq")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "NUITKA_"))}
    env.pop("PYTHONPATH", None)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    other = stale_extraction(tmp_path / "cache" / "PlutoDuck" / "sidecar")  # idle, old, and not WordFreq's
    own = stale_extraction(tmp_path / "cache" / "WordFreq" / "sidecar")
    args = [str(wordfreq), "--data-dir", str(tmp_path / "data"), "--heartbeat-interval", "0"]
    async with SidecarClient.spawn(args, env=env, app_name="WordFreq") as client:
        deadline = time.monotonic() + SWEEP_DELAY_S + 20
        while own.exists() and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        assert not own.exists(), "the app's own stale extraction was not swept"
        await anyio.sleep(1)
    assert client.violations == []
    assert other.is_dir() and (other / "lib" / "x.so").is_file(), "another app's extraction was touched"
    log = [json.loads(line) for line in (tmp_path / "data" / "logs" / "sidecar.log").read_text().splitlines()]
    loaded = [entry for entry in log if entry["msg"] == "apps loaded"]
    assert loaded and loaded[0]["apps"] == {"wordfreq": "0.1.0"} and loaded[0]["from"] == "build", loaded
