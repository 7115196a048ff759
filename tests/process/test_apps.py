"""App packages against a real sidecar: loaded from the command line and from entry points,
served like built-ins (discovery, errors, cancel, host-only, jobs, hooks), and refused cleanly.

The app is tests/fixtures/apps/probe_app.py, a real package on PYTHONPATH; the entry-point
test installs it the way pip does (a dist-info folder with entry_points.txt on sys.path).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import pytest

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import collecting
from tests.support import REPO, check_stdout, run_once, running_sidecar, sidecar_env, under_test_is_binary

pytestmark = pytest.mark.anyio

FIXTURES = REPO / "tests" / "fixtures" / "apps"
PROBE = "--app-module=probe=probe_app:register"


def app_env(*paths: Path, **extra: str) -> dict[str, str]:
    env = sidecar_env(**extra)
    env["PYTHONPATH"] = os.pathsep.join([str(FIXTURES), *map(str, paths), env["PYTHONPATH"]])
    return env


skip_binary = pytest.mark.skipif(under_test_is_binary(), reason="the probe app is loaded from source")


@skip_binary
async def test_app_methods_are_served_like_builtins(data_dir: Path) -> None:
    async with running_sidecar(data_dir, PROBE, env=app_env()) as sidecar:
        assert await sidecar.call("probe.echo", {"text": "hi"}) == {"text": "hi"}
        assert await sidecar.call("probe.echo", ["positional"]) == {"text": "positional"}
        with pytest.raises(RpcCallError) as bad:
            await sidecar.call("probe.echo", {"text": 5})
        assert bad.value.code == -32602 and bad.value.data["path"] == "$.text"
        with pytest.raises(RpcCallError) as failed:
            await sidecar.call("probe.fail")
        assert failed.value.code == -32000 and failed.value.kind == "probe_refused"
        assert failed.value.data["reason"] == "asked to"

        doc = await sidecar.call("rpc.discover")
        methods = {m["name"]: m for m in doc["methods"]}
        assert methods["probe.echo"]["x-app"] == "probe" and methods["probe.echo"]["summary"] == "Echo the text."
        assert methods["probe.secret"]["x-host-only"] is True
        assert "x-app" not in methods["system.ping"]
        assert "probe.half" not in methods

        # Host-only: the host's key is checked before the handler runs.
        with pytest.raises(RpcCallError) as refused:
            await sidecar.call("probe.secret", {"host_key": "x" * 64})
        assert refused.value.kind == "host_only"
        assert await sidecar.call_host("probe.secret") == "for the host"

        # Cancel: rpc.cancel reaches the app's handler as a cancellation.
        request_id = sidecar.next_request_id
        async with anyio.create_task_group() as tg:

            async def slow() -> None:
                with pytest.raises(RpcCallError) as cancelled:
                    await sidecar.call("probe.slow")
                assert cancelled.value.code == -32001 and cancelled.value.kind == "cancelled"

            tg.start_soon(slow)
            await anyio.sleep(0.3)
            await sidecar.notify("rpc.cancel", {"id": request_id})
        assert (data_dir / "probe-cancelled").read_text() == str(request_id)
        assert (await sidecar.call("system.ping"))["pong"] is True
    # The hooks ran: startup after READY with the typed state, shutdown at the stop.
    assert (data_dir / "probe-started").read_text() == "PlutoDuck"
    assert (data_dir / "probe-stopped").read_text() == "bye"


@skip_binary
async def test_app_job_type_runs_in_the_pool_with_progress_and_cancel(data_dir: Path) -> None:
    async with running_sidecar(data_dir, PROBE, env=app_env()) as sidecar, collecting(sidecar) as notes:
        short = await sidecar.call("jobs.submit", {"type": "probe.sleep", "payload": {"seconds": 0.5}})
        done = await notes.finished(short["job_id"], timeout=10)
        assert done.params["status"] == "succeeded" and done.params["result"] == {"slept": 0.5}
        assert notes.of("job.progress", short["job_id"]), "no job.progress from an app job"
        with pytest.raises(RpcCallError) as bad:
            await sidecar.call("jobs.submit", {"type": "probe.sleep", "payload": {"seconds": "long"}})
        assert bad.value.code == -32602 and bad.value.data["path"] == "$.payload.seconds"
        with pytest.raises(RpcCallError) as unknown:
            await sidecar.call("jobs.submit", {"type": "probe.nothing", "payload": {}})
        assert "probe.sleep" in unknown.value.data["known"]

        long = await sidecar.call("jobs.submit", {"type": "probe.sleep", "payload": {"seconds": 60}})
        await notes.status(long["job_id"], "running")
        answer = await sidecar.call("jobs.cancel", {"job_id": long["job_id"]})
        assert answer["canceled"] is True and answer["job"]["status"] == "canceled"


@skip_binary
async def test_entry_points_are_scanned_from_source(data_dir: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "sidecar_probe-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sidecar-probe\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[sidecar.apps]\nprobe = probe_app:register\n")
    async with running_sidecar(data_dir, env=app_env(site)) as sidecar:
        assert await sidecar.call("probe.echo", {"text": "found"}) == {"text": "found"}
    log = [json.loads(line) for line in (data_dir / "logs" / "sidecar.log").read_text().splitlines()]
    assert any(
        entry["msg"] == "apps loaded" and entry["apps"] == {"probe": "1.2.3"} and entry["from"] == "entry points"
        for entry in log
    )
    # An explicit empty list turns the scan off.
    async with running_sidecar(data_dir, env=app_env(site, SIDECAR_APP_MODULES="")) as sidecar:
        assert "probe.echo" not in {m["name"] for m in (await sidecar.call("rpc.discover"))["methods"]}


@skip_binary
@pytest.mark.parametrize(
    ("modules", "says"),
    [
        (["probe_app:register_raises"], "raised RuntimeError: cannot reach the licence server"),
        (["probe_app:register_method_clash"], "method 'system.ping' is already registered by a built-in method"),
        (["probe_app:register_job_clash"], "job type 'ingest' is built in"),
        (
            ["probe_app:register", "other=probe_app:register_other"],
            "method 'probe.echo' is already registered by app 'probe_app'",
        ),
        (["probe_app:no_such_function"], "probe_app has no no_such_function"),
        (["no_such_app:register"], "cannot import no_such_app"),
        (["not a target"], "expected [NAME=]MODULE:FUNCTION"),
    ],
)
def test_an_app_that_cannot_load_is_a_startup_error(data_dir: Path, modules: list[str], says: str) -> None:
    args = [f"--app-module={module}" for module in modules]
    done = run_once(data_dir, b"", *args, env=app_env())
    assert done.returncode == 6, done.stderr.decode()
    lines = check_stdout(done.stdout)
    assert [line.split()[0] for line in lines] == ["BOOT", "SHUTDOWN"] and lines[1] == "SHUTDOWN reason=error"
    errors = [json.loads(line) for line in done.stderr.decode().splitlines() if line.startswith("{")]
    errors = [entry for entry in errors if entry["level"] == "error"]
    assert len(errors) == 1, errors
    assert errors[0]["exit_status"] == 6 and says in errors[0]["msg"], errors[0]
