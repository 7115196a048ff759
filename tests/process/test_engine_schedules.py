"""Schedules against a real sidecar: firing, validation, pause/resume, overlap, a SIGKILL with
due times passing while nothing runs, and the clock jumping under libfaketime.

Clock changes use Debian's ``faketime`` package (libfaketime, preloaded into the sidecar
only): ``FAKETIME_TIMESTAMP_FILE`` holds the offset and is re-read every second, and
``FAKETIME_DONT_FAKE_MONOTONIC=1`` leaves the monotonic clock alone, so writing ``+3600``
into the file is exactly a wall clock set forward an hour (and what a Linux suspend looks
like: the monotonic clock stops while the wall clock runs on). An ``@<date>`` start puts the
sidecar just before a DST change. libfaketime 0.9.10 breaks ``time.sleep`` in that mode
(issue-log 0032); the sidecar's serving path never calls it.

Every test checks that stdout held only protocol lines (``running_sidecar`` does).
"""

from __future__ import annotations

import glob
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sidecar_host import RpcCallError, SidecarClient
from tests.fixtures.engine.support import Note, Notes, collecting
from tests.support import running_sidecar, sidecar_env, wait_gone

pytestmark = pytest.mark.anyio

LONG_QUERY = "SELECT count(*) FROM range(4000000000) t(i) WHERE i % 7 = 3"
COMPACT = {"type": "maintenance.compact", "payload": {}}
SCHEDULE_METHODS = {
    "schedules.create",
    "schedules.get",
    "schedules.list",
    "schedules.update",
    "schedules.delete",
    "schedules.pause",
    "schedules.resume",
    "schedules.run_now",
    "schedules.history",
}


def schedule_notes(notes: Notes, method: str, schedule_id: str, reason: str | None = "any") -> list[Note]:
    return [
        n
        for n in notes.items
        if n.method == method
        and n.params["schedule_id"] == schedule_id
        and (reason == "any" or n.params.get("reason") == reason)
    ]


async def until_notes(
    notes: Notes, method: str, schedule_id: str, count: int, reason: str | None = "any"
) -> list[Note]:
    """Wait until ``count`` such notifications arrived; returns them."""
    await notes.wait(lambda _: len(schedule_notes(notes, method, schedule_id, reason)) >= count, timeout=30)
    return schedule_notes(notes, method, schedule_id, reason)


async def create(sidecar: SidecarClient, **fields: Any) -> dict[str, Any]:
    params = {"name": "test", "trigger": {"every_s": 1}, "job": COMPACT, **fields}
    result: dict[str, Any] = await sidecar.call("schedules.create", params)
    return result


def faketime_env(offset_file: Path, **extra: str) -> dict[str, str]:
    """The sidecar's environment with libfaketime preloaded, its wall clock read from ``offset_file``."""
    libraries = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not libraries:
        pytest.skip("Debian's faketime package (libfaketime) is not installed: apt-get install faketime")
    return sidecar_env(
        LD_PRELOAD=libraries[0],
        FAKETIME_TIMESTAMP_FILE=str(offset_file),
        FAKETIME_CACHE_DURATION="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
        **extra,
    )


# ---------------------------------------------------------------- firing and the record


async def test_an_every_second_schedule_fires_and_its_jobs_run(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        status = await sidecar.call("system.status")
        assert status["scheduler"] == {"running": False, "schedules": 0, "enabled": 0, "next_due_at": None}
        created = await create(sidecar, name="compact every second")
        sid = created["schedule_id"]
        assert len(sid) == 36 and sid[14] == "7"  # a UUIDv7
        assert {k: created[k] for k in ("name", "trigger", "job", "missed", "overlap", "enabled", "origin")} == {
            "name": "compact every second",
            "trigger": {"every_s": 1},
            "job": COMPACT,
            "missed": "skip",
            "overlap": "skip",
            "enabled": True,
            "origin": "local",
        }
        assert created["next_due_at"] > created["created_at"]
        assert (created["last_due_at"], created["last_outcome"], created["last_job_id"]) == (None, None, None)
        fired = await until_notes(notes, "schedule.fired", sid, 3)
        for note in fired[:3]:
            assert note.params["outcome"] == "submitted" and note.params["count"] >= 1
            done = await notes.finished(note.params["job_id"])
            assert done.params["status"] == "succeeded", done.params
        history = await sidecar.call("schedules.history", {"schedule_id": sid, "limit": 1000})
        by_job = {f["job_id"]: f for f in history["firings"]}
        for note in fired[:3]:
            firing = by_job[note.params["job_id"]]
            assert firing["outcome"] == "submitted" and firing["due_at"] == note.params["due_at"]
            assert firing["fired_at"] >= firing["due_at"] and firing["reason"] is None
        ids = [f["firing_id"] for f in history["firings"]]
        assert ids == sorted(ids, reverse=True)  # newest first
        record = await sidecar.call("schedules.get", {"schedule_id": sid})
        assert record["last_outcome"] in ("submitted", "skipped") and record["last_job_id"] is not None
        listed = await sidecar.call("schedules.list")
        assert [s["schedule_id"] for s in listed["schedules"]] == [sid]
        status = await sidecar.call("system.status")
        assert status["scheduler"]["running"] is True
        assert (status["scheduler"]["schedules"], status["scheduler"]["enabled"]) == (1, 1)
        assert status["scheduler"]["next_due_at"] is not None
        # Deleted: no more firings, its history goes, jobs stay.
        assert await sidecar.call("schedules.delete", {"schedule_id": sid}) == {"schedule_id": sid, "deleted": True}
        count = len(schedule_notes(notes, "schedule.fired", sid))
        await anyio.sleep(2.5)
        assert len(schedule_notes(notes, "schedule.fired", sid)) == count
        with pytest.raises(RpcCallError) as gone:
            await sidecar.call("schedules.history", {"schedule_id": sid})
        assert gone.value.code == -32000 and gone.value.kind == "schedule_not_found"
        job = await sidecar.call("jobs.get", {"job_id": fired[0].params["job_id"]})
        assert job["status"] == "succeeded"
        document = await sidecar.call("rpc.discover")
    methods = {m["name"]: m for m in document["methods"]}
    assert set(methods) >= SCHEDULE_METHODS
    assert [p["name"] for p in methods["schedules.create"]["params"]] == [
        "name",
        "trigger",
        "job",
        "missed",
        "overlap",
        "enabled",
    ]


async def test_bad_schedules_get_documented_errors(data_dir: Path) -> None:
    env = sidecar_env(TZ="America/New_York")
    async with running_sidecar(data_dir, env=env) as sidecar:

        async def refused(method: str, params: dict[str, Any]) -> RpcCallError:
            with pytest.raises(RpcCallError) as error:
                await sidecar.call(method, params)
            return error.value

        base = {"name": "n", "trigger": {"every_s": 5}, "job": COMPACT}
        for params, path in [
            ({**base, "trigger": {"every_s": 5, "cron": "* * * * *"}}, "$.trigger"),
            ({**base, "trigger": {}}, "$.trigger"),
            ({**base, "trigger": {"every_s": 0}}, "$.trigger.every_s"),
            ({**base, "trigger": {"every_s": 5, "timezone": "UTC"}}, "$.trigger"),
            ({**base, "missed": "sometimes"}, "$.missed"),
            ({**base, "overlap": "parallel"}, "$.overlap"),
            ({**base, "job": {"type": "vault.scan"}}, "$.job.type"),
            (
                {**base, "job": {"type": "ingest", "payload": {"table": "bad name", "source": "x.csv"}}},
                "$.job.payload.table",
            ),
            ({**base, "job": {"type": "maintenance.compact", "payload": {"fast": True}}}, "$.job.payload"),
            ({"trigger": {"every_s": 5}, "job": COMPACT}, "$"),
        ]:
            error = await refused("schedules.create", params)
            assert error.code == -32602 and error.data["path"] == path, (params, error.data)
        unknown = await refused("schedules.create", {**base, "job": {"type": "vault.scan"}})
        assert unknown.data["known"] == ["export", "ingest", "maintenance.compact", "pipeline.run"]
        bad_cron = await refused("schedules.create", {**base, "trigger": {"cron": "61 * * * *"}})
        assert (bad_cron.code, bad_cron.kind, bad_cron.data["path"]) == (-32000, "invalid_cron", "$.trigger.cron")
        six = await refused("schedules.create", {**base, "trigger": {"cron": "* * * * * *"}})
        assert six.kind == "invalid_cron"
        zone = await refused("schedules.create", {**base, "trigger": {"cron": "0 9 * * *", "timezone": "Mars/Base"}})
        assert (zone.code, zone.kind, zone.data["timezone"]) == (-32000, "invalid_timezone", "Mars/Base")
        missing = "0190b2b2-0000-7000-8000-000000000000"
        for method in ("schedules.get", "schedules.delete", "schedules.pause", "schedules.resume", "schedules.run_now"):
            error = await refused(method, {"schedule_id": missing})
            assert (error.code, error.kind, error.data["schedule_id"]) == (-32000, "schedule_not_found", missing)
        error = await refused("schedules.update", {"schedule_id": missing, "name": "x"})
        assert error.kind == "schedule_not_found"
        # Nothing was created by any of that; a cron without a zone takes the system's.
        assert (await sidecar.call("schedules.list"))["schedules"] == []
        daily = await sidecar.call("schedules.create", {**base, "trigger": {"cron": "0 9 * * *"}})
        assert daily["trigger"] == {"cron": "0 9 * * *", "timezone": "America/New_York"}
        hour = int(daily["next_due_at"][11:13])
        assert hour in (13, 14)  # 09:00 in New York, EDT or EST
        updated = await sidecar.call(
            "schedules.update",
            {"schedule_id": daily["schedule_id"], "trigger": {"cron": "0 9 * * *", "timezone": "Asia/Tokyo"}},
        )
        assert updated["trigger"]["timezone"] == "Asia/Tokyo" and updated["next_due_at"][11:16] == "00:00"
        assert updated["updated_at"] >= daily["updated_at"]


async def test_zones_come_from_tzdata_when_the_system_has_no_database(data_dir: Path) -> None:
    """``PYTHONTZPATH`` empty: zoneinfo may not read the system's database, only the tzdata
    package, which must therefore ship in the binary (as it must for Windows)."""
    env = sidecar_env(PYTHONTZPATH="", TZ="UTC")
    async with running_sidecar(data_dir, env=env) as sidecar:
        record = await sidecar.call(
            "schedules.create",
            {"name": "tokyo", "trigger": {"cron": "30 8 * * *", "timezone": "Asia/Tokyo"}, "job": COMPACT},
        )
        assert record["next_due_at"][11:16] == "23:30"  # 08:30 JST
        with pytest.raises(RpcCallError) as error:
            await sidecar.call(
                "schedules.create",
                {"name": "x", "trigger": {"cron": "0 9 * * *", "timezone": "Nowhere/City"}, "job": COMPACT},
            )
        assert error.value.kind == "invalid_timezone"


# ---------------------------------------------------------------- pause, overlap


async def test_pause_and_resume(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        sid = (await create(sidecar))["schedule_id"]
        await until_notes(notes, "schedule.fired", sid, 1)
        paused = await sidecar.call("schedules.pause", {"schedule_id": sid})
        assert paused["enabled"] is False and paused["next_due_at"] is None
        assert (await sidecar.call("system.status"))["scheduler"]["enabled"] == 0
        fired = len(schedule_notes(notes, "schedule.fired", sid))
        await anyio.sleep(2.5)  # two due times and more pass
        assert len(schedule_notes(notes, "schedule.fired", sid)) == fired, "a paused schedule fired"
        run = await sidecar.call("schedules.run_now", {"schedule_id": sid})  # run_now works while paused
        assert run["type"] == "maintenance.compact" and run["status"] == "queued"
        manual = await notes.wait(lambda n: n.method == "schedule.fired" and n.params.get("reason") == "run_now")
        assert manual.params == {
            "schedule_id": sid,
            "due_at": None,
            "job_id": run["job_id"],
            "outcome": "submitted",
            "count": 0,
            "reason": "run_now",
        }
        resumed = await sidecar.call("schedules.resume", {"schedule_id": sid})
        assert resumed["enabled"] is True and resumed["next_due_at"] is not None
        (skipped,) = await until_notes(notes, "schedule.skipped", sid, 1, reason="paused")
        assert skipped.params["count"] >= 2
        await until_notes(notes, "schedule.fired", sid, fired + 2)  # the run_now one, then on schedule again
        history = (await sidecar.call("schedules.history", {"schedule_id": sid}))["firings"]
        reasons = [f["reason"] for f in history]
        assert "paused" in reasons and "run_now" in reasons
        assert reasons.index("paused") < reasons.index("run_now")  # newest first: resumed after the run_now


async def test_overlap_skip_leaves_one_job_running(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        long_export = {"type": "export", "payload": {"sql": LONG_QUERY}}
        sid = (await create(sidecar, job=long_export))["schedule_id"]
        (first,) = await until_notes(notes, "schedule.fired", sid, 1)
        job_id = first.params["job_id"]
        await notes.status(job_id, "running")
        skipped = await until_notes(notes, "schedule.skipped", sid, 2, reason="overlap")
        assert all(n.params["count"] == 1 for n in skipped)
        exports = (await sidecar.call("jobs.list", {"type": "export"}))["jobs"]
        assert [j["job_id"] for j in exports] == [job_id], "a second job started while the first ran"
        await sidecar.call("jobs.cancel", {"job_id": job_id})
        (_, second) = await until_notes(notes, "schedule.fired", sid, 2)
        await notes.status(second.params["job_id"], "running")
        # Deleting the schedule leaves its running job alone.
        await sidecar.call("schedules.delete", {"schedule_id": sid})
        assert (await sidecar.call("jobs.get", {"job_id": second.params["job_id"]}))["status"] == "running"
        cancel = await sidecar.call("jobs.cancel", {"job_id": second.params["job_id"]})
        assert cancel["canceled"] is True


async def test_overlap_queue_waits_for_the_previous_job(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        long_export = {"type": "export", "payload": {"sql": LONG_QUERY}}
        sid = (await create(sidecar, job=long_export, overlap="queue"))["schedule_id"]
        (first,) = await until_notes(notes, "schedule.fired", sid, 1)
        await notes.status(first.params["job_id"], "running")
        # One firing waits; the due time after it is skipped (at most one waits).
        (skip, *_) = await until_notes(notes, "schedule.skipped", sid, 1, reason="overlap")
        assert len((await sidecar.call("jobs.list", {"type": "export"}))["jobs"]) == 1
        await sidecar.call("jobs.cancel", {"job_id": first.params["job_id"]})
        (_, waited) = await until_notes(notes, "schedule.fired", sid, 2)
        assert waited.params["due_at"] < skip.params["due_at"], "the waiting firing went, not a later one"
        await sidecar.call("schedules.pause", {"schedule_id": sid})
        await notes.status(waited.params["job_id"], "running")
        await sidecar.call("jobs.cancel", {"job_id": waited.params["job_id"]})


# ---------------------------------------------------------------- offline: SIGKILL, then a restart


async def test_sigkill_then_due_times_pass_then_one_record_per_schedule_at_start(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        skip = (await create(sidecar, name="skip"))["schedule_id"]
        catch_up = (await create(sidecar, name="catch up", missed="catch_up"))["schedule_id"]
        await until_notes(notes, "schedule.fired", skip, 2)
        await until_notes(notes, "schedule.fired", catch_up, 2)
        before = {
            sid: (await sidecar.call("schedules.history", {"schedule_id": sid, "limit": 1000}))["firings"]
            for sid in (skip, catch_up)
        }
        os.killpg(sidecar.pid, signal.SIGKILL)  # the whole group: a onefile bootstrap's child too
        assert await sidecar.wait(10) == -signal.SIGKILL
        assert sidecar.boot is not None
        assert wait_gone([int(sidecar.boot.fields["pid"])], 5) == []
    await anyio.sleep(2.5)  # more than two due times pass while no sidecar runs

    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        # No call yet: the engine starts itself after READY (a state store exists) and the
        # scheduler handles the offline due times at once.
        (skipped,) = await until_notes(notes, "schedule.skipped", skip, 1, reason="offline")
        (caught_up,) = await until_notes(notes, "schedule.fired", catch_up, 1, reason="offline")
        assert skipped.params["count"] >= 2 and skipped.params["first_due_at"] < skipped.params["due_at"]
        assert caught_up.params["outcome"] == "caught_up" and caught_up.params["count"] >= 2
        assert (await notes.finished(caught_up.params["job_id"])).params["status"] == "succeeded"
        for sid, reason in ((skip, "offline"), (catch_up, "offline")):
            after = (await sidecar.call("schedules.history", {"schedule_id": sid, "limit": 1000}))["firings"]
            offline = [f for f in after if f["reason"] == reason]
            assert len(offline) == 1, f"{len(offline)} offline records for one absence"
            dues = [f["due_at"] for f in after]
            assert len(dues) == len(set(dues)), "a due time was handled twice (a double firing)"
            assert {f["firing_id"] for f in before[sid]} <= {f["firing_id"] for f in after}
        assert offline[0]["outcome"] == "caught_up" and offline[0]["job_id"] == caught_up.params["job_id"]
        # Then both carry on, on time.
        await until_notes(notes, "schedule.fired", skip, 1, reason=None)
        await until_notes(notes, "schedule.fired", catch_up, 1, reason=None)


# ---------------------------------------------------------------- the wall clock jumps (libfaketime)


async def test_a_clock_jump_forward_is_one_record_not_a_burst(data_dir: Path, tmp_path: Path) -> None:
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    async with running_sidecar(data_dir, env=faketime_env(offset)) as sidecar, collecting(sidecar) as notes:
        skip = (await create(sidecar, name="skip", trigger={"every_s": 60}))["schedule_id"]
        catch_up = (await create(sidecar, name="catch up", trigger={"every_s": 60}, missed="catch_up"))["schedule_id"]
        offset.write_text("+3600\n")  # the wall clock is set an hour forward (or the laptop slept an hour)
        (skipped,) = await until_notes(notes, "schedule.skipped", skip, 1)
        (caught_up,) = await until_notes(notes, "schedule.fired", catch_up, 1)
        assert skipped.params["reason"] == "asleep" and skipped.params["count"] >= 55
        assert (caught_up.params["outcome"], caught_up.params["reason"]) == ("caught_up", "asleep")
        assert caught_up.params["count"] >= 55
        assert (await notes.finished(caught_up.params["job_id"])).params["status"] == "succeeded"
        pong = await sidecar.call("system.ping")
        assert pong["ts"] > time.time() + 3000, "libfaketime did not move the sidecar's clock"
        await anyio.sleep(1.5)  # a burst would be under way by now
        for sid in (skip, catch_up):
            firings = (await sidecar.call("schedules.history", {"schedule_id": sid}))["firings"]
            assert len(firings) == 1, firings
        jobs = (await sidecar.call("jobs.list"))["jobs"]
        assert [j["job_id"] for j in jobs] == [caught_up.params["job_id"]]
        record = await sidecar.call("schedules.get", {"schedule_id": skip})
        assert record["last_outcome"] == "skipped" and record["next_due_at"] > skipped.params["due_at"]


@pytest.mark.parametrize(
    ("start", "zone_cron", "due", "next_due"),
    [
        # The gap: Berlin's 02:30 does not exist on 2025-03-30 (02:00 CET -> 03:00 CEST): due once at 03:00.
        ("@2025-03-30 00:59:48", "30 2 * * *", "2025-03-30T01:00:00.000Z", "2025-03-31T00:30:00.000Z"),
        # The overlap: 02:30 happens twice on 2025-10-26 (03:00 CEST -> 02:00 CET): due once, the first time.
        ("@2025-10-26 00:29:48", "30 2 * * *", "2025-10-26T00:30:00.000Z", "2025-10-27T01:30:00.000Z"),
    ],
    ids=["gap", "overlap"],
)
async def test_dst_in_a_running_sidecar(
    data_dir: Path, tmp_path: Path, start: str, zone_cron: str, due: str, next_due: str
) -> None:
    offset = tmp_path / "faketime"
    offset.write_text(start + "\n")  # the clock starts there and runs on
    env = faketime_env(offset, TZ="UTC")  # libfaketime reads the start in the process's zone
    async with running_sidecar(data_dir, env=env) as sidecar, collecting(sidecar) as notes:
        record = await sidecar.call(
            "schedules.create",
            {"name": "night", "trigger": {"cron": zone_cron, "timezone": "Europe/Berlin"}, "job": COMPACT},
        )
        assert record["next_due_at"] == due
        (fired,) = await until_notes(notes, "schedule.fired", record["schedule_id"], 1)
        assert fired.params["due_at"] == due and fired.params["count"] == 1
        after = await sidecar.call("schedules.get", {"schedule_id": record["schedule_id"]})
        assert after["next_due_at"] == next_due and after["last_due_at"] == due
