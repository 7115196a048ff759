"""The onefile process model of the BUILT binaries, checked by pid (Linux).

The Nuitka binary starts with the exec launcher (build/launcher, the default on Linux):
ONE process, the pid the host spawned is the Python program, so whatever the host
does to that pid it does to the engine. PyInstaller (and Nuitka built with
``--bootstrap nuitka``) run two processes: the bootstrap the host spawned (the only
pid the host knows) and the real Python child, which inherits stdin/stdout. These
tests drive the spawned process the way a host does and check what happens to the
Python process. They run against ``dist/nuitka/sidecar-<triple>`` and
``dist/pyinstaller/sidecar-<triple>`` (built by scripts/build-*.sh) and skip a
packager whose binary is not built.

Each test session gets its own extraction locations (``XDG_CACHE_HOME`` for the
Nuitka cache, ``TMPDIR`` for PyInstaller's ``_MEIxxxxxx``), so counting leftover
folders is exact and the user's cache is left alone.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build"))
import buildinfo  # noqa: E402

from sidecar.daemon.cache_cleanup import LEFTOVER_MIN_AGE_S, SWEEP_DELAY_S  # noqa: E402
from sidecar.daemon.extraction import IN_USE  # noqa: E402
from tests.support import bootstrap_of  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process model checked on Linux")

PACKAGERS = ("nuitka", "pyinstaller")
KILL_CYCLES = 50


def binary_path(packager: str) -> Path:
    return REPO / "dist" / packager / f"sidecar-{buildinfo.target_triple()}"


def extraction_folder_name() -> str:
    """<version>-<build id> of the built Nuitka binary (from its manifest)."""
    manifest = json.loads((REPO / "dist" / "nuitka" / "manifest.json").read_text())
    return f"{manifest['sidecar_version']}-{manifest['build_id']}"


@pytest.fixture(scope="session")
def extraction_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extraction")


@pytest.fixture(params=PACKAGERS)
def packager(request: pytest.FixtureRequest) -> str:
    if not binary_path(request.param).is_file():
        pytest.skip(f"{binary_path(request.param).relative_to(REPO)} not built (scripts/build-{request.param}.sh)")
    return request.param


@pytest.fixture
def env(packager: str, extraction_root: Path) -> dict[str, str]:
    root = extraction_root / packager
    (root / "cache").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    out = {k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "NUITKA_", "_PYI", "_MEI"))}
    out["XDG_CACHE_HOME"] = str(root / "cache")  # Nuitka: {CACHE_DIR}
    out["TMPDIR"] = str(root / "tmp")  # PyInstaller: _MEIxxxxxx parent
    out.pop("PYTHONPATH", None)  # the binary must not need the source tree
    return out


@dataclass
class Launched:
    proc: subprocess.Popen[bytes]
    child_pid: int

    @property
    def bootstrap_pid(self) -> int:
        return self.proc.pid


@pytest.fixture
def launch(packager: str, env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Launched]]:
    started: list[Launched] = []

    def _launch(data_name: str = "data") -> Launched:
        proc = subprocess.Popen(
            [str(binary_path(packager)), "--data-dir", str(tmp_path / data_name), "--heartbeat-interval", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdout is not None
        boot = proc.stdout.readline()
        assert boot.startswith(b"BOOT "), boot
        assert proc.stdout.readline() == b"READY\n"
        child_pid = int(boot.split(b"pid=")[1].split()[0])
        launched = Launched(proc, child_pid)
        started.append(launched)
        return launched

    yield _launch
    for launched in started:  # never leave an orphan behind, whatever failed
        for pid in (launched.child_pid, launched.bootstrap_pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        launched.proc.wait(5)


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_rest(proc: subprocess.Popen[bytes], seconds: float) -> list[bytes]:
    """stdout lines until EOF or ``seconds``."""
    assert proc.stdout is not None
    lines: list[bytes] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip(b"\n"))
    return lines


# ----------------------------------------------------------------------------- facts


def test_one_process_behind_the_exec_launcher(
    packager: str, launch: Callable[..., Launched], env: dict[str, str]
) -> None:
    """The launcher execs the unpacked program: the spawned pid IS the Python process, it runs
    the program from the cache folder, and it stays in the host's process group."""
    if bootstrap_of(binary_path(packager)) != "launcher":
        pytest.skip(f"{packager} is built with its own bootstrap")
    run = launch()
    assert run.child_pid == run.bootstrap_pid
    engine = psutil.Process(run.child_pid)
    assert engine.ppid() == os.getpid()
    assert os.getpgid(run.child_pid) == os.getpgid(0)
    unpacked = Path(env["XDG_CACHE_HOME"]) / "PlutoDuck" / "sidecar" / extraction_folder_name()
    assert Path(engine.exe()).parent == unpacked
    engine_env = engine.environ()
    assert engine_env.get("SIDECAR_LAUNCHER_DIR") == str(unpacked)
    assert engine_env.get("SIDECAR_LAUNCHER_EXE") == str(binary_path(packager))
    assert "NUITKA_ONEFILE_PARENT" not in engine_env
    assert (unpacked / ".complete").is_file()
    assert (unpacked / IN_USE).is_file()  # it found its own folder: the sweep knows what to spare


def test_two_processes_in_one_process_group(packager: str, launch: Callable[..., Launched]) -> None:
    """The child is a direct child of the bootstrap and shares its process group."""
    if bootstrap_of(binary_path(packager)) == "launcher":
        pytest.skip("one process: the exec launcher (test_one_process_behind_the_exec_launcher)")
    run = launch()
    assert run.child_pid != run.bootstrap_pid
    child = psutil.Process(run.child_pid)
    assert child.ppid() == run.bootstrap_pid
    assert os.getpgid(run.child_pid) == os.getpgid(run.bootstrap_pid)
    # Neither packager makes the bootstrap a group leader: it stays in the host's group.
    assert os.getpgid(run.bootstrap_pid) == os.getpgid(0)
    child_env = child.environ()
    if packager == "nuitka":
        assert child_env.get("NUITKA_ONEFILE_PARENT") == str(run.bootstrap_pid)
    else:
        # PyInstaller names no bootstrap pid anywhere in the child's environment.
        assert str(run.bootstrap_pid) not in child_env.values()
        assert "_PYI_ARCHIVE_FILE" in child_env


def test_sigterm_to_the_bootstrap_gives_one_shutdown_signal_line(
    packager: str, launch: Callable[..., Launched]
) -> None:
    run = launch()
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    rest = read_rest(run.proc, 3)
    status = run.proc.wait(2)
    assert time.monotonic() - sent < 2.0
    assert status == 0
    assert rest.count(b"SHUTDOWN reason=signal") == 1, rest
    assert rest[-1] == b"SHUTDOWN reason=signal", rest
    assert gone_within(run.child_pid, 0.5)


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_sigkill_of_the_bootstrap_ends_the_child(packager: str, launch: Callable[..., Launched], reaped: bool) -> None:
    """What Tauri's kill() does. ``zombie``: the host has not reaped the bootstrap yet.

    Behind the exec launcher the kill hits the Python process itself: it is gone at once and
    says nothing more (SIGKILL cannot be caught; DuckDB's WAL keeps committed work)."""
    run = launch()
    os.kill(run.bootstrap_pid, signal.SIGKILL)
    killed = time.monotonic()
    if bootstrap_of(binary_path(packager)) == "launcher":
        if reaped:
            assert run.proc.wait(2) == -signal.SIGKILL
        assert gone_within(run.child_pid, 0.5)
        rest = read_rest(run.proc, 1)
        assert [line for line in rest if line.startswith(b"SHUTDOWN")] == [], rest
        return
    if reaped:
        run.proc.wait(2)
    assert gone_within(run.child_pid, 1.5), "the Python child outlived its SIGKILLed bootstrap by 1.5 s"
    assert time.monotonic() - killed < 1.5
    rest = read_rest(run.proc, 2)
    assert rest and rest[-1] == b"SHUTDOWN reason=parent_exit", rest


def test_stdin_closed_ends_both_processes(packager: str, launch: Callable[..., Launched]) -> None:
    run = launch()
    assert run.proc.stdin is not None
    run.proc.stdin.close()
    closed = time.monotonic()
    rest = read_rest(run.proc, 2)
    status = run.proc.wait(2)
    assert time.monotonic() - closed < 2.0
    assert status == 0
    assert rest[-1] == b"SHUTDOWN reason=normal", rest
    assert gone_within(run.child_pid, 0.2)


@pytest.mark.slow
def test_launch_and_sigkill_cycles_leave_no_stale_extraction(
    packager: str, launch: Callable[..., Launched], env: dict[str, str]
) -> None:
    """50 x (launch, READY, SIGKILL the bootstrap): Nuitka reuses its one cached folder;
    PyInstaller must not leave a _MEIxxxxxx folder per killed launch. The child removes its
    own; on a busy disk the 0.9 s parent-exit watchdog can cut that short, and then the
    next start must remove what is left (issue-log 0040)."""
    # Other tests' teardown SIGKILLs the child itself, which can leave a folder: not ours to count.
    earlier = {p.name for p in Path(env["TMPDIR"]).glob("_MEI*")}
    try:
        for _ in range(KILL_CYCLES):
            run = launch()
            os.kill(run.bootstrap_pid, signal.SIGKILL)
            run.proc.wait(2)
            assert gone_within(run.child_pid, 1.5)
            run.proc.stdout.close()  # type: ignore[union-attr]
        if packager == "nuitka":
            versions = Path(env["XDG_CACHE_HOME"]) / "PlutoDuck" / "sidecar"
            assert [p.name for p in versions.iterdir()] == [extraction_folder_name()]
            return
        time.sleep(0.2)
        stale = sorted(p for p in Path(env["TMPDIR"]).glob("_MEI*") if p.name not in earlier)
        unmarked = [p.name for p in stale if not (p / IN_USE).exists()]
        assert unmarked == [], f"{len(unmarked)} stale extraction folders no later start would remove"
        if stale:  # cut short: a later start sweeps them once their marker is old enough
            time.sleep(LEFTOVER_MIN_AGE_S + 0.5)
            sweeper = launch("sweeper")
            assert sweeper.proc.stdin is not None
            deadline = time.monotonic() + SWEEP_DELAY_S + 15
            while any(p.exists() for p in stale) and time.monotonic() < deadline:
                time.sleep(0.2)
            sweeper.proc.stdin.close()
            sweeper.proc.wait(5)
            left = [p.name for p in stale if p.exists()]
            assert left == [], f"{len(left)} of {len(stale)} cut-short removals not swept by the next start"
    finally:
        # A stale _MEIxxxxxx folder holds the whole payload (~120 MB): never keep them.
        for stale_dir in Path(env["TMPDIR"]).glob("_MEI*"):
            shutil.rmtree(stale_dir, ignore_errors=True)


# ----------------------------------------------------------------------------- contents


def test_nothing_host_side_or_build_time_went_in(packager: str) -> None:
    banned = ("sidecar_host", "sidecar_harness", "tests", "pytest", "_pytest", "setuptools", "pip")
    if packager == "nuitka":
        report = REPO / "dist" / "nuitka" / "compilation-report.xml"
        if not report.is_file():
            pytest.skip("no compilation report")
        root = ET.parse(report).getroot()
        modules = {m.get("name", "") for m in root.iter("module")}
        metadata = {d.get("name", "") for d in root.iter("distribution")}
        assert "keyring.backends.SecretService" in modules
        assert "sidecar.app.main" in modules
        assert "keyring" in {m.lower() for m in metadata}
    else:
        readers = pytest.importorskip("PyInstaller.archive.readers")
        archive = readers.CArchiveReader(str(binary_path(packager)))
        modules = set(archive.open_embedded_archive("PYZ.pyz").toc)
        assert "keyring.backends.SecretService" in modules
        assert "sidecar.app.main" in modules
        entry_points = [n for n in archive.toc if n.startswith("keyring-") and n.endswith("entry_points.txt")]
        assert entry_points, "keyring's entry points (its backend list) are not in the binary"
    leaked = sorted(m for m in modules if any(m == b or m.startswith(b + ".") for b in banned))
    assert leaked == []


def test_the_scheduler_and_the_zone_database_went_in(
    launch: Callable[..., Launched], packager: str, env: dict[str, str]
) -> None:
    """Schedules need cronsim, tzlocal and tzdata's zone files (zoneinfo imports tzdata by name
    at run time, so only build/include-packages.txt brings it in)."""
    wanted = {"sidecar.schedules.scheduler", "cronsim", "tzlocal", "tzdata.zoneinfo.Europe"}
    if packager == "nuitka":
        report = REPO / "dist" / "nuitka" / "compilation-report.xml"
        if not report.is_file():
            pytest.skip("no compilation report")
        modules = {m.get("name", "") for m in ET.parse(report).getroot().iter("module")}
        assert wanted <= modules, wanted - modules
        run = launch()
        run.proc.stdin.close()  # type: ignore[union-attr]
        run.proc.wait(5)
        unpacked = Path(env["XDG_CACHE_HOME"]) / "PlutoDuck" / "sidecar" / extraction_folder_name()
        assert (unpacked / "tzdata" / "zoneinfo" / "Europe" / "Berlin").is_file()
    else:
        readers = pytest.importorskip("PyInstaller.archive.readers")
        archive = readers.CArchiveReader(str(binary_path(packager)))
        modules = set(archive.open_embedded_archive("PYZ.pyz").toc)
        assert wanted <= modules, wanted - modules
        assert "tzdata/zoneinfo/Europe/Berlin" in archive.toc


def test_the_nuitka_cache_holds_no_python_source(
    launch: Callable[..., Launched], packager: str, env: dict[str, str]
) -> None:
    """Compiled builds carry no .py files: nothing may need them at run time."""
    if packager != "nuitka":
        pytest.skip("PyInstaller keeps bytecode in its archive")
    run = launch()
    run.proc.stdin.close()  # type: ignore[union-attr]
    run.proc.wait(5)
    unpacked = Path(env["XDG_CACHE_HOME"]) / "PlutoDuck" / "sidecar" / extraction_folder_name()
    assert unpacked.is_dir()
    sources = [str(p.relative_to(unpacked)) for p in unpacked.rglob("*.py")]
    assert sources == []


def test_manifest_describes_the_binary(packager: str) -> None:
    manifest = json.loads((REPO / "dist" / packager / "manifest.json").read_text())
    binary = binary_path(packager)
    assert manifest["packager"] == packager
    assert manifest["bootstrap"] in ("launcher", packager)
    if packager == "pyinstaller":
        assert manifest["bootstrap"] == "pyinstaller"
    assert manifest["binary_size_bytes"] == binary.stat().st_size
    assert manifest["sha256"] == buildinfo.sha256(binary)
    assert manifest["sidecar_version"] == buildinfo.read_version()
    for key in (
        "command_line",
        "packager_version",
        "python_version",
        "platform",
        "arch",
        "build_seconds",
        "git_commit",
    ):
        assert manifest[key] not in (None, ""), key
