"""The first 'Done when' scenario end to end, plus failing and retried pipeline runs.

ingest a CSV and a Parquet file -> run a 3-step YAML pipeline -> query the
result -> export it to Parquet -> report.html and metadata.json exist and
agree with the ledger, the job result and the data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import collecting, write_csv, write_parquet
from tests.support import running_sidecar

pytestmark = pytest.mark.anyio

PIPELINE = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "sales_pipeline.yaml"


async def _ingest(sidecar: Any, notes: Any, source: Path, table: str) -> dict[str, Any]:
    job = await sidecar.call("jobs.submit", {"type": "ingest", "payload": {"source": str(source), "table": table}})
    done = await notes.finished(job["job_id"], timeout=60)
    assert done.params["status"] == "succeeded", done.params
    return done.params["result"]


async def test_ingest_pipeline_query_export_report(data_dir: Path, tmp_path: Path) -> None:
    sales_csv = write_csv(tmp_path / "sales.csv", 20_000)
    targets = write_parquet(tmp_path / "targets.parquet", 4)
    exported = data_dir / "exports" / "ranking.parquet"  # where db.query's SQL may read it back
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.grant(tmp_path)  # the test's files live outside the data dir
        await sidecar.grant(PIPELINE)
        assert (await _ingest(sidecar, notes, sales_csv, "sales"))["rows"] == 20_000
        assert (await _ingest(sidecar, notes, targets, "targets"))["format"] == "parquet"

        submitted = await sidecar.call("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": str(PIPELINE)}})
        run_id = submitted["run_id"]
        assert len(run_id) == 36 and run_id[14] == "7", run_id  # UUIDv7
        done = await notes.finished(submitted["job_id"], timeout=60)
        assert done.params["status"] == "succeeded", done.params
        assert done.params["run_id"] == run_id
        result = done.params["result"]
        assert [(s["name"], s["status"]) for s in result["steps"]] == [
            ("clean", "success"),
            ("join targets", "success"),
            ("rank", "success"),
        ]
        positive = sum(1 for i in range(20_000) if i % 1000 != 0)
        assert [s["rows_affected"] for s in result["steps"]] == [positive, 4, 4]

        queried = await sidecar.call("db.query", {"sql": "SELECT * FROM region_ranking ORDER BY position"})
        assert [c["name"] for c in queried["columns"]] == [
            "region",
            "manager",
            "total",
            "orders",
            "attainment",
            "position",
        ]
        assert queried["row_count"] == 4 and sum(row[3] for row in queried["rows"]) == positive
        written = await sidecar.call(
            "db.export",
            {"sql": "SELECT * FROM region_ranking ORDER BY position", "format": "parquet", "path": str(exported)},
        )
        assert written["row_count"] == 4

        report = await sidecar.call("reports.get", {"run_id": run_id})
        ledger = await sidecar.call("runs.get", {"run_id": run_id})
        with pytest.raises(RpcCallError) as reused:
            await sidecar.call(
                "jobs.submit", {"type": "pipeline.run", "run_id": run_id, "payload": {"pipeline": str(PIPELINE)}}
            )
        assert reused.value.kind == "run_exists"

    # The export holds exactly what the query returned.
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT region, orders, position FROM read_parquet('{exported}') ORDER BY position"
        ).fetchall()
    assert [list(row) for row in rows] == [[r[0], r[3], r[5]] for r in queried["rows"]]

    # Both report files exist under <data dir>/reports/<run id>/, and agree with each other, the ledger and the job.
    folder = data_dir / "reports" / run_id
    assert report["report_path"] == str(folder / "report.html")
    assert report["metadata_path"] == str(folder / "metadata.json")
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata == report["metadata"]
    assert metadata["schema"] == "sidecar.run-report/1" and metadata["run_id"] == run_id
    assert metadata["status"] == "success" and metadata["job_id"] == submitted["job_id"]
    assert metadata["pipeline"]["name"] == "regional_sales" and metadata["pipeline"]["source"] == str(PIPELINE)
    assert [(s["name"], s["status"], s["rows_affected"]) for s in metadata["steps"]] == [
        (s["name"], s["status"], s["rows_affected"]) for s in result["steps"]
    ]
    assert all(s["duration_ms"] is not None and s["attempts"] == 1 for s in metadata["steps"])
    assert metadata["preview"]["source"] == "table" and metadata["preview"]["table"] == "region_ranking"
    assert metadata["preview"]["rows"] == queried["rows"]
    assert ledger["status"] == "success" and ledger["definition_sha256"] == metadata["pipeline"]["definition_sha256"]
    assert [(t["step"], t["from_status"], t["to_status"]) for t in ledger["transitions"]] == [
        (None, None, "pending"),
        (None, "pending", "running"),
        (0, "pending", "running"),
        (0, "running", "success"),
        (1, "pending", "running"),
        (1, "running", "success"),
        (2, "pending", "running"),
        (2, "running", "success"),
        (None, "running", "success"),
    ]
    page = (folder / "report.html").read_text()
    assert run_id in page and "regional_sales" in page and "success" in page
    for step in metadata["steps"]:
        assert f"<td>{step['name']}</td>" in page and f"<td>{step['rows_affected']}</td>" in page
    for row in queried["rows"]:
        assert f"<td>{row[1]}</td>" in page  # the preview shows the managers

    # Every log record of the run carries run_id, job_id and step.
    records = [json.loads(line) for line in (data_dir / "logs" / "sidecar.log").read_text().splitlines()]
    of_run = [r for r in records if r.get("run_id") == run_id]
    assert len(of_run) >= 8
    assert all(r["job_id"] == submitted["job_id"] and "step" in r for r in of_run)
    assert {r["step"] for r in of_run} >= {None, "clean", "join targets", "rank"}


async def test_failed_and_retried_runs_still_write_reports(data_dir: Path, tmp_path: Path) -> None:
    failing = {
        "name": "broken",
        "steps": [
            {"name": "ok", "sql": "CREATE OR REPLACE TABLE a AS SELECT 1 AS x"},
            {"name": "typo", "sql": "SELEKT * FROM a"},
            {"name": "never", "sql": "SELECT 1"},
        ],
    }
    missing_source = {
        "name": "flaky source",
        "steps": [
            {"name": "load", "retries": 2, "sql": f"SELECT * FROM read_csv('{data_dir / 'imports' / 'absent.csv'}')"}
        ],
    }
    async with running_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.grant(tmp_path, "write")  # the test's files live outside the data dir
        await sidecar.call("settings.set", {"values": {"jobs_retry_backoff_ms": 20}})
        job = await sidecar.call("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": failing}})
        done = await notes.finished(job["job_id"])
        assert done.params["status"] == "failed"
        error = done.params["error"]
        assert (error["kind"], error["class"], error["step"], error["run_id"]) == (
            "sql_syntax",
            "sql",
            "typo",
            job["run_id"],
        )
        report = (await sidecar.call("reports.get", {"run_id": job["run_id"]}))["metadata"]
        assert report["status"] == "failed" and report["error"]["step"] == "typo"
        assert [s["status"] for s in report["steps"]] == ["success", "failed", "skipped"]
        assert report["preview"] is None

        job = await sidecar.call("jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": missing_source}})
        done = await notes.finished(job["job_id"])
        assert done.params["error"]["class"] == "source" and done.params["error"]["kind"] == "io"
        run = await sidecar.call("runs.get", {"run_id": job["run_id"]})
        assert run["steps"][0]["attempts"] == 3 and run["status"] == "failed"
        assert (data_dir / "reports" / job["run_id"] / "report.html").exists()

        with pytest.raises(RpcCallError) as invalid:
            await sidecar.call(
                "jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": {"name": "x", "steps": []}}}
            )
        assert invalid.value.code == -32602 and invalid.value.data["path"] == "$.payload.pipeline.steps"
        with pytest.raises(RpcCallError) as not_a_file:
            await sidecar.call(
                "jobs.submit", {"type": "pipeline.run", "payload": {"pipeline": str(tmp_path / "nope.yaml")}}
            )
        assert not_a_file.value.kind == "invalid_pipeline"
        with pytest.raises(RpcCallError) as no_report:
            await sidecar.call("reports.get", {"run_id": "0190b2b2-0000-7000-8000-000000000000"})
        assert no_report.value.kind == "report_not_found"
        listed = await sidecar.call("runs.list", {"status": "failed"})
        assert len(listed["runs"]) == 2
