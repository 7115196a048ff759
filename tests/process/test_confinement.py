"""The engine confines itself whatever its caller asks (docs/SECURITY.md, the sidecar's layer).

Every escape a hostile page could try through a host that forwards its calls is
tried here against the real sidecar: reading, writing, attaching, loading code
and changing DuckDB's settings from SQL, path traversal and symlinks in exports,
ingests and pipeline files, URL sources, and the host-only methods without the
host's key. Each is refused with its documented kind, nothing changes on disk
outside the data dir, and the normal paths (the engine's tables, imports/ and
exports/, granted paths) keep working in the same process.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import collecting, write_csv
from tests.support import running_sidecar

pytestmark = pytest.mark.anyio


async def refused(sidecar: Any, method: str, params: Any) -> RpcCallError:
    with pytest.raises(RpcCallError) as caught:
        await sidecar.call(method, params)
    return caught.value


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime (to prove nothing changed)."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            info = path.lstat()
            found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


SQL_ESCAPES = {
    # What SQL from a page must never do, and the kind it gets.
    "SELECT content FROM read_text('/etc/hostname')": "forbidden_path",
    "SELECT * FROM read_csv('/etc/passwd')": "forbidden_path",
    "SELECT * FROM glob('/etc/*')": "forbidden_path",
    "SELECT * FROM '/etc/passwd'": "catalog",  # no replacement scan of a file name in the sandbox
    "ATTACH '/tmp/other.duckdb' AS other": "forbidden_statement",
    "DETACH engine": "forbidden_statement",
    "INSTALL httpfs": "forbidden_statement",
    "LOAD httpfs": "forbidden_statement",
    "SET enable_external_access = true": "forbidden_statement",
    "SET GLOBAL autoinstall_known_extensions = true": "forbidden_statement",
    "RESET allowed_directories": "forbidden_statement",
    "USE memory": "forbidden_statement",
    "PRAGMA enable_profiling": "forbidden_statement",
    "CALL checkpoint()": "forbidden_statement",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.csv'": "forbidden_statement",
    "PREPARE p AS SELECT 1": "forbidden_statement",
    "UPDATE EXTENSIONS": "forbidden_statement",
    "EXPORT DATABASE 'dump'": "forbidden_statement",
}


async def test_sql_cannot_reach_files_code_or_settings(data_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("private")
    before = snapshot(home)
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.call("db.query", {"sql": "CREATE TABLE t AS SELECT 42 AS answer", "allow_write": True})
        pid = sidecar.pid
        for sql, kind in {
            **SQL_ESCAPES,
            f"COPY (SELECT 1) TO '{home / 'x.csv'}'": "forbidden_statement",
            f"SELECT * FROM read_text('{home / 'notes.txt'}')": "forbidden_path",
            # The data dir's own files are outside DuckDB's sandbox too (only imports/, exports/, staging/ are in).
            f"SELECT * FROM read_text('{data_dir / 'settings.json'}')": "forbidden_path",
            f"SELECT * FROM read_blob('{data_dir / 'imports' / '..' / 'sidecar.lock'}')": "forbidden_path",
        }.items():
            for allow_write in (False, True):
                error = await refused(sidecar, "db.query", {"sql": sql, "allow_write": allow_write})
                assert error.code == -32000 and error.kind == kind, (sql, allow_write, error)
        # The settings are the ones the engine set, whatever was tried.
        settings = await sidecar.call(
            "db.query",
            {
                "sql": "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('enable_external_access', 'autoinstall_known_extensions', 'autoload_known_extensions') ORDER BY 1"
            },
        )
        assert settings["rows"] == [
            ["autoinstall_known_extensions", "false"],
            ["autoload_known_extensions", "false"],
            ["enable_external_access", "false"],
        ]
        # What the console needs still works, in the same process.
        assert (await sidecar.call("db.query", {"sql": "SELECT answer FROM t"}))["rows"] == [[42]]
        assert (await sidecar.call("db.query", {"sql": "SHOW TABLES"}))["rows"] == [["t"]]
        assert (await sidecar.call("db.query", {"sql": "EXPLAIN ANALYZE SELECT * FROM t"}))["row_count"] >= 1
        assert (await sidecar.call("system.ping"))["pong"] is True
        assert sidecar.pid == pid and sidecar.running
    assert snapshot(home) == before
    assert not (tmp_path / "other.duckdb").exists()


async def test_exports_stay_in_exports_or_a_write_grant(data_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "reports").mkdir(parents=True)
    (home / "readonly").mkdir()
    outside_link_target = tmp_path / "elsewhere"
    outside_link_target.mkdir()
    before = {**snapshot(home), **snapshot(outside_link_target)}
    async with running_sidecar(data_dir) as sidecar:
        sql = {"sql": "SELECT range AS i FROM range(10)", "format": "csv"}
        # Where a page may not write: absolute paths, traversal, the engine's own files, a folder.
        for path in (
            str(home / "x.csv"),
            "../x.csv",
            "sub/../../x.csv",
            str(data_dir / "exports" / ".." / "settings.json"),
            str(data_dir / "state.sqlite3"),
            "~/x.csv",
        ):
            error = await refused(sidecar, "db.export", {**sql, "path": path})
            assert error.kind == "forbidden_path", (path, error)
        # A symlink inside exports/ that leads out is followed, then refused.
        (data_dir / "exports" / "link").symlink_to(outside_link_target)
        error = await refused(sidecar, "db.export", {**sql, "path": "link/x.csv"})
        assert error.kind == "forbidden_path"
        # A read grant does not allow writing; the export job checks the same way.
        await sidecar.grant(home / "readonly", "read")
        error = await refused(sidecar, "db.export", {**sql, "path": str(home / "readonly" / "x.csv")})
        assert error.kind == "forbidden_path"
        job_error = await refused(
            sidecar, "jobs.submit", {"type": "export", "payload": {**sql, "path": str(home / "x.csv")}}
        )
        assert job_error.kind == "forbidden_path"
        assert {**snapshot(home), **snapshot(outside_link_target)} == before, "a refused export changed something"

        # Inside exports/, and inside a folder granted for writing (written in the sandbox, then moved).
        default = await sidecar.call("db.export", sql)
        assert Path(default["path"]).parent == data_dir / "exports"
        nested = await sidecar.call("db.export", {**sql, "path": "nested/ten.csv"})
        assert nested["path"] == str(data_dir / "exports" / "nested" / "ten.csv")
        granted = await sidecar.call("files.grants")
        assert [g["path"] for g in granted["grants"]] == [str(home / "readonly")]
        await sidecar.grant(home / "reports", "write")
        written = await sidecar.call("db.export", {**sql, "path": str(home / "reports" / "ten.csv")})
        assert written["row_count"] == 10 and (home / "reports" / "ten.csv").read_text().splitlines()[0] == "i"
        # Reading it back into the engine is allowed by the write grant.
        async with collecting(sidecar) as notes:
            job = await sidecar.call(
                "jobs.submit", {"type": "ingest", "payload": {"source": written["path"], "table": "back"}}
            )
            assert (await notes.finished(job["job_id"])).params["status"] == "succeeded"
    assert not list((data_dir / "staging").iterdir()), "staging folders left behind"
    assert sorted(p.name for p in (home / "reports").iterdir()) == ["ten.csv"], "partial files left"


async def test_ingest_reads_only_imports_exports_and_read_grants(data_dir: Path, tmp_path: Path) -> None:
    picked = tmp_path / "picked"
    picked.mkdir()
    chosen = write_csv(picked / "sales.csv", 100)
    secret_file = write_csv(tmp_path / "not-granted.csv", 5)
    (picked / "escape.csv").symlink_to(secret_file)  # a symlink in a granted folder that leads out
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        for source in (
            str(secret_file),
            str(picked / "sales.csv"),  # not granted yet
            "../not-granted.csv",
            str(tmp_path / "*.csv"),
            str(data_dir / "state.sqlite3"),
            "/etc/passwd",
        ):
            error = await refused(
                sidecar, "jobs.submit", {"type": "ingest", "payload": {"source": source, "table": "t"}}
            )
            assert error.kind == "forbidden_path", (source, error)
        url = await refused(
            sidecar, "jobs.submit", {"type": "ingest", "payload": {"source": "https://example.com/a.csv", "table": "t"}}
        )
        assert url.kind == "network_disabled"

        grant = await sidecar.grant(picked)
        assert grant["kind"] == "folder" and grant["mode"] == "read" and grant["path"] == str(picked)
        job = await sidecar.call("jobs.submit", {"type": "ingest", "payload": {"source": str(chosen), "table": "t"}})
        assert (await notes.finished(job["job_id"])).params["result"]["rows"] == 100
        # A glob over the granted folder reaches the symlink's target: refused, the job fails, nothing loaded.
        job = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source": str(picked / "*.csv"), "table": "g"}}
        )
        failed = (await notes.finished(job["job_id"])).params
        assert failed["status"] == "failed" and failed["error"]["kind"] == "forbidden_path", failed
        # A file in imports/ needs no grant (relative sources are under imports/).
        write_csv(data_dir / "imports" / "dropped.csv", 7)
        job = await sidecar.call("jobs.submit", {"type": "ingest", "payload": {"source": "dropped.csv", "table": "d"}})
        assert (await notes.finished(job["job_id"])).params["result"]["rows"] == 7

        assert (await sidecar.call_host("files.revoke", {"grant_id": grant["grant_id"]}))["revoked"] is True
        error = await refused(
            sidecar, "jobs.submit", {"type": "ingest", "payload": {"source": str(chosen), "table": "t"}}
        )
        assert error.kind == "forbidden_path"
        tables = await sidecar.call("db.query", {"sql": "SELECT count(*) FROM t"})
        assert tables["rows"] == [[100]]
        assert (await sidecar.call("db.query", {"sql": "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'g'"}))[
            "rows"
        ] == [[0]]


async def test_pipeline_files_and_steps_are_confined(data_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "p.json"
    outside.write_text('{"name": "p", "steps": [{"name": "s", "sql": "SELECT 1"}]}')
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        error = await refused(sidecar, "jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": str(outside)}})
        assert error.kind == "forbidden_path"
        (data_dir / "imports" / "p.json").write_text(outside.read_text())
        ok = await sidecar.call("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": "p.json"}})
        assert (await notes.finished(ok["job_id"])).params["status"] == "succeeded"
        for sql in (f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'", "ATTACH 'x.duckdb'", "SET threads = 1"):
            pipeline = {"name": "hostile", "steps": [{"name": "s", "sql": sql}]}
            job = await sidecar.call("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": pipeline}})
            done = (await notes.finished(job["job_id"])).params
            assert done["status"] == "failed" and done["error"]["kind"] == "forbidden_statement", (sql, done)
            assert done["error"]["class"] == "permission"
    assert not (tmp_path / "x.csv").exists()


async def test_host_only_methods_need_the_hosts_key(data_dir: Path, tmp_path: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        discovered = await sidecar.call("rpc.discover")
        host_only = sorted(m["name"] for m in discovered["methods"] if m.get("x-host-only"))
        assert host_only == ["files.grant", "files.revoke", "secrets.get"]
        for method, params in (
            ("files.grant", {"path": str(tmp_path), "mode": "read"}),
            ("files.revoke", {"grant_id": "x"}),
            ("secrets.get", {"name": "x"}),
        ):
            wrong = await refused(sidecar, method, {**params, "host_key": "0" * 64})
            assert wrong.code == -32000 and wrong.kind == "host_only", (method, wrong)
            missing = await refused(sidecar, method, params)
            assert missing.code == -32602, (method, missing)
        assert (await sidecar.call("files.grants"))["grants"] == []
        # The data dir itself is never grantable; a folder that holds it may be, but not the data dir inside it.
        inside = await refused(
            sidecar, "files.grant", {"path": str(data_dir), "mode": "write", "host_key": sidecar.host_key}
        )
        assert inside.kind == "forbidden_path"
        await sidecar.grant(tmp_path, "write")
        error = await refused(sidecar, "db.export", {"sql": "SELECT 1", "path": str(data_dir / "settings.json")})
        assert error.kind == "forbidden_path"
        relative = await refused(
            sidecar, "files.grant", {"path": "relative", "mode": "read", "host_key": sidecar.host_key}
        )
        assert relative.kind == "invalid_input"
    # Started without a key, the host-only methods are off altogether.
    async with running_sidecar(data_dir, host_key=False) as keyless:
        off = await refused(keyless, "files.grant", {"path": str(tmp_path), "mode": "read", "host_key": "0" * 64})
        assert off.kind == "host_only" and "without a host key" in off.message


@contextlib.contextmanager
def http_folder(folder: Path) -> Iterator[str]:
    """A real HTTP server over ``folder`` on 127.0.0.1; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, directory=str(folder), **kw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_url_sources_only_with_allow_network(data_dir: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    write_csv(served / "remote.csv", 30)
    with http_folder(served) as base:
        async with running_sidecar(data_dir, "--allow-network") as sidecar, collecting(sidecar) as notes:
            job = await sidecar.call(
                "jobs.submit", {"type": "ingest", "payload": {"source": f"{base}/remote.csv", "table": "r"}}
            )
            done = (await notes.finished(job["job_id"])).params
            assert done["status"] == "succeeded" and done["result"]["rows"] == 30, done
            job = await sidecar.call(
                "jobs.submit", {"type": "ingest", "payload": {"source": f"{base}/missing.csv", "table": "m"}}
            )
            done = (await notes.finished(job["job_id"], timeout=60)).params
            assert done["status"] == "failed" and done["error"]["kind"] == "source_not_found", done
            # Still no other scheme, and SQL itself still cannot reach the network.
            error = await refused(sidecar, "db.query", {"sql": f"SELECT * FROM read_csv('{base}/remote.csv')"})
            assert error.kind in ("forbidden_path", "forbidden_statement", "not_supported"), error
    assert not list((data_dir / "staging").iterdir())


async def test_files_are_private_to_the_user(data_dir: Path, tmp_path: Path) -> None:
    """Folders 0700, files 0600 (the sidecar's umask), the lock and temporary files included."""
    outside = tmp_path / "outside"
    outside.mkdir()
    write_csv(outside / "x.csv", 10)
    async with running_sidecar(data_dir) as sidecar:
        await sidecar.grant(outside)
        async with collecting(sidecar) as notes:  # a staging folder is made (and emptied) for it
            job = await sidecar.call(
                "jobs.submit", {"type": "ingest", "payload": {"source": str(outside / "x.csv"), "table": "x"}}
            )
            await notes.finished(job["job_id"])
        await sidecar.call("db.query", {"sql": "CREATE TABLE t AS SELECT 1 AS a", "allow_write": True})
        await sidecar.call("settings.set", {"values": {"query_default_limit": 50}})
        await sidecar.call("jobs.list", {})
        await sidecar.call("db.export", {"sql": "SELECT * FROM t", "format": "csv", "path": "t.csv"})
        async with collecting(sidecar) as notes:
            job = await sidecar.call("jobs.submit", {"type": "export", "payload": {"sql": "SELECT 1"}})
            await notes.finished(job["job_id"])
        modes = {}
        for folder, dirs, names in os.walk(data_dir):
            for name in dirs + names:
                path = Path(folder) / name
                modes[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    modes["."] = stat.S_IMODE(data_dir.stat().st_mode)
    for required in (
        "staging",
        "logs",
        "cache",
        "exports",
        "imports",
        "sidecar.lock",
        "engine.duckdb",
        "settings.json",
        "state.sqlite3",
        "logs/sidecar.log",
        "exports/t.csv",
    ):
        assert required in modes, (required, sorted(modes))
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}, f"readable by others: {loose}"
    folders = [name for name in modes if (data_dir / name).is_dir()]
    assert all(modes[name] == 0o700 for name in folders), {name: oct(modes[name]) for name in folders}
