"""End-to-end tests of the compiled Tauri app (tauri-shell/), driven through WebDriver.

The app runs under Xvfb; tauri-driver (crates.io) fronts Debian's WebKitWebDriver.
The app starts its sidecar through externalBin (the file beside the app executable:
the Nuitka binary when tauri-shell/scripts/prepare-sidecar.sh found one, else the
launcher for `.venv/bin/python -m sidecar`). Screenshots of the main states go to
$SIDECAR_SHELL_ARTIFACTS (default dist/tauri-e2e/screenshots/), never into git.

Prerequisites (tauri-shell/scripts/e2e.sh does all of it):
  * the app built: `cargo build -p sidecar-shell` in tauri-shell/ (debug is enough);
    its path is $SIDECAR_SHELL_APP, else $CARGO_TARGET_DIR/debug/sidecar-shell,
    else tauri-shell/target/debug/sidecar-shell;
  * `tauri-driver` on PATH or in ~/.cargo/bin; WebKitWebDriver and Xvfb (Debian's
    webkit2gtk-driver, xvfb, xauth).

Without them the tests are skipped with the reason, unless SIDECAR_SHELL_E2E=1
(CI), which turns a missing prerequisite into a failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tauri.webdriver import (
    REPO,
    AppDriver,
    WebDriverError,
    parent_of,
    pid_alive,
    private_xvfb,
    tauri_driver,
    wait_until,
    webview_env,
)

SHELL = REPO / "tauri-shell"
FIXTURES = REPO / "tests" / "fixtures" / "bad_sidecars"
REQUIRED = os.environ.get("SIDECAR_SHELL_E2E") == "1"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the e2e suite runs on Linux (WebKitWebDriver)")


def _missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"SIDECAR_SHELL_E2E=1 but {reason}")
    pytest.skip(reason)


def app_binary() -> Path:
    if os.environ.get("SIDECAR_SHELL_APP"):
        return Path(os.environ["SIDECAR_SHELL_APP"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", SHELL / "target"))
    return target / "debug" / "sidecar-shell"


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """An X display: the caller's, or a private Xvfb."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        _missing("Xvfb is not installed (apt-get install xvfb xauth)")
    with private_xvfb() as number:
        yield number


class App(AppDriver):
    """tauri-driver plus one session, i.e. one running app; a missing prerequisite skips (fails in CI)."""

    def __init__(self, env: dict[str, str], display: str, tmp: Path) -> None:
        binary = app_binary()
        if not binary.exists():
            _missing(f"the app is not built ({binary}); run tauri-shell/scripts/e2e.sh or cargo build -p sidecar-shell")
        driver = tauri_driver()
        if driver is None:
            _missing("tauri-driver is not installed (cargo install tauri-driver --locked)")
        if not shutil.which("WebKitWebDriver"):
            _missing("WebKitWebDriver is not installed (apt-get install webkit2gtk-driver)")
        assert driver is not None
        super().__init__(binary, driver, env, display, tmp)


def all_gone(pids: set[int]) -> bool:
    return not any(pid_alive(pid) for pid in pids)


def base_env(tmp: Path) -> dict[str, str]:
    """The app's environment (webview_env) with the sidecar serving test.* (SIDECAR_TEST_METHODS=1:
    the page must still reach none) and a 1 s heartbeat."""
    return {**webview_env(tmp / "data", tmp), "SIDECAR_TEST_METHODS": "1", "SIDECAR_SHELL_HEARTBEAT_S": "1"}


# The files of the grant flow (picked through the test hook, outside the data dir) and the
# small CSV in the data dir's imports/ folder, which needs no grant.
SALES_CSV = "region,amount\nnorth,120\nsouth,80\neast,200\n"
NOTES_CSV = "id,note\n1,first\n2,second\n"


# ---------------------------------------------------------------- the happy path, one app


@pytest.fixture(scope="module")
def app(display: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One app for the whole happy path (one launch: CI time). Its file picks answer the
    test hook (SIDECAR_SHELL_TEST_PICK_FILE/_FOLDER, a test-hooks build), since a native
    dialog cannot be driven under Xvfb: the file is picked/sales.csv, the folder export-here/."""
    tmp = tmp_path_factory.mktemp("tauri-app")
    picked = tmp / "picked"
    picked.mkdir()
    (picked / "sales.csv").write_text(SALES_CSV)
    (picked / "neighbour.csv").write_text(SALES_CSV)  # beside the picked file, never granted
    (tmp / "export-here").mkdir()
    imports = tmp / "data" / "imports"
    imports.mkdir(parents=True)
    (imports / "notes.csv").write_text(NOTES_CSV)
    home = tmp / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "letter.txt").write_text("dear engine, keep out\n")
    (home / ".profile").write_text("# a file the page must not touch\n")
    env = base_env(tmp) | {
        "SIDECAR_SHELL_TEST_PICK_FILE": str(picked / "sales.csv"),
        "SIDECAR_SHELL_TEST_PICK_FOLDER": str(tmp / "export-here"),
    }
    running = App(env, display, tmp)
    running.tmp = tmp  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.close()


def test_app_starts_the_sidecar_through_externalbin(app: App) -> None:
    detail = app.session.wait_state("ready")
    app.session.screenshot("01-ready")
    sidecar = app.sidecar_pid()
    assert f"pid {sidecar}" in detail
    # The sidecar is the app's own child, started from the file beside the app executable.
    assert parent_of(sidecar) == app.pid
    beside = app.binary.parent / "sidecar"
    assert beside.exists(), f"externalBin copy missing: {beside}"
    cmdline = Path(f"/proc/{sidecar}/cmdline").read_bytes().split(b"\0")
    assert any(b"sidecar" in part for part in cmdline), cmdline
    status = app.session.invoke("plugin:sidecar|status")
    assert status["state"]["state"] == "ready"
    paths = app.session.invoke("plugin:sidecar|logs_path")
    assert Path(paths["dir"]) == app.tmp / "data" / "logs"  # type: ignore[attr-defined]
    assert app.session.text("#logs-path") == paths["dir"]
    # Live logs reach the page.
    wait_until(lambda: "READY after" in app.session.text("#logs"), 10, "host log lines in the UI")


def test_notifications_reach_the_page(app: App) -> None:
    """job.status / job.progress notifications of an ingest (from the data dir's imports/,
    which needs no grant) reach the page as `sidecar:notification` events, in order."""
    app.session.wait_state("ready")
    app.session.listen("sidecar:notification", "__notes")
    source = app.tmp / "data" / "imports" / "notes.csv"  # type: ignore[attr-defined]
    job = app.session.invoke(
        "plugin:sidecar|call",
        {"method": "jobs.submit", "params": {"type": "ingest", "payload": {"table": "notes", "source": str(source)}}},
    )

    def mine() -> list[dict[str, Any]]:
        notes = app.session.js("return window.__notes") or []
        return [n for n in notes if (n.get("params") or {}).get("job_id") == job["job_id"]]

    wait_until(
        lambda: any(n["params"].get("status") == "succeeded" for n in mine()), 30, "the ingest's job.status notes"
    )
    statuses = [n["params"]["status"] for n in mine() if n["method"] == "job.status"]
    assert statuses == ["queued", "running", "succeeded"], statuses
    progress = [n["params"]["progress"] for n in mine() if n["method"] == "job.progress"]
    assert progress and progress[-1] == 1.0 and progress == sorted(progress), progress


def test_command_errors_are_typed(app: App) -> None:
    # A method the capability does not grant: refused by the shell, never sent to the sidecar.
    err = app.session.call_error("no.such.method")
    assert (err["kind"], err["method"], err["reason"]) == ("forbidden_method", "no.such.method", "not_granted"), err
    # A granted method the sidecar answers with an error: its code and data.kind.
    err = app.session.call_error("db.query", {"sql": "SELEC 1"})
    assert (err["kind"], err["code"], err["data"]["kind"]) == ("rpc_error", -32000, "sql_syntax"), err


def engine_methods(app: App) -> set[str]:
    doc = app.session.invoke("plugin:sidecar|call", {"method": "rpc.discover"})
    return {m["name"] for m in doc.get("methods", [])}


def test_query_console_returns_rows(app: App) -> None:
    if "db.query" not in engine_methods(app):
        pytest.skip("db.query is not in this sidecar's rpc.discover yet (the engine, issue 5)")
    app.session.type("#sql", "SELECT 42 AS answer, 'duck' AS name UNION ALL SELECT 7, 'goose' ORDER BY answer")
    app.session.click("#run-query")
    wait_until(
        lambda: "2 rows" in app.session.text("#query-meta"),
        30,
        f"query rows (error: {app.session.text('#query-error')!r})",
    )
    cells = app.session.js("return [...document.querySelectorAll('#results td')].map(td => td.textContent)")
    assert cells == ["7", "goose", "42", "duck"]
    headers = app.session.js("return [...document.querySelectorAll('#results th')].map(th => th.textContent)")
    assert headers == ["answer", "name"]
    app.session.screenshot("02-query")
    # A SQL error is shown with its kind.
    app.session.type("#sql", "SELEC nonsense")
    app.session.click("#run-query")
    wait_until(lambda: app.session.text("#query-error"), 30, "the SQL error")
    assert "sql" in app.session.text("#query-error").lower()


def test_an_app_method_is_called_from_the_ui(app: App) -> None:
    """The example app's wordfreq.count (a method of examples/wordfreq-app, not of the sidecar)
    from its panel: typed text in, the counts shown. The sidecar must include the app (the
    source launcher loads it; a Nuitka build must be made with --app examples/wordfreq-app
    --app-name PlutoDuck):
    a sidecar without it fails here, it is not skipped. Methods of the app the capability does
    not list stay refused."""
    app.session.wait_state("ready")
    assert "wordfreq.count" in engine_methods(app), (
        "the sidecar has no wordfreq app: build it with scripts/build-nuitka.sh --app examples/wordfreq-app "
        "--app-name PlutoDuck (tauri-shell/scripts/prepare-sidecar.sh prefers dist/apps/wordfreq-plutoduck/nuitka/) "
        "or use SIDECAR_PREPARE=launcher"
    )
    wait_until(
        lambda: app.session.js("return !document.querySelector('#wordfreq-count').disabled"), 10, "Count enabled"
    )
    assert app.session.js("return document.querySelector('#wordfreq-unavailable').hidden") is True
    app.session.type("#wordfreq-text", "The duck saw the goose; the goose saw THE duck.")
    app.session.type("#wordfreq-top", "2")
    app.session.click("#wordfreq-count")
    wait_until(
        lambda: app.session.text("#wordfreq-summary"),
        30,
        f"the counts (error: {app.session.text('#wordfreq-error')!r})",
    )
    assert app.session.text("#wordfreq-summary") == "10 words, 4 distinct"
    words = app.session.js(
        "return [...document.querySelectorAll('.wordfreq-word')].map(li => [li.dataset.word, Number(li.dataset.count)])"
    )
    assert words == [["the", 4], ["duck", 2]], words
    app.session.screenshot("02b-wordfreq")
    # The app's error mapping reaches the page: top out of range is -32602 with its path.
    err = app.session.call_error("wordfreq.count", {"text": "x", "top": -1})
    assert (err["kind"], err["code"]) == ("rpc_error", -32602), err
    # An app method the capability does not grant is refused in Rust like a built-in one.
    err = app.session.call_error("wordfreq.tables", {})
    assert (err["kind"], err["reason"]) == ("forbidden_method", "not_granted"), err


def test_ingest_job_shows_progress_and_can_be_cancelled(app: App) -> None:
    methods = engine_methods(app)
    missing = {"jobs.submit", "jobs.cancel"} - methods
    if missing:
        pytest.skip(f"{sorted(missing)} not in this sidecar's rpc.discover yet (the engine, issue 5)")
    # Many files (one real CSV and hard links to it) so the ingest runs for several seconds;
    # in the data dir's imports/ folder, which the engine reads without a grant.
    parts = app.tmp / "data" / "imports" / "parts"  # type: ignore[attr-defined]
    parts.mkdir()
    first = parts / "part-000.csv"
    with first.open("w") as f:
        f.write("id,name,value,note\n")
        f.writelines(f"{i},name-{i % 977},{i * 0.5},note {i % 13}\n" for i in range(1_000_000))
    for n in range(1, 60):
        os.link(first, parts / f"part-{n:03}.csv")
    source = parts / "part-*.csv"
    app.session.type("#ingest-source", str(source))
    app.session.type("#ingest-table", "big")
    app.session.click("#submit-ingest")
    job = wait_until(
        lambda: app.session.js("const j = document.querySelector('#jobs .job'); return j && j.dataset.jobId"),
        20,
        f"the job row (error: {app.session.text('#jobs-error')!r})",
    )
    wait_until(
        lambda: app.session.js(
            "const j = document.querySelector(`#jobs .job[data-job-id='${arguments[0]}']`);"
            "return j && (j.dataset.status === 'running' || j.querySelector('progress').value > 0)",
            job,
        ),
        30,
        "the job to run",
    )
    app.session.screenshot("03-ingest-running")
    app.session.click(f"#jobs .job[data-job-id='{job}'] .cancel")
    final = wait_until(
        lambda: (
            (
                s := app.session.js(
                    "return document.querySelector(`#jobs .job[data-job-id='${arguments[0]}']`).dataset.status", job
                )
            )
            in ("canceled", "succeeded", "failed")
            and s
        ),
        30,
        "the job to end",
    )
    app.session.screenshot("04-ingest-cancelled")
    assert final == "canceled", f"the job ended {final!r} instead of canceled (the ingest may have finished first)"


def test_schedules_panel_creates_pauses_runs_now_and_shows_skips(app: App) -> None:
    app.session.wait_state("ready")  # also when run on its own (-k schedules)
    if "schedules.create" not in engine_methods(app):
        pytest.skip("schedules.* are not in this sidecar's rpc.discover")
    session = app.session
    row = "#schedules .schedule[data-schedule-id='{}']"

    def data(sid: str, key: str) -> Any:
        return session.js(
            "const r = document.querySelector(arguments[0]); return r && r.dataset[arguments[1]]", row.format(sid), key
        )

    session.type("#schedule-name", "compact every second")
    session.type("#schedule-every", "1")
    session.click("#create-schedule")
    sid = wait_until(
        lambda: session.js(
            "const r = document.querySelector('#schedules .schedule'); return r && r.dataset.scheduleId"
        ),
        20,
        f"the schedule row (error: {session.text('#schedules-error')!r})",
    )
    assert session.text(row.format(sid) + " .schedule-trigger") == "every 1 s"
    wait_until(lambda: data(sid, "lastOutcome") == "submitted", 20, "a firing shown as the last outcome")
    assert session.text(row.format(sid) + " .schedule-next") not in ("", "-", "paused")
    session.screenshot("05a-schedules")
    session.click(row.format(sid) + " .toggle")  # pause
    wait_until(lambda: data(sid, "enabled") == "false", 10, "paused")
    assert session.text(row.format(sid) + " .schedule-next") == "paused"
    assert session.text(row.format(sid) + " .toggle") == "Resume"
    time.sleep(2.5)  # due times pass while paused: they come back as one skipped notice
    session.click(row.format(sid) + " .toggle")  # resume
    notice = wait_until(
        lambda: session.text("#schedule-notices .schedule-notice[data-reason='paused']"), 10, "the skipped notice"
    )
    assert notice.startswith("compact every second: ") and "skipped (paused)" in notice
    session.click(row.format(sid) + " .toggle")  # paused again: only run_now adds a job now
    wait_until(lambda: data(sid, "enabled") == "false", 10, "paused again")
    time.sleep(1.5)  # a job of the last firing may still be announced
    jobs_before = session.js("return document.querySelectorAll('#jobs .job').length")
    session.click(row.format(sid) + " .run-now")
    wait_until(lambda: session.js("return document.querySelectorAll('#jobs .job').length") > jobs_before, 10, "the job")
    session.screenshot("05b-schedule-notices")  # left paused: it fires no more for the later tests


# ---------------------------------------------------------------- the page is untrusted


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder under ``root``: (mode, size, sha256 of the content)."""
    out: dict[str, tuple[int, int, str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, digest)
    return out


class ConnectionCounter:
    """A TCP listener on localhost that counts connections (what a page might exfiltrate to)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]

    def count(self) -> int:
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return n
            conn.close()
            n += 1

    def close(self) -> None:
        self.sock.close()


FINAL_JOB_STATES = ("succeeded", "failed", "canceled")


def ingest_refusal(app: App, source: str) -> dict[str, Any]:
    """Submit an ingest of ``source`` from the page: it must be refused at submit (no job is
    made, nothing is read); the error's ``data``."""
    err = app.session.call_error("jobs.submit", {"type": "ingest", "payload": {"table": "stolen", "source": source}})
    assert err["kind"] == "rpc_error" and err["code"] == -32000, err
    data: dict[str, Any] = err["data"]
    return data


def test_a_hostile_page_reaches_nothing_outside_its_grant(app: App) -> None:
    """Script run in the page (as an injected script or a compromised dependency would run)
    tries every escape through the IPC. Each is refused with its kind: `forbidden_method`
    from the shell (in Rust, before the sidecar sees it) for what the capability does not
    grant and for privileged methods, `forbidden_path` / `forbidden_statement` /
    `network_disabled` from the sidecar for granted methods used to reach outside the data
    dir. Afterwards the sidecar is the same READY process and no file outside the data dir
    changed (the app's HOME is a private folder, snapshotted)."""
    tmp: Path = app.tmp  # type: ignore[attr-defined]
    home = tmp / "home"
    session = app.session
    session.wait_state("ready")
    before_pids = app.sidecar_pids()
    watched = {root: snapshot(root) for root in (home, tmp / "picked", tmp / "export-here")}

    # No API on window for any script; the IPC itself is what the capability guards.
    assert session.js("return typeof window.__TAURI__") == "undefined"

    # 1. Methods the capability does not grant, and privileged ones (never grantable).
    not_granted: dict[str, dict[str, Any]] = {
        "settings.set": {"values": {"jobs_concurrency": 64}},
        "secrets.set": {"name": "planted", "value": "x"},
        "secrets.delete": {"name": "planted"},
        "secrets.list": {},
        "system.status": {},
        "db.tables": {},
        "runs.list": {},
        "files.grants": {},
        "pipelines.whatever": {},
        "DB.QUERY": {"sql": "SELECT 1"},  # names are matched exactly
    }
    privileged: dict[str, dict[str, Any]] = {
        "secrets.get": {"name": "anything", "host_key": "0" * 64},
        "system.shutdown": {},
        "files.grant": {"path": str(home), "mode": "write", "host_key": "guess"},
        "files.revoke": {"grant_id": "x", "host_key": "guess"},
        "rpc.cancel": {"id": 1},
        "test.crash": {},
        "test.echo": {"value": 1},
        "test.write_fd1": {"text": "garbage on the protocol stdout"},
    }
    for expected, calls in (("not_granted", not_granted), ("privileged", privileged)):
        for method, params in calls.items():
            err = session.call_error(method, params)
            assert (err["kind"], err.get("method"), err.get("reason")) == ("forbidden_method", method, expected), err
    for malformed in ("db.query ", "db..query", "db/query", "db.qu\u0000ery", ""):
        err = session.call_error(malformed, {"sql": "SELECT 1"})
        assert (err["kind"], err.get("reason")) == ("forbidden_method", "malformed"), err

    # 2. Granted methods aimed outside the data dir: the sidecar refuses them.
    def sidecar_refusal(method: str, params: dict[str, Any]) -> str:
        err = session.call_error(method, params)
        assert err["kind"] == "rpc_error" and err["code"] == -32000, err
        return str(err["data"]["kind"])

    target = home / "x.csv"
    letter = home / "Documents" / "letter.txt"
    assert sidecar_refusal("db.query", {"sql": "SELECT content FROM read_text('/etc/passwd')"}) == "forbidden_path"
    assert sidecar_refusal("db.query", {"sql": f"SELECT * FROM read_csv('{letter}')"}) == "forbidden_path"
    # allow_write is pinned off by the capability; these statements are refused by the sidecar either way.
    statements = [
        f"COPY (SELECT 1) TO '{target}'",
        f"ATTACH '{home / 'stolen.duckdb'}' AS stolen",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "PRAGMA enable_checkpoint_on_shutdown",
        f"EXPORT DATABASE '{home / 'dump'}'",
    ]
    for sql in statements:
        assert sidecar_refusal("db.query", {"sql": sql, "allow_write": True}) == "forbidden_statement", sql
    # The capability pins allow_write off for this window: a write the page asks for runs read-only.
    pinned = {"sql": "CREATE TABLE planted AS SELECT 1 AS x", "allow_write": True}
    assert sidecar_refusal("db.query", pinned) == "read_only"
    # jobs.submit is pinned to ingests: a pipeline (whose SQL steps may write) cannot be smuggled in.
    drop = {"name": "evil", "steps": [{"name": "drop", "sql": "DROP TABLE notes"}]}
    err = session.call_error("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": drop}})
    assert (err["kind"], err["code"]) == ("rpc_error", -32602), err
    rows = session.invoke(
        "plugin:sidecar|call", {"method": "db.query", "params": {"sql": "SELECT count(*) FROM notes"}}
    )
    assert rows["rows"] == [[2]]
    for path in (str(target), str(home / "Documents" / "y.csv"), "../../escape.csv", str(tmp / "picked" / "z.csv")):
        kind = sidecar_refusal("db.export", {"sql": "SELECT 42 AS answer", "format": "csv", "path": path})
        assert kind == "forbidden_path", path
    assert ingest_refusal(app, "/etc/passwd")["kind"] == "forbidden_path"
    assert ingest_refusal(app, str(tmp / "picked" / "neighbour.csv"))["kind"] == "forbidden_path"
    assert ingest_refusal(app, "https://example.com/data.csv")["kind"] == "network_disabled"

    # 3. Tauri's own plugins: none is granted to the page (the dialog plugin is there, for Rust).
    for command, args in (
        ("plugin:dialog|open", {"options": {"directory": True}}),
        ("plugin:dialog|save", {"options": {}}),
        ("plugin:fs|read_text_file", {"path": "/etc/passwd"}),
        ("plugin:shell|execute", {"program": "sh", "args": ["-c", "id"]}),
        ("plugin:event|emit", {"event": "sidecar:state", "payload": {"state": "failed"}}),
    ):
        out = session.invoke_raw(command, args)
        assert "err" in out and "not allowed" in str(out["err"]), (command, out)

    # 4. The pickers take no path from the page: whatever it passes, the user's pick (here the
    # test hook's) is what gets granted.
    grant = session.invoke("pick_file_for_ingest", {"path": "/etc/passwd", "options": {"defaultPath": str(home)}})
    assert grant["path"] == str((tmp / "picked" / "sales.csv").resolve()) and grant["mode"] == "read", grant

    # 5. The CSP: no inline script or style, no eval, no request to any origin but the app's and the IPC.
    listener = ConnectionCounter()
    try:
        script = (
            "const [port, done] = arguments; const out = {};"
            "try { eval('1'); out.eval = 'ran'; } catch (e) { out.eval = e.name; }"
            "const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
            "document.head.appendChild(s); out.inline = window.__inline === 1 ? 'ran' : 'blocked';"
            "const st = document.createElement('style'); st.textContent = '#quit { color: rgb(1, 2, 3) }';"
            "document.head.appendChild(st); const p = document.createElement('p');"
            "p.setAttribute('style', 'color: rgb(4, 5, 6)'); document.body.appendChild(p);"
            "out.style = [getComputedStyle(document.querySelector('#quit')).color, getComputedStyle(p).color]"
            ".some(c => c === 'rgb(1, 2, 3)' || c === 'rgb(4, 5, 6)') ? 'applied' : 'blocked'; p.remove();"
            "const img = new Image(); img.src = `http://127.0.0.1:${port}/pixel.png`;"
            "fetch(`http://127.0.0.1:${port}/exfiltrate`).then(() => 'sent', e => 'blocked')"
            ".then(f => { out.fetch = f; setTimeout(() => done(out), 300); });"
        )
        blocked = session.cmd("POST", "/execute/async", {"script": script, "args": [listener.port]})
        assert blocked == {"eval": "EvalError", "inline": "blocked", "style": "blocked", "fetch": "blocked"}, blocked
        assert listener.count() == 0, "the page reached a local server despite connect-src/img-src"
    finally:
        listener.close()

    # The sidecar never saw the privileged calls: the same process, still READY.
    session.screenshot("07-hostile-page-refused")
    status = session.invoke("plugin:sidecar|status")
    assert status["state"]["state"] == "ready" and app.sidecar_pids() == before_pids, status
    # Nothing outside the data dir changed.
    for root, files in watched.items():
        assert snapshot(root) == files, f"{root} changed"
    assert not target.exists()
    # The refusals are in the host log, by method and reason.
    host_log = (tmp / "data" / "logs" / "sidecar-host.log").read_text()
    for method, reason in (
        ("secrets.get", "privileged"),
        ("system.shutdown", "privileged"),
        ("settings.set", "not_granted"),
    ):
        assert f'refused sidecar call "{method}" from webview "main": {reason} (forbidden_method)' in host_log, method


def test_a_picked_file_is_ingested_and_an_export_goes_to_a_picked_folder(app: App) -> None:
    """The grant flow from the UI: "Choose file..." (the host grants the file the user picked:
    here the test hook's, as no native dialog can be driven under Xvfb), ingest, query; then
    "Export CSV to folder..." writes into the picked folder. The grants are exact: the page
    still cannot read the picked file's neighbour or write beside the picked file."""
    tmp: Path = app.tmp  # type: ignore[attr-defined]
    session = app.session
    session.wait_state("ready")
    session.js("document.querySelector('#ingest-table').value = ''; return true;")
    session.click("#pick-ingest")
    picked = str((tmp / "picked" / "sales.csv").resolve())
    wait_until(lambda: session.js("return document.querySelector('#ingest-source').value") == picked, 10, "the pick")
    assert session.js("return document.querySelector('#ingest-table').value") == "sales"
    rows = "return [...document.querySelectorAll('#jobs .job')].map(j => j.dataset.jobId)"
    known = set(session.js(rows))
    session.click("#submit-ingest")
    job = wait_until(
        lambda: next((j for j in session.js(rows) if j not in known), None),
        20,
        f"the ingest's row (error: {session.text('#jobs-error')!r})",
    )
    status = "return document.querySelector(`#jobs .job[data-job-id='${arguments[0]}']`).dataset.status"
    final = wait_until(lambda: (s := session.js(status, job)) in FINAL_JOB_STATES and s, 30, "the ingest to end")
    assert final == "succeeded", session.text(f"#jobs .job[data-job-id='{job}']")
    session.type("#sql", "SELECT region, amount FROM sales ORDER BY amount DESC")
    session.click("#run-query")
    wait_until(lambda: "3 rows" in session.text("#query-meta"), 30, f"rows (error: {session.text('#query-error')!r})")
    cells = session.js("return [...document.querySelectorAll('#results td')].map(td => td.textContent)")
    assert cells == ["east", "200", "north", "120", "south", "80"]
    session.screenshot("08-picked-file-ingested")

    session.click("#export-query")
    done = wait_until(
        lambda: session.js("const e = document.querySelector('#export-result'); return !e.hidden && e.dataset.path"),
        30,
        f"the export (error: {session.text('#query-error')!r})",
    )
    written = Path(done)
    assert written.parent == (tmp / "export-here").resolve() and written.suffix == ".csv", done
    assert written.read_text().splitlines() == ["region,amount", "east,200", "north,120", "south,80"]
    assert "3 rows exported" in session.text("#export-result")
    session.screenshot("09-exported-to-picked-folder")
    # Exact grants: the neighbour of the picked file, and writing next to it, stay refused.
    assert ingest_refusal(app, str(tmp / "picked" / "neighbour.csv"))["kind"] == "forbidden_path"
    err = session.call_error("db.export", {"sql": "SELECT 1", "format": "csv", "path": str(tmp / "picked" / "w.csv")})
    assert err["data"]["kind"] == "forbidden_path", err
    host_log = (tmp / "data" / "logs" / "sidecar-host.log").read_text()
    assert f"granted read {picked}" in host_log and f"granted write {(tmp / 'export-here').resolve()}" in host_log


def test_restart_relaunches_the_sidecar(app: App) -> None:
    old = app.sidecar_pid()
    old_pids = app.sidecar_pids()
    app.session.click("#restart")
    wait_until(lambda: all_gone(old_pids), 15, f"the old sidecar {old_pids} to exit")
    detail = app.session.wait_state("ready", 60)
    new = app.sidecar_pid()
    assert new != old and f"pid {new}" in detail
    assert parent_of(new) == app.pid
    app.session.screenshot("05-restarted")
    # The grants the user gave this app session were made again in the new process.
    folder = (app.tmp / "export-here").resolve()  # type: ignore[attr-defined]
    params = {"sql": "SELECT 7 AS n", "format": "csv", "path": str(folder / "after-restart.csv")}
    out = app.session.invoke("plugin:sidecar|call", {"method": "db.export", "params": params})
    assert Path(out["path"]) == folder / "after-restart.csv"
    assert (folder / "after-restart.csv").read_text().split() == ["n", "7"]


def test_closing_the_window_stops_the_sidecar_gracefully(app: App) -> None:
    """What the window manager's close button does (here the UI's Quit button, which closes the
    window through core:window:allow-close): CloseRequested -> stop sequence -> exit."""
    sidecars = app.sidecar_pids()
    app_pid = app.pid
    app.session.screenshot("06-before-close")
    try:
        app.session.click("#quit")  # the UI's Quit button: getCurrentWindow().close()
    except WebDriverError:
        pass  # the session may die with the window
    wait_until(lambda: not pid_alive(app_pid), 20, f"the app {app_pid} to exit after its window closed")
    assert all_gone(sidecars), f"sidecar {sidecars} outlived the app"
    log = (app.tmp / "data" / "logs" / "sidecar-host.log").read_text()  # type: ignore[attr-defined]
    tail = log[log.index("state stopping: the main window was closed") :]
    assert "stop: system.shutdown" in tail and "stopped by step ShutdownRequest" in tail, tail[-2000:]


def x_window_titles(display: str) -> list[str]:
    """The titles of the X windows on ``display`` (xwininfo, Debian's x11-utils)."""
    if not shutil.which("xwininfo"):
        _missing("xwininfo is not installed (apt-get install x11-utils)")
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree"],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split('"')[1] for line in tree.splitlines() if line.count('"') >= 2]


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_killing_the_app_leaves_no_sidecar(how: str, display: str, tmp_path: Path) -> None:
    """SIGTERM: the app's signal handler runs the stop sequence. SIGKILL: the sidecar notices on its own.

    This app runs without the pick test hook: under SIGTERM it is killed while the grant
    flow's native dialog is open (a GTK window of its own, beside the webview, that
    WebDriver cannot see or drive: the pick stays pending, a second one is refused)."""
    app = App(base_env(tmp_path), display, tmp_path)
    try:
        app.session.wait_state("ready")
        sidecars = app.sidecar_pids()
        if how == "sigterm":
            app.session.js(
                "window.__pick = 'pending'; window.__TAURI_INTERNALS__.invoke('pick_file_for_ingest')"
                ".then(v => { window.__pick = v; }, e => { window.__pick = e; }); return true;"
            )
            wait_until(lambda: "Choose a file to ingest" in x_window_titles(display), 10, "the native file dialog")
            assert app.session.js("return window.__pick") == "pending"
            second = app.session.invoke_raw("pick_export_folder")
            assert second.get("err", {}).get("kind") == "dialog_open", second
        os.kill(app.pid, signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        wait_until(lambda: not pid_alive(app.pid), 20, f"the app to exit after {how}")
        wait_until(lambda: all_gone(sidecars), 5, f"sidecar {sidecars} to exit after the app's {how}")
        sidecar_log = (tmp_path / "data" / "logs" / "sidecar.log").read_text()
        if how == "sigterm":
            host_log = (tmp_path / "data" / "logs" / "sidecar-host.log").read_text()
            assert "the app got SIGTERM" in host_log and "stopped by step ShutdownRequest" in host_log
            assert '"reason":"normal"' in sidecar_log.splitlines()[-1]
        else:
            # Nobody stopped it: it saw stdin EOF or its parent die, whichever came first.
            last = sidecar_log.splitlines()[-1]
            assert '"reason":"parent_exit"' in last or '"reason":"normal"' in last, last
            host_log = (tmp_path / "data" / "logs" / "sidecar-host.log").read_text()
            assert "stop: system.shutdown" not in host_log
    finally:
        app.close()


# ---------------------------------------------------------------- failure paths, one app each


def wrapper(tmp: Path, fixture: str) -> Path:
    """An executable that runs a bad-sidecar fixture (the app calls it as its sidecar)."""
    path = tmp / f"sidecar-{fixture.removesuffix('.py')}"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FIXTURES / fixture}" "$@"\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("missing_binary", ["binary_not_found", "no such file"]),
        ("exits_before_ready", ["exit status 7", "permission denied"]),
        ("never_ready", ["no READY within 2s", "Hello from a stray debug print"]),
    ],
)
def test_failure_paths_show_an_actionable_error(case: str, expect: list[str], display: str, tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"SIDECAR_SHELL_MAX_RESTARTS": "0"}
    if case == "missing_binary":
        program = tmp_path / "not-built" / "sidecar"
        expect = [*expect, str(program)]
    elif case == "exits_before_ready":
        program = wrapper(tmp_path, "exits_before_ready.py")
    else:
        program = wrapper(tmp_path, "garbage_no_ready.py")
        env["SIDECAR_SHELL_READY_TIMEOUT_MS"] = "2000"
    env["SIDECAR_SHELL_SIDECAR"] = str(program)
    app = App(env, display, tmp_path)
    try:
        app.session.wait_state("failed", 30)
        shown = app.session.text("#problem-text")
        assert app.session.js("return document.querySelector('#problem').hidden") is False
        for needle in expect:
            assert needle in shown, f"{needle!r} not in the UI's error: {shown!r}"
        app.session.screenshot(f"10-failed-{case}")
        log = (tmp_path / "data" / "logs" / "sidecar-host.log").read_text()
        for needle in expect:
            assert needle in log, f"{needle!r} not in the host log"
        # The app itself stays up and usable: calls fail with a clear state.
        err = app.session.call_error("rpc.discover")
        assert err["kind"] == "not_running", err
        # No dialog for a grant that cannot be made: refused at once, no window opened.
        pick = app.session.invoke_raw("pick_file_for_ingest")
        assert pick.get("err", {}).get("kind") == "not_running", pick
        assert "Choose a file to ingest" not in x_window_titles(display)
    finally:
        app.close()
    assert wait_until(lambda: not pid_alive(app.pid), 15, "the app to exit")
