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

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHELL = REPO / "tauri-shell"
FIXTURES = REPO / "tests" / "fixtures" / "bad_sidecars"
REQUIRED = os.environ.get("SIDECAR_SHELL_E2E") == "1"
ARTIFACTS = Path(os.environ.get("SIDECAR_SHELL_ARTIFACTS", REPO / "dist" / "tauri-e2e" / "screenshots"))
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

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


def tauri_driver() -> str | None:
    found = shutil.which("tauri-driver")
    if found:
        return found
    candidate = Path.home() / ".cargo" / "bin" / "tauri-driver"
    return str(candidate) if candidate.exists() else None


# ---------------------------------------------------------------- processes


def pid_alive(pid: int) -> bool:
    """True if the pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def pids_of_exe(exe: Path) -> list[int]:
    """Processes whose executable is ``exe``."""
    out = []
    target = exe.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "exe")) == target:
                out.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in out if pid_alive(pid)]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """An X display: the caller's, or a private Xvfb."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        _missing("Xvfb is not installed (apt-get install xvfb xauth)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read, 16)
        if not chunk:
            break
        number += chunk
    os.close(read)
    if not number.strip():
        proc.kill()
        pytest.fail("Xvfb did not report a display number")
    try:
        yield f":{number.decode().strip()}"
    finally:
        proc.terminate()
        proc.wait(5)


# ---------------------------------------------------------------- a tiny WebDriver client


class WebDriverError(RuntimeError):
    pass


class Session:
    """One WebDriver session (one app instance) behind tauri-driver."""

    def __init__(self, base: str, session_id: str) -> None:
        self.base = base
        self.id = session_id

    @staticmethod
    def request(method: str, url: str, body: Any = None, timeout: float = 60, retries: int = 3) -> Any:
        """One WebDriver command. A dropped connection is retried: tauri-driver reuses a
        keep-alive connection to WebKitWebDriver that the latter may have closed, and then
        fails the request without sending it (issue-log 0008)."""
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(retries + 1):
            req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    return json.loads(resp.read() or b"null").get("value")
            except urllib.error.HTTPError as exc:
                raise WebDriverError(f"{method} {url}: {exc.code} {exc.read()[:500]!r}") from None
            except (ConnectionError, http.client.RemoteDisconnected) as exc:
                if attempt == retries:
                    raise WebDriverError(f"{method} {url}: connection dropped {retries + 1} times: {exc!r}") from None
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def cmd(self, method: str, path: str, body: Any = None) -> Any:
        return self.request(method, f"{self.base}/session/{self.id}{path}", body)

    def js(self, script: str, *args: Any) -> Any:
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css: str) -> str:
        return self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css: str) -> None:
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        self.cmd("POST", f"/element/{element}/clear", {})
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def text(self, css: str) -> str:
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css) or ""

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))
        return path

    def state(self) -> str:
        return self.text("#state")

    def wait_state(self, want: str, timeout: float = 60) -> str:
        wait_until(lambda: self.state() == want, timeout, f"state {want!r} (detail: {self.text('#state-detail')!r})")
        return self.text("#state-detail")

    def invoke(self, command: str, args: dict[str, Any] | None = None) -> Any:
        """Call a Tauri command from the page (for facts the UI does not print)."""
        script = (
            "const done = arguments[arguments.length - 1];"
            "window.__TAURI__.core.invoke(arguments[0], arguments[1])"
            ".then(v => done({ok: v}), e => done({err: e}));"
        )
        out = self.cmd("POST", "/execute/async", {"script": script, "args": [command, args or {}]})
        if "err" in out:
            raise WebDriverError(f"{command}: {out['err']}")
        return out["ok"]


class App:
    """tauri-driver plus one session, i.e. one running app."""

    def __init__(self, env: dict[str, str], display: str, tmp: Path) -> None:
        binary = app_binary()
        if not binary.exists():
            _missing(f"the app is not built ({binary}); run tauri-shell/scripts/e2e.sh or cargo build -p sidecar-shell")
        driver = tauri_driver()
        if driver is None:
            _missing("tauri-driver is not installed (cargo install tauri-driver --locked)")
        if not shutil.which("WebKitWebDriver"):
            _missing("WebKitWebDriver is not installed (apt-get install webkit2gtk-driver)")
        self.binary = binary
        port, native = free_port(), free_port()
        full_env = {**os.environ, "DISPLAY": display, **env}
        self.driver_log = tmp / "tauri-driver.log"
        self.driver = subprocess.Popen(
            [driver, "--port", str(port), "--native-port", str(native)],
            env=full_env,
            stdout=self.driver_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{port}"
        try:
            self._start_session(binary, port, native)
        except BaseException:
            self._stop_driver()  # never leave a driver (and its app) behind
            raise

    def _start_session(self, binary: Path, port: int, native: int) -> None:
        # tauri-driver listens at once but proxies to WebKitWebDriver, which starts a moment
        # later: a request sent before the native port listens is dropped (issue-log 0008).
        wait_until(lambda: self._listening(port), 20, "tauri-driver to listen")
        wait_until(lambda: self._listening(native), 20, "WebKitWebDriver (the native driver) to listen")
        before = set(pids_of_exe(binary))  # other apps may still be running (a module's fixture)
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": str(binary)}}}}
        value = Session.request("POST", f"{self.base}/session", caps, timeout=90)
        self.session = Session(self.base, value["sessionId"])
        wait_until(
            lambda: self.session.js("return document.body && document.body.dataset.loaded") == "true",
            30,
            "the UI to load",
        )
        self.pid = wait_until(lambda: next(iter(set(pids_of_exe(binary)) - before), None), 10, "the app process")

    def _listening(self, port: int) -> bool:
        if self.driver.poll() is not None:
            raise AssertionError(f"tauri-driver exited: {self.driver_log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def sidecar_pid(self) -> int:
        return int(self.session.invoke("sidecar_status")["pid"])

    def sidecar_pids(self) -> set[int]:
        """The spawned pid and the engine's own pid (they differ under a onefile bootstrap)."""
        status = self.session.invoke("sidecar_status")
        return {int(status["pid"]), int(status["engine_pid"] or status["pid"])}

    def close(self) -> None:
        try:
            Session.request("DELETE", f"{self.base}/session/{self.session.id}", timeout=20, retries=0)
        except Exception:
            pass
        self._stop_driver()

    def _stop_driver(self) -> None:
        if self.driver.poll() is None:
            os.killpg(self.driver.pid, signal.SIGTERM)
            try:
                self.driver.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.driver.pid, signal.SIGKILL)
                self.driver.wait(5)


def all_gone(pids: set[int]) -> bool:
    return not any(pid_alive(pid) for pid in pids)


def base_env(tmp: Path) -> dict[str, str]:
    return {
        "SIDECAR_SHELL_DATA_DIR": str(tmp / "data"),
        "SIDECAR_TEST_METHODS": "1",
        "SIDECAR_SHELL_HEARTBEAT_S": "1",
        "NO_AT_BRIDGE": "1",
        "WEBKIT_DISABLE_COMPOSITING_MODE": "1",
    }


# ---------------------------------------------------------------- the happy path, one app


@pytest.fixture(scope="module")
def app(display: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("tauri-app")
    running = App(base_env(tmp), display, tmp)
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
    status = app.session.invoke("sidecar_status")
    assert status["state"]["state"] == "ready"
    paths = app.session.invoke("sidecar_logs_path")
    assert Path(paths["dir"]) == app.tmp / "data" / "logs"  # type: ignore[attr-defined]
    assert app.session.text("#logs-path") == paths["dir"]
    # Live logs reach the page.
    wait_until(lambda: "READY after" in app.session.text("#logs"), 10, "host log lines in the UI")


def test_notifications_reach_the_page(app: App) -> None:
    app.session.js(
        "window.__notes = [];"
        "window.__TAURI__.event.listen('sidecar:notification', e => window.__notes.push(e.payload));"
    )
    answer = app.session.invoke("sidecar_call", {"method": "test.notify", "params": {"count": 5}})
    assert answer == 5
    notes = wait_until(
        lambda: (n := app.session.js("return window.__notes")) and len(n) >= 5 and n, 10, "5 notifications"
    )
    assert [n["params"]["seq"] for n in notes] == [0, 1, 2, 3, 4]
    assert {n["method"] for n in notes} == {"test.note"}


def test_command_errors_are_typed(app: App) -> None:
    with pytest.raises(WebDriverError) as info:
        app.session.invoke("sidecar_call", {"method": "no.such.method"})
    assert "rpc_error" in str(info.value) and "method_not_found" in str(info.value)


def engine_methods(app: App) -> set[str]:
    doc = app.session.invoke("sidecar_call", {"method": "rpc.discover"})
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


def test_ingest_job_shows_progress_and_can_be_cancelled(app: App) -> None:
    methods = engine_methods(app)
    missing = {"jobs.submit", "jobs.cancel"} - methods
    if missing:
        pytest.skip(f"{sorted(missing)} not in this sidecar's rpc.discover yet (the engine, issue 5)")
    # Many files (one real CSV and links to it) so the ingest runs for several seconds.
    parts = app.tmp / "parts"  # type: ignore[attr-defined]
    parts.mkdir()
    first = parts / "part-000.csv"
    with first.open("w") as f:
        f.write("id,name,value,note\n")
        f.writelines(f"{i},name-{i % 977},{i * 0.5},note {i % 13}\n" for i in range(1_000_000))
    for n in range(1, 60):
        (parts / f"part-{n:03}.csv").symlink_to(first)
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
    session.screenshot("05b-schedule-notices")
    session.invoke("sidecar_call", {"method": "schedules.delete", "params": {"schedule_id": sid}})


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


def test_closing_the_window_stops_the_sidecar_gracefully(app: App) -> None:
    """What the window manager's close button does: CloseRequested -> stop sequence -> exit."""
    sidecars = app.sidecar_pids()
    app_pid = app.pid
    app.session.screenshot("06-before-close")
    try:
        app.session.js("window.__TAURI__.window.getCurrentWindow().close(); return true;")
    except WebDriverError:
        pass  # the session may die with the window
    wait_until(lambda: not pid_alive(app_pid), 20, f"the app {app_pid} to exit after its window closed")
    assert all_gone(sidecars), f"sidecar {sidecars} outlived the app"
    log = (app.tmp / "data" / "logs" / "sidecar-host.log").read_text()  # type: ignore[attr-defined]
    tail = log[log.index("state stopping: the main window was closed") :]
    assert "stop: system.shutdown" in tail and "stopped by step ShutdownRequest" in tail, tail[-2000:]


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_killing_the_app_leaves_no_sidecar(how: str, display: str, tmp_path: Path) -> None:
    """SIGTERM: the app's signal handler runs the stop sequence. SIGKILL: the sidecar notices on its own."""
    app = App(base_env(tmp_path), display, tmp_path)
    try:
        app.session.wait_state("ready")
        sidecars = app.sidecar_pids()
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
        with pytest.raises(WebDriverError) as info:
            app.session.invoke("sidecar_call", {"method": "system.ping"})
        assert "not_running" in str(info.value)
    finally:
        app.close()
    assert wait_until(lambda: not pid_alive(app.pid), 15, "the app to exit")
