"""A full disk, for real: the data dir on a 20 MiB tmpfs (mounted here, as root), filled up.

Every write that finds no room answers ``disk_full`` (never -32099, never ``io`` or
``transaction``), the process keeps serving what it can (queries, settings reads,
status), nothing half-written is left behind, and once space is freed everything
works again without a restart. Skipped where a tmpfs cannot be mounted (not root).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar_host import RpcCallError
from tests.support import running_sidecar, sidecar_args, sidecar_env

DISK_MB = 20
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 20 MiB filesystem of its own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Write a ballast file until the disk is full (less ``leave_bytes``); returns it."""
    ballast = disk / f"ballast-{uuid.uuid4().hex}"
    chunk = b"\0" * (1 << 16)
    with ballast.open("wb") as handle:
        try:
            while True:
                stat = os.statvfs(disk)
                free = stat.f_bavail * stat.f_frsize
                if free <= leave_bytes:
                    break
                handle.write(chunk[: max(min(len(chunk), free - leave_bytes), 1)])
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return ballast


async def error_of(sidecar: Any, method: str, params: Any = None) -> RpcCallError:
    with pytest.raises(RpcCallError) as caught:
        await (sidecar.call(method, params) if params is not None else sidecar.call(method))
    return caught.value


def write_csv(path: Path, rows: int) -> Path:
    import duckdb

    duckdb.sql(f"COPY (SELECT range AS i, md5(range::VARCHAR) AS h FROM range({rows})) TO '{path}'")
    return path


@pytest.mark.anyio
async def test_writes_on_a_full_disk_answer_disk_full_and_work_again_once_there_is_room(
    small_disk: Path, tmp_path: Path
) -> None:
    """Both ways an ingest fills the disk: DuckDB writing the table (the source is on the small disk
    itself, staged by a hard link) and the engine copying a granted file from another filesystem."""
    data = small_disk / "data"
    (small_disk / "src").mkdir()
    (tmp_path / "src").mkdir()
    local = write_csv(small_disk / "src" / "rows.csv", 300_000)  # ~11 MB of the 20
    remote = write_csv(tmp_path / "src" / "rows.csv", 300_000)
    small = write_csv(tmp_path / "src" / "small.csv", 20_000)
    async with running_sidecar(data) as sidecar:
        await sidecar.grant(small_disk / "src")
        await sidecar.grant(tmp_path / "src")
        await sidecar.call("db.query", {"sql": "CREATE TABLE kept AS SELECT 1 AS one", "allow_write": True})
        await sidecar.call("jobs.list", {})  # the state store exists before the disk fills
        ballast = fill(small_disk, leave_bytes=2 << 20)

        # The copy first: its partial file is removed, giving the room back for the DuckDB case.
        for source, table in ((remote, "copied"), (local, "big")):
            job = await sidecar.call(
                "jobs.submit", {"type": "ingest", "payload": {"source": str(source), "table": table}}
            )
            with anyio.fail_after(60):
                while (record := await sidecar.call("jobs.get", {"job_id": job["job_id"]}))["status"] in (
                    "queued",
                    "running",
                ):
                    await anyio.sleep(0.2)
            assert record["status"] == "failed" and record["error"]["kind"] == "disk_full", (source, record["error"])
        assert list((data / "staging").iterdir()) == []  # the partial copy went with its job

        fill(small_disk)  # now nothing at all is left
        settings_error = await error_of(sidecar, "settings.set", {"values": {"query_default_limit": 5}})
        assert settings_error.kind == "disk_full", settings_error
        assert not [p.name for p in data.iterdir() if ".tmp-" in p.name]  # no half-written settings file
        insert = await error_of(
            sidecar,
            "db.query",
            {"sql": "CREATE TABLE grow AS SELECT range AS i FROM range(2000000)", "allow_write": True},
        )
        assert insert.kind == "disk_full", insert
        submit = await error_of(
            sidecar, "jobs.submit", {"type": "ingest", "payload": {"source": str(local), "table": "b2"}}
        )
        assert submit.kind == "disk_full", submit
        # What needs no room keeps working.
        assert (await sidecar.call("db.query", {"sql": "SELECT one FROM kept"}))["rows"] == [[1]]
        assert (await sidecar.call("settings.get"))["settings"]["query_default_limit"] != 5
        assert (await sidecar.call("system.status"))["engine_started"] is True

        for path in small_disk.glob("ballast-*"):
            path.unlink()
        del ballast
        changed = await sidecar.call("settings.set", {"values": {"query_default_limit": 5}})
        assert changed["settings"]["query_default_limit"] == 5
        again = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source": str(small), "table": "copied"}}
        )
        with anyio.fail_after(60):
            while (done := await sidecar.call("jobs.get", {"job_id": again["job_id"]}))["status"] in (
                "queued",
                "running",
            ):
                await anyio.sleep(0.2)
        assert done["status"] == "succeeded", done
    assert sidecar.stop_result is not None and sidecar.stop_result.exit_status == 0


@pytest.mark.anyio
async def test_started_on_a_full_disk_it_serves_what_needs_no_room_and_recovers_without_a_restart(
    small_disk: Path,
) -> None:
    data = small_disk / "data"
    async with running_sidecar(data) as sidecar:
        await sidecar.call("db.query", {"sql": "CREATE TABLE kept AS SELECT 42 AS answer", "allow_write": True})
    fill(small_disk)
    async with running_sidecar(data) as sidecar:
        assert (await sidecar.call("db.query", {"sql": "SELECT answer FROM kept"}))["rows"] == [[42]]
        assert "settings" in await sidecar.call("settings.get")
        jobs_error = await error_of(sidecar, "jobs.list", {})
        assert jobs_error.kind in ("disk_full", "state_unavailable") and jobs_error.code == -32000, jobs_error
        for path in small_disk.glob("ballast-*"):
            path.unlink()
        assert (await sidecar.call("jobs.list", {}))["jobs"] == []  # the state store opens now
    assert sidecar.stop_result is not None and sidecar.stop_result.exit_status == 0


@pytest.mark.anyio
async def test_logs_on_a_full_disk_never_change_the_exit_status(small_disk: Path, tmp_path: Path) -> None:
    """The log file on the full disk, the data dir elsewhere: SHUTDOWN reason=normal and exit status 0."""
    env = sidecar_env(LOG_DIR=str(small_disk / "logs"))
    with contextlib.ExitStack():
        async with running_sidecar(tmp_path / "data", env=env) as sidecar:
            fill(small_disk)
            for _ in range(200):  # enough log lines to need a new block
                await sidecar.call("test.echo", {"value": "x" * 2000})
            await sidecar.call("db.query", {"sql": "SELECT 1"})
    assert sidecar.stop_result is not None
    assert (sidecar.stop_result.shutdown_reason, sidecar.stop_result.exit_status) == ("normal", 0)


def test_a_full_disk_is_never_an_unhandled_exception_in_the_log(small_disk: Path) -> None:
    """The same run as above through the command line: the log must not report a -32099 handler bug."""
    data = small_disk / "data"
    fill(small_disk)
    proc = subprocess.run(
        sidecar_args(data),
        input=b'{"jsonrpc":"2.0","id":1,"method":"settings.set","params":{"values":{"jobs_concurrency":1}}}\n',
        capture_output=True,
        env=sidecar_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 4), proc.stderr.decode()[-2000:]  # 4: not even the data dir could be created
    assert b"unhandled_exception" not in proc.stdout and b"handler raised" not in proc.stderr
