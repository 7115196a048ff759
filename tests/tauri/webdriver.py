"""Driving the compiled Tauri app through tauri-driver + WebKitWebDriver under Xvfb.

Shared by the UI suite (tests/tauri/test_tauri_e2e.py, which adds pytest's skip/fail on a
missing prerequisite) and bench/app_roundtrip.py (which times calls from the page): a
private Xvfb display, a tiny WebDriver client (no Selenium: the few commands used are
plain HTTP) and ``AppDriver``, tauri-driver plus one session, i.e. one running app.
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
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SIDECAR_SHELL_ARTIFACTS", REPO / "dist" / "tauri-e2e" / "screenshots"))
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def tauri_driver() -> str | None:
    """tauri-driver on PATH or in ~/.cargo/bin (cargo install tauri-driver --locked)."""
    found = shutil.which("tauri-driver")
    if found:
        return found
    candidate = Path.home() / ".cargo" / "bin" / "tauri-driver"
    return str(candidate) if candidate.exists() else None


# ---------------------------------------------------------------- processes


def webview_env(data_dir: Path, root: Path) -> dict[str, str]:
    """The app's environment: its data dir, and a private HOME with the XDG folders (where WebKit
    keeps its caches) beside it under ``root``, so a run can tell whether anything wrote there."""
    home, xdg = root / "home", root / "xdg"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "SIDECAR_SHELL_DATA_DIR": str(data_dir),
        "NO_AT_BRIDGE": "1",
        "WEBKIT_DISABLE_COMPOSITING_MODE": "1",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(xdg / "cache"),
        "XDG_CONFIG_HOME": str(xdg / "config"),
        "XDG_DATA_HOME": str(xdg / "data"),
        "XDG_STATE_HOME": str(xdg / "state"),
    }


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
        return int(s.getsockname()[1])


@contextmanager
def private_xvfb() -> Iterator[str]:
    """A private Xvfb (``-displayfd``: it picks a free display number), stopped on leaving."""
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
    try:
        if not number.strip():
            raise RuntimeError("Xvfb did not report a display number")
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
        return str(self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT])

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

    def invoke_raw(self, command: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a Tauri command from a script in the page: ``{"ok": value}`` or ``{"err": error}``.

        The app runs with withGlobalTauri: false, so there is no ``window.__TAURI__``; any
        script in the page still reaches the IPC through ``window.__TAURI_INTERNALS__``
        (what @tauri-apps/api uses). That is what a hostile script would do, so it is what
        the tests do: the capability, not the missing global, is the boundary.
        """
        script = (
            "const done = arguments[arguments.length - 1];"
            "window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])"
            ".then(v => done({ok: v === undefined ? null : v}), e => done({err: e}));"
        )
        out: dict[str, Any] = self.cmd("POST", "/execute/async", {"script": script, "args": [command, args or {}]})
        return out

    def invoke(self, command: str, args: dict[str, Any] | None = None) -> Any:
        """Call a Tauri command from the page (for facts the UI does not print)."""
        out = self.invoke_raw(command, args)
        if "err" in out:
            raise WebDriverError(f"{command}: {out['err']}")
        return out["ok"]

    def call_error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a sidecar method from the page through the plugin's call command; it must fail: its error object."""
        out = self.invoke_raw("plugin:sidecar|call", {"method": method, "params": params})
        assert "err" in out, f"{method} {params} was answered: {out.get('ok')!r}"
        err = out["err"]
        assert isinstance(err, dict), f"{method}: not a command error: {err!r}"
        return err

    def listen(self, event: str, into: str) -> None:
        """Collect the payloads of ``event`` into ``window[into]`` (as @tauri-apps/api's listen
        does); returns once the listener is registered."""
        script = (
            "const [event, into, done] = arguments; window[into] = [];"
            "const cb = window.__TAURI_INTERNALS__.transformCallback(e => window[into].push(e.payload));"
            "window.__TAURI_INTERNALS__.invoke('plugin:event|listen', {event, target: {kind: 'Any'}, handler: cb})"
            ".then(() => done(true), e => done({err: e}));"
        )
        out = self.cmd("POST", "/execute/async", {"script": script, "args": [event, into]})
        assert out is True, f"listen {event}: {out!r}"


class AppDriver:
    """tauri-driver plus one session, i.e. one running app (``binary``, started by tauri-driver
    with ``env`` on ``display``; tauri-driver's log goes to ``tmp``/tauri-driver.log)."""

    session: Session

    def __init__(self, binary: Path, driver: str, env: dict[str, str], display: str, tmp: Path) -> None:
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
        return int(self.session.invoke("plugin:sidecar|status")["pid"])

    def sidecar_pids(self) -> set[int]:
        """The spawned pid and the engine's own pid (they differ under a onefile bootstrap)."""
        status = self.session.invoke("plugin:sidecar|status")
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
