"""Jobs against a real sidecar: validation, progress, cancellation, the bounded queue, retries."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import LONG_QUERY, collecting, write_csv
from tests.support import running_sidecar

pytestmark = pytest.mark.anyio


async def test_submit_is_validated(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar:
        with pytest.raises(RpcCallError) as unknown:
            await sidecar.call("jobs.submit", {"type": "vault.scan", "payload": {}})
        assert unknown.value.code == -32602 and unknown.value.data["path"] == "$.type"
        assert unknown.value.data["known"] == ["export", "ingest", "maintenance.compact", "pipeline.run"]
        assert "ingest" in unknown.value.message
        with pytest.raises(RpcCallError) as bad_table:
            await sidecar.call("jobs.submit", {"type": "ingest", "payload": {"source": "x.csv", "table": "bad name"}})
        assert bad_table.value.code == -32602 and bad_table.value.data["path"] == "$.payload.table"
        with pytest.raises(RpcCallError) as both:
            await sidecar.call(
                "jobs.submit", {"type": "ingest", "payload": {"source": "x.csv", "source_secret": "s", "table": "t"}}
            )
        assert both.value.code == -32602 and "exactly one" in both.value.message
        with pytest.raises(RpcCallError) as extra:
            await sidecar.call("jobs.submit", {"type": "maintenance.compact", "payload": {"vacuum": True, "fast": 1}})
        assert extra.value.code == -32602 and extra.value.data["path"] == "$.payload"
        with pytest.raises(RpcCallError) as missing:
            await sidecar.call("jobs.get", {"job_id": "0190b2b2-0000-7000-8000-000000000000"})
        assert missing.value.kind == "job_not_found"
        assert (await sidecar.call("jobs.list"))["jobs"] == []


async def test_long_query_job_is_canceled_within_a_second(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        submitted = await sidecar.call("jobs.submit", {"type": "export", "payload": {"sql": LONG_QUERY}})
        job_id = submitted["job_id"]
        assert submitted["status"] == "queued" and len(job_id) == 36 and job_id[14] == "7"  # a UUIDv7
        await notes.status(job_id, "running")
        # DuckDB's own query progress feeds job.progress.
        first = await notes.wait(
            lambda n: n.method == "job.progress" and n.params["job_id"] == job_id and n.params["progress"] > 0
        )
        assert 0 < first.params["progress"] < 1
        cancel_at = time.monotonic()
        answer = await sidecar.call("jobs.cancel", {"job_id": job_id})
        final = await notes.status(job_id, "canceled", timeout=5)
        assert final.at - cancel_at < 1.0, f"canceled {final.at - cancel_at:.2f} s after jobs.cancel"
        assert answer["canceled"] is True and answer["job"]["status"] == "canceled"
        assert answer["job"]["error"]["kind"] == "canceled"
        assert final.params["previous"] == "running"
        # The sidecar stays healthy: answers, runs queries, no worker stuck.
        assert (await sidecar.call("system.ping"))["pong"] is True
        assert (await sidecar.call("db.query", {"sql": "SELECT 5"}))["rows"] == [[5]]
        status = await sidecar.call("system.status")
        assert status["workers"] == {"active": 0, "idle": 2} and status["queue_depth"] == 0
        assert status["jobs_by_status"]["canceled"] == 1
        again = await sidecar.call("jobs.cancel", {"job_id": job_id})
        assert again["canceled"] is False
        values = [n.params["progress"] for n in notes.of("job.progress", job_id)]
        assert values == sorted(values), "progress went down"
    assert not list((data_dir / "exports").glob("export-*")), "a canceled export left a file"


async def test_ingest_progress_is_monotonic_and_rate_limited(data_dir: Path, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    for index in range(6):
        write_csv(sources / f"part-{index}.csv", 150_000, offset=index * 150_000)
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.grant(tmp_path, "write")  # the test's files live outside the data dir
        job = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source": str(sources / "part-*.csv"), "table": "sales"}}
        )
        done = await notes.finished(job["job_id"], timeout=60)
        assert done.params["status"] == "succeeded", done.params
        result = done.params["result"]
        assert result == {
            "table": "sales",
            "rows": 900_000,
            "files": 6,
            "bytes": result["bytes"],
            "format": "csv",
            "mode": "replace",
        }
        progress = notes.of("job.progress", job["job_id"])
        values = [n.params["progress"] for n in progress]
        assert values == sorted(values) and values[-1] == 1.0
        assert len(progress) >= 2, values
        started = (await notes.status(job["job_id"], "running")).at
        window = max(done.at - started, 0.1)
        assert len(progress) <= 10 * window + 2, f"{len(progress)} notifications in {window:.2f} s"
        record = await sidecar.call("jobs.get", {"job_id": job["job_id"]})
        assert record["status"] == "succeeded" and record["progress"] == 1.0 and record["attempts"] == 1
        statuses = [n.params["status"] for n in notes.of("job.status", job["job_id"])]
        assert statuses == ["queued", "running", "succeeded"]
        count = await sidecar.call("db.query", {"sql": "SELECT count(*), count(DISTINCT id) FROM sales"})
        assert count["rows"] == [[900_000, 900_000]]


async def test_bounded_queue_and_canceling_queued_jobs(data_dir: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.call("settings.set", {"values": {"jobs_concurrency": 1, "jobs_queue_limit": 2}})
        running = await sidecar.call("jobs.submit", {"type": "export", "payload": {"sql": LONG_QUERY}})
        await notes.status(running["job_id"], "running")
        queued = [
            (await sidecar.call("jobs.submit", {"type": "maintenance.compact", "payload": {}}))["job_id"]
            for _ in range(2)
        ]
        with pytest.raises(RpcCallError) as full:
            await sidecar.call("jobs.submit", {"type": "maintenance.compact", "payload": {}})
        assert full.value.kind == "queue_full" and full.value.data["limit"] == 2
        status = await sidecar.call("system.status")
        assert status["queue_depth"] == 2 and status["workers"] == {"active": 1, "idle": 0}
        listed = await sidecar.call("jobs.list", {"status": "queued"})
        assert [job["job_id"] for job in listed["jobs"]] == queued[::-1]
        canceled = await sidecar.call("jobs.cancel", {"job_id": queued[0]})
        assert canceled["canceled"] is True and canceled["job"]["status"] == "canceled"
        await sidecar.call("jobs.cancel", {"job_id": running["job_id"]})
        done = await notes.finished(queued[1], timeout=30)
        assert done.params["status"] == "succeeded"
        assert done.params["result"]["steps"] == ["VACUUM", "ANALYZE", "CHECKPOINT"]
        by_type = await sidecar.call("jobs.list", {"type": "maintenance.compact"})
        assert {job["status"] for job in by_type["jobs"]} == {"canceled", "succeeded"}


async def test_retryable_failures_are_retried_with_backoff(data_dir: Path, tmp_path: Path) -> None:
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.grant(tmp_path, "write")  # the test's files live outside the data dir
        await sidecar.call("settings.set", {"values": {"jobs_retry_backoff_ms": 50}})
        missing = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source": str(tmp_path / "none-*.csv"), "table": "t"}}
        )
        failed = await notes.finished(missing["job_id"])
        assert failed.params["status"] == "failed"
        error = failed.params["error"]
        assert error["kind"] == "source_not_found" and error["class"] == "source" and error["attempts"] == 3
        events = (await sidecar.call("jobs.events", {"job_id": missing["job_id"]}))["events"]
        retries = [event for event in events if event["level"] == "warn"]
        assert [event["meta"]["attempt"] for event in retries] == [1, 2]
        assert [event["meta"]["retry_in_s"] for event in retries] == [0.05, 0.1]
        # A SQL error is not retryable: one attempt.
        bad = tmp_path / "bad.csv"
        bad.write_text("a\n1\n")
        wrong = await sidecar.call(
            "jobs.submit",
            {"type": "export", "payload": {"sql": "SELECT * FROM missing", "path": str(tmp_path / "x.parquet")}},
        )
        failed = await notes.finished(wrong["job_id"])
        assert failed.params["error"]["kind"] == "catalog" and failed.params["error"]["attempts"] == 1


async def test_append_mode_and_parquet_format(data_dir: Path, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", 100)
    second = write_csv(tmp_path / "b.data", 50, offset=100)
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.grant(tmp_path, "write")  # the test's files live outside the data dir
        job = await sidecar.call("jobs.submit", {"type": "ingest", "payload": {"source": str(first), "table": "t"}})
        assert (await notes.finished(job["job_id"])).params["status"] == "succeeded"
        unknown = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source": str(second), "table": "t", "mode": "append"}}
        )
        failed = await notes.finished(unknown["job_id"])
        assert failed.params["error"]["kind"] == "invalid_input"  # cannot tell the format of b.data
        job = await sidecar.call(
            "jobs.submit",
            {"type": "ingest", "payload": {"source": str(second), "table": "t", "mode": "append", "format": "csv"}},
        )
        assert (await notes.finished(job["job_id"])).params["result"]["rows"] == 50
        exported = await sidecar.call("db.export", {"sql": "SELECT * FROM t", "path": str(tmp_path / "t.parquet")})
        job = await sidecar.call(
            "jobs.submit", {"type": "ingest", "payload": {"source": exported["path"], "table": "t2"}}
        )
        done = await notes.finished(job["job_id"])
        assert done.params["result"]["format"] == "parquet" and done.params["result"]["rows"] == 150
    with duckdb.connect(str(data_dir / "engine.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), max(id) FROM t").fetchone() == (150, 149)
