"""Secrets through the real OS keychain (a Secret Service), never on disk, never a fallback.

The round-trip test needs a reachable, unlocked Secret Service: run the suite
under ``scripts/with-secret-service.sh``. Without one it is skipped with the
reason, unless ``SIDECAR_REQUIRE_SECRET_SERVICE=1`` (CI sets it): then it fails.
The keychain_unavailable tests need nothing and always run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import collecting, files_containing, write_csv
from tests.support import running_sidecar, sidecar_env

pytestmark = pytest.mark.anyio

_PROBE = """
import keyring, uuid
backend = keyring.get_keyring()
name = type(backend).__module__ + "." + type(backend).__qualname__
if not name.startswith("keyring.backends.SecretService"):
    raise SystemExit("keyring chose " + name)
service, user = "sidecar-probe-" + uuid.uuid4().hex, "probe"
keyring.set_password(service, user, "v")
assert keyring.get_password(service, user) == "v"
keyring.delete_password(service, user)
"""


def _secret_service_problem() -> str | None:
    """None when a working Secret Service is reachable, else what is wrong."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)"
    probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        return "Secret Service unusable: " + (probe.stderr.strip().splitlines() or [probe.stdout.strip()])[-1]
    return None


@pytest.fixture(scope="module")
def secret_service() -> None:
    problem = _secret_service_problem()
    if problem is None:
        return
    if os.environ.get("SIDECAR_REQUIRE_SECRET_SERVICE") == "1":
        pytest.fail(f"SIDECAR_REQUIRE_SECRET_SERVICE=1 but {problem}")
    pytest.skip(f"{problem}; run the tests under scripts/with-secret-service.sh")


def _app_name() -> str:
    """A keychain service of our own, so runs never see each other's (or a user's) secrets."""
    return "SidecarTest" + uuid.uuid4().hex[:12]


async def test_secrets_round_trip_and_never_reach_the_disk(
    secret_service: None, data_dir: Path, tmp_path: Path
) -> None:
    token = "tok-" + uuid.uuid4().hex
    source_path = str(write_csv(tmp_path / f"source-{uuid.uuid4().hex}.csv", 40))
    values = {"api_token": token, "csv_source": source_path}
    app = _app_name()
    failing = {
        "name": "uses a secret",
        "steps": [
            {"name": "length", "sql": "SELECT length({{secret.api_token}}) AS n"},
            {"name": "leaky error", "sql": "SELECT {{secret.api_token}}::INTEGER AS boom"},
        ],
    }
    working = {"name": "secret ok", "steps": [{"name": "length", "sql": "SELECT length({{ secret.api_token }}) AS n"}]}
    async with (
        running_sidecar(data_dir, "--app-name", app, "--log-level", "debug") as sidecar,
        collecting(sidecar) as notes,
    ):
        await sidecar.grant(tmp_path)  # csv_source names a file there
        for name, value in values.items():
            assert await sidecar.call("secrets.set", {"name": name, "value": value}) == {"name": name, "created": True}
        assert (await sidecar.call("secrets.set", {"name": "api_token", "value": token}))["created"] is False
        assert await sidecar.call_host("secrets.get", {"name": "api_token"}) == {"name": "api_token", "value": token}
        assert (await sidecar.call("secrets.list"))["names"] == ["api_token", "csv_source"]

        # An ingest whose source comes from the keychain.
        job = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source_secret": "csv_source", "table": "t"}}
        )
        done = await notes.finished(job["job_id"])
        assert done.params["status"] == "succeeded" and done.params["result"]["rows"] == 40
        stored = await sidecar.call("jobs.get", {"job_id": job["job_id"]})
        assert stored["payload"] == {"source_secret": "csv_source", "table": "t"}

        # Pipelines reference secrets by name; values are substituted only inside the engine.
        ok = await sidecar.call("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": working}})
        ran = await notes.finished(ok["job_id"])
        assert ran.params["status"] == "succeeded", ran.params["error"]
        preview = (await sidecar.call("reports.get", {"run_id": ok["run_id"]}))["metadata"]["preview"]
        assert preview["rows"] == [[len(token)]]
        bad = await sidecar.call("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": failing}})
        failed = await notes.finished(bad["job_id"])
        assert failed.params["error"]["kind"] == "conversion"
        assert token not in json.dumps(failed.params) and "***" in failed.params["error"]["message"]
        report = (await sidecar.call("reports.get", {"run_id": bad["run_id"]}))["metadata"]
        assert report["steps"][1]["sql"] == failing["steps"][1]["sql"]  # the reference, not the value

        missing = await sidecar.call(
            "jobs.submit",
            {
                "type": "pipeline.run",
                "payload": {"pipeline": {"name": "m", "steps": [{"name": "s", "sql": "SELECT {{secret.nope}}"}]}},
            },
        )
        lost = await notes.finished(missing["job_id"])
        assert lost.params["error"]["kind"] == "secret_not_found" and lost.params["error"]["class"] == "permission"

        assert await sidecar.call("secrets.delete", {"name": "csv_source"}) == {"name": "csv_source", "deleted": True}
        assert await sidecar.call("secrets.delete", {"name": "csv_source"}) == {"name": "csv_source", "deleted": False}
        with pytest.raises(RpcCallError) as gone:
            await sidecar.call_host("secrets.get", {"name": "csv_source"})
        assert gone.value.kind == "secret_not_found"
        assert (await sidecar.call("secrets.list"))["names"] == ["api_token"]
        with pytest.raises(RpcCallError) as bad_name:
            await sidecar.call("secrets.set", {"name": "../x", "value": "v"})
        assert bad_name.value.code == -32602
        await sidecar.call("secrets.delete", {"name": "api_token"})
        stderr = "\n".join(sidecar.stderr_lines)

    # After a full scenario, no secret value is anywhere in the data dir (database, job store,
    # reports, settings, logs) nor in what the sidecar wrote to stderr.
    for value in values.values():
        assert files_containing(data_dir, value.encode()) == [], value
        assert value not in stderr
    assert files_containing(data_dir, token.encode()) == []
    assert (data_dir / "logs" / "sidecar.log").stat().st_size > 0


async def test_no_keychain_is_an_error_never_a_plaintext_fallback(data_dir: Path) -> None:
    value = "plain-" + uuid.uuid4().hex
    env = sidecar_env(PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    async with running_sidecar(data_dir, "--app-name", _app_name(), env=env) as sidecar, collecting(sidecar) as notes:
        for method, params in (
            ("secrets.set", {"name": "db_url", "value": value}),
            ("secrets.get", {"name": "db_url", "host_key": sidecar.host_key}),
            ("secrets.list", None),
            ("secrets.delete", {"name": "db_url"}),
        ):
            with pytest.raises(RpcCallError) as failed:
                await sidecar.call(method, params) if params else await sidecar.call(method)
            assert failed.value.code == -32000 and failed.value.kind == "keychain_unavailable", method
            assert failed.value.data["backend"] == "keyring.backends.fail.Keyring"
        job = await sidecar.call(
            "jobs.submit",
            {
                "type": "pipeline.run",
                "payload": {"pipeline": {"name": "p", "steps": [{"name": "s", "sql": "SELECT {{secret.db_url}}"}]}},
            },
        )
        done = await notes.finished(job["job_id"])
        assert done.params["error"]["kind"] == "keychain_unavailable" and done.params["error"]["class"] == "permission"
    assert files_containing(data_dir, value.encode()) == []
    assert not [p for p in data_dir.rglob("*") if "keyring" in p.name.lower() or "secret" in p.name.lower()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Secret Service is the Linux keychain")
async def test_no_dbus_session_means_keychain_unavailable(data_dir: Path) -> None:
    env = sidecar_env()
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env.pop("PYTHON_KEYRING_BACKEND", None)
    async with running_sidecar(data_dir, "--app-name", _app_name(), env=env) as sidecar:
        with pytest.raises(RpcCallError) as failed:
            await sidecar.call("secrets.set", {"name": "token", "value": "never-stored"})
        assert failed.value.kind == "keychain_unavailable"
        assert (await sidecar.call("system.ping"))["pong"] is True
    assert files_containing(data_dir, b"never-stored") == []
