"""The .deb made by `tauri build --bundles deb` carries the sidecar next to the app executable.

Build it first (tauri-shell/scripts/e2e.sh does): in tauri-shell/,
`npx tauri build --debug --bundles deb` (or without --debug). The package is looked
up in $SIDECAR_SHELL_DEB, else $CARGO_TARGET_DIR/{debug,release}/bundle/deb/, else
tauri-shell/target/{debug,release}/bundle/deb/. Without it the tests are skipped,
unless SIDECAR_SHELL_E2E=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHELL = REPO / "tauri-shell"
REQUIRED = os.environ.get("SIDECAR_SHELL_E2E") == "1"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason=".deb packages are built on Linux")


def find_deb() -> Path:
    if os.environ.get("SIDECAR_SHELL_DEB"):
        return Path(os.environ["SIDECAR_SHELL_DEB"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", SHELL / "target"))
    found = sorted(
        (p for profile in ("debug", "release") for p in (target / profile / "bundle" / "deb").glob("*.deb")),
        key=lambda p: p.stat().st_mtime,
    )
    if not found:
        reason = f"no .deb under {target}/{{debug,release}}/bundle/deb (run: cd tauri-shell && npx tauri build --debug --bundles deb)"
        if REQUIRED:
            pytest.fail(f"SIDECAR_SHELL_E2E=1 but {reason}")
        pytest.skip(reason)
    return found[-1]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb is missing")
    root = tmp_path_factory.mktemp("deb")
    subprocess.run(["dpkg-deb", "-x", str(find_deb()), str(root)], check=True)
    return root


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("host: "))


def test_the_sidecar_sits_next_to_the_app_executable(unpacked: Path) -> None:
    app = unpacked / "usr" / "bin" / "sidecar-shell"
    sidecar = app.parent / "sidecar"
    assert app.is_file() and os.access(app, os.X_OK), sorted(str(p) for p in unpacked.rglob("*"))
    assert sidecar.is_file() and os.access(sidecar, os.X_OK), f"no executable {sidecar} beside {app}"
    # It is the externalBin file, renamed without its target triple.
    source = SHELL / "src-tauri" / "binaries" / f"sidecar-{host_triple()}"
    if source.exists():
        assert sidecar.read_bytes() == source.read_bytes()
    # The desktop entry and the icon come along.
    assert list((unpacked / "usr" / "share" / "applications").glob("*.desktop"))


def test_the_package_metadata(unpacked: Path) -> None:
    info = subprocess.run(["dpkg-deb", "-I", str(find_deb())], capture_output=True, text=True, check=True).stdout
    assert "Package: sidecar-shell" in info
    assert "libwebkit2gtk-4.1" in info, info  # Tauri declares its runtime dependencies


def test_the_unpacked_app_starts_its_sidecar(unpacked: Path, tmp_path: Path) -> None:
    """Run the packaged layout itself: the app finds `sidecar` beside it and gets READY."""
    if not shutil.which("xvfb-run"):
        pytest.skip("xvfb-run is missing (apt-get install xvfb xauth)")
    data = tmp_path / "data"
    env = {**os.environ, "SIDECAR_SHELL_DATA_DIR": str(data), "NO_AT_BRIDGE": "1"}
    env.pop("DISPLAY", None)
    app = subprocess.Popen(
        ["xvfb-run", "-a", str(unpacked / "usr" / "bin" / "sidecar-shell")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log = data / "logs" / "sidecar-host.log"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and "state ready" in log.read_text():
                break
            if app.poll() is not None:
                break
            time.sleep(0.2)
        text = log.read_text() if log.exists() else "(no host log)"
        assert "state ready" in text, text[-3000:]
        assert f"spawned {unpacked / 'usr' / 'bin' / 'sidecar'}" in text, text[-3000:]
        # SIGTERM the app alone (not Xvfb: without its display GTK exits before any cleanup).
        exe = (unpacked / "usr" / "bin" / "sidecar-shell").resolve()
        pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _exe(p) == exe]
        assert len(pids) == 1, pids
        os.kill(pids[0], signal.SIGTERM)
        app.wait(20)
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait(5)
    text = log.read_text()
    assert "the app got SIGTERM" in text and "stopped by step ShutdownRequest" in text, text[-2000:]


def _exe(proc: Path) -> Path | None:
    try:
        return Path(os.readlink(proc / "exe"))
    except OSError:
        return None
