"""The Tauri app's policy files against what its frontend uses, without building anything.

* ``capabilities/default.json`` grants exactly what ``src/main.ts`` (through
  ``src/sidecar-client.ts`` and the plugin's guest-js) uses: the sidecar methods in the
  ``sidecar:allow-call`` allow-list, the plugin's other commands, the app's own commands, the
  core permissions; no other plugin's permission.
* The plugin's ready-made permissions (``tauri-plugin-sidecar/permissions/``): ``default``
  is status, the logs path and discovery only, ``call-read-only`` is the read-only console
  (``db.query`` pinned to ``allow_write: false``), and no ready-made entry names or covers a
  privileged method (the host crate's list, every ``test.*`` method the sidecar registers).
* ``tauri.conf.json``: ``withGlobalTauri`` off, a CSP without ``unsafe-inline``/``unsafe-eval``,
  and an ``index.html`` that needs neither (no inline script, style or handler).

The running app is checked by ``test_tauri_e2e.py``; this file runs in every pytest stage.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHELL = REPO / "tauri-shell"
APP = SHELL / "src-tauri"
PLUGIN = SHELL / "tauri-plugin-sidecar"

# The calls main.ts makes through sidecar-client.ts: call("db.query", ...), call<T>("jobs.list", ...).
CALL = re.compile(r"\bcall(?:<[^(]*?>)?\(\s*\"([^\"]+)\"")
INVOKE = re.compile(r"\binvoke(?:<[^(]*?>)?\(\s*\"([^\"]+)\"")
# A guest-js function and the plugin command it sends: `export function status(): ... command<...>("status")`.
GUEST_FUNCTION = re.compile(r"^export (?:async )?function (\w+)\b.*?\bcommand<.*?>\(\s*\"(\w+)\"", re.S)


def capability() -> dict[str, Any]:
    return json.loads((APP / "capabilities" / "default.json").read_text())


def sidecar_call_entry(cap: dict[str, Any]) -> dict[str, Any]:
    entries = [p for p in cap["permissions"] if isinstance(p, dict) and p["identifier"] == "sidecar:allow-call"]
    assert len(entries) == 1, entries
    return entries[0]


def ready_made() -> dict[str, dict[str, Any]]:
    """The plugin's hand-written permissions (permissions/*.toml, not the generated ones) and its default set."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((PLUGIN / "permissions").glob("*.toml")):
        data = tomllib.loads(path.read_text())
        found |= {p["identifier"]: p for p in data.get("permission", [])}
        found |= {s["identifier"]: s for s in data.get("set", [])}
        if "default" in data:
            found["default"] = data["default"]
    return found


def guest_commands() -> dict[str, str]:
    """guest-js function name -> the plugin command it invokes (``status`` -> ``status``)."""
    text = (PLUGIN / "guest-js" / "index.ts").read_text()
    chunks = re.split(r"^(?=export )", text, flags=re.M)  # one chunk per exported declaration
    return dict(found.groups() for chunk in chunks if (found := GUEST_FUNCTION.match(chunk)))


def frontend() -> str:
    """Every module of the page: main.ts and the panels it imports, sidecar-client.ts, and the
    plugin's guest-js client they call through (its type tests are not part of the page)."""
    modules = [*sorted((SHELL / "src").glob("*.ts")), PLUGIN / "guest-js" / "index.ts"]
    return "".join(path.read_text() for path in modules)


def privileged_fixed() -> tuple[set[str], set[str]]:
    """The host crate's fixed lists (PRIVILEGED_METHODS, PRIVILEGED_NAMESPACES) from its source."""
    source = (SHELL / "sidecar-host" / "src" / "policy.rs").read_text()

    def strings(name: str) -> set[str]:
        found = re.search(rf"pub const {name}: &\[&str\]\s*=\s*&\[(.*?)\];", source, re.S)
        assert found, f"{name} not found in policy.rs"
        return set(re.findall(r"\"([^\"]+)\"", found.group(1)))

    return strings("PRIVILEGED_METHODS"), strings("PRIVILEGED_NAMESPACES")


def registered_methods() -> dict[str, set[str]]:
    """Method names each sidecar/api/*.py module registers."""
    return {
        path.stem: set(re.findall(r"registry\.method\(\s*\"([^\"]+)\"", path.read_text()))
        for path in (REPO / "sidecar" / "api").glob("*.py")
    }


def covers(pattern: str, method: str) -> bool:
    """The host crate's matching rule: exact, "ns.*", or "*"."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return method.startswith(pattern[:-1]) and len(method) > len(pattern) - 1
    return pattern == method


def methods_used_by_the_ui() -> set[str]:
    return set(CALL.findall(frontend()))


def test_the_frontend_parser_sees_the_calls_it_should() -> None:
    # The parser itself: if main.ts's call style changes, this fails before the comparisons lie.
    sample = (
        'await sidecar.call<Job[] | { jobs: Job[] }>("jobs.list", {}); call("db.query"); invoke<X>("sidecar_status")'
    )
    assert CALL.findall(sample) == ["jobs.list", "db.query"]
    assert INVOKE.findall(sample) == ["sidecar_status"]
    assert {"db.query", "jobs.submit", "rpc.discover"} <= methods_used_by_the_ui()


def test_the_capability_grants_exactly_the_methods_the_ui_calls() -> None:
    allowed = {rule["method"] for rule in sidecar_call_entry(capability())["allow"]}
    used = methods_used_by_the_ui()
    assert allowed == used, (
        f"granted but unused: {sorted(allowed - used)}; used but not granted: {sorted(used - allowed)}"
    )
    assert all("*" not in method for method in allowed), "the app's own capability names methods, no wildcards"
    # The UI's console is read-only: db.query is granted with allow_write pinned off.
    pinned = {rule["method"]: rule.get("params") for rule in sidecar_call_entry(capability())["allow"]}
    assert pinned["db.query"] == {"allow_write": False}
    # The UI submits ingests only (a pipeline's SQL would write past the read-only pin).
    assert pinned["jobs.submit"] == {"type": "ingest"}
    assert re.findall(r'call(?:<[^(]*?>)?\("jobs\.submit", \{ type: "([a-z._]+)"', frontend()) == ["ingest"]
    # Schedules the UI creates compact the database, nothing else (the same reason).
    assert pinned["schedules.create"] == {"job": {"type": "maintenance.compact", "payload": {}}}
    assert "schedules.update" not in pinned and "schedules.delete" not in pinned


def test_the_guest_parser_sees_the_commands_it_should() -> None:
    assert guest_commands() == {"call": "call", "status": "status", "restart": "restart", "logsPath": "logs_path"}


def test_the_capability_grants_exactly_the_commands_and_core_permissions_the_ui_uses() -> None:
    text = frontend()
    # The app's own commands (the pickers), invoked by name in sidecar-client.ts.
    expected = {f"allow-{command.replace('_', '-')}" for command in INVOKE.findall(text)}
    # The plugin's commands, through its guest-js functions (sidecar.status(), ...).
    for function, command in guest_commands().items():
        if re.search(rf"\bsidecar\.{function}\(", text):
            expected.add(f"sidecar:allow-{command.replace('_', '-')}")
    # The guest's on*() listeners use the event plugin; closing the window, the window API.
    if re.search(r"\bsidecar\.on[A-Z]\w*\(", text):
        expected |= {"core:event:allow-listen", "core:event:allow-unlisten"}
    if "getCurrentWindow().close()" in text:
        expected.add("core:window:allow-close")
    granted = {p if isinstance(p, str) else p["identifier"] for p in capability()["permissions"]}
    assert granted == expected, (
        f"granted but unused: {sorted(granted - expected)}; used but not granted: {sorted(expected - granted)}"
    )
    assert capability()["windows"] == ["main"]
    # No plugin permission beyond the sidecar's, listening to events and closing the window:
    # no dialog:, fs:, shell:.
    assert {p.split(":")[0] for p in granted if ":" in p} == {"core", "sidecar"}


def test_the_plugin_default_is_status_logs_and_discovery() -> None:
    permissions = ready_made()
    assert set(permissions["default"]["permissions"]) == {"allow-status", "allow-logs-path", "call-discovery"}
    discovery = permissions["call-discovery"]
    assert discovery["commands"]["allow"] == ["call"]
    assert [rule["method"] for rule in discovery["scope"]["allow"]] == ["rpc.discover", "system.ping"]


def test_the_read_only_console_permission() -> None:
    read_only = ready_made()["call-read-only"]
    assert read_only["commands"]["allow"] == ["call"]
    rules = {rule["method"]: rule.get("params") for rule in read_only["scope"]["allow"]}
    expected = {
        "system.ping",
        "system.status",
        "rpc.discover",
        "db.query",
        "db.tables",
        "db.describe",
        "jobs.list",
        "jobs.get",
        "jobs.events",
        "runs.list",
        "runs.get",
        "reports.get",
        "settings.get",
        "secrets.list",
        "files.grants",
    }
    assert set(rules) == expected
    assert rules["db.query"] == {"allow_write": False}
    # Nothing that writes, starts work or changes a setting.
    writers = {"db.export", "jobs.submit", "jobs.cancel", "settings.set", "secrets.set", "secrets.delete"}
    assert not writers & set(rules)


def test_no_ready_made_or_default_entry_covers_a_privileged_method() -> None:
    methods, namespaces = privileged_fixed()
    assert {"system.shutdown", "secrets.get", "files.grant", "files.revoke"} <= methods
    assert {"test", "testing"} <= namespaces
    registered = registered_methods()
    test_only = registered.pop("testing", set())
    assert test_only, "sidecar/api/testing.py registers no method? the parser is broken"
    # Every test-only method the sidecar registers sits in a privileged namespace.
    outside = {m for m in test_only if m.split(".")[0] not in namespaces}
    assert not outside, f"test-only methods outside the privileged namespaces: {sorted(outside)}"
    privileged = methods | test_only
    entries = [
        (name, rule["method"]) for name, p in ready_made().items() for rule in p.get("scope", {}).get("allow", [])
    ]
    entries += [("default.json", rule["method"]) for rule in sidecar_call_entry(capability())["allow"]]
    for where, pattern in entries:
        for method in privileged:
            assert not covers(pattern, method), f"{where}: {pattern!r} covers the privileged {method}"
        for namespace in namespaces:
            assert not covers(pattern, f"{namespace}.x"), f"{where}: {pattern!r} covers {namespace}.*"


def test_global_tauri_is_off_and_the_csp_is_tight() -> None:
    conf = json.loads((APP / "tauri.conf.json").read_text())
    assert conf["app"]["withGlobalTauri"] is False
    csp = conf["app"]["security"]["csp"]
    assert isinstance(csp, dict)
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert set(csp["connect-src"].split()) == {"ipc:", "http://ipc.localhost"}
    everything = " ".join(csp.values())
    for loose in ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "data:", "blob:", "*", "http:", "https:"):
        assert loose not in everything.split(), f"the CSP allows {loose}"
    # The page needs no exception: no inline script, style attribute or inline handler.
    html = (SHELL / "src" / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="main.js">']
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html)
    assert not re.search(r"\.style\.|innerHTML|insertAdjacentHTML|eval\(|new Function", frontend())
