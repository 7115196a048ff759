"""The wordfreq app inside a real sidecar (from source, or its binary with SIDECAR_BINARY)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import wordfreq_sidecar

from sidecar_host import RpcCallError
from tests.fixtures.engine.support import collecting

pytestmark = pytest.mark.anyio

TEXT = "It was the best of times, it was the worst of times, it was the age of wisdom.\n"


async def test_count_and_discovery(data_dir: Path) -> None:
    async with wordfreq_sidecar(data_dir) as sidecar:
        result = await sidecar.call("wordfreq.count", {"text": TEXT, "top": 3})
        assert result == {
            "total": 18,
            "distinct": 9,
            "words": [{"word": "it", "count": 3}, {"word": "of", "count": 3}, {"word": "the", "count": 3}],
        }
        assert (await sidecar.call("wordfreq.count", {"text": ""})) == {"total": 0, "distinct": 0, "words": []}
        with pytest.raises(RpcCallError) as bad:
            await sidecar.call("wordfreq.count", {"text": TEXT, "top": -1})
        assert bad.value.code == -32602 and bad.value.data["path"] == "$.top"
        doc = await sidecar.call("rpc.discover")
        methods = {m["name"]: m for m in doc["methods"] if m.get("x-app") == "wordfreq"}
        assert sorted(methods) == ["wordfreq.count", "wordfreq.tables"]
        assert not any(m.get("x-host-only") for m in methods.values())
        assert [p["name"] for p in methods["wordfreq.count"]["params"]] == ["text", "top"]
        assert (await sidecar.call("wordfreq.tables")) == {"tables": []}


async def test_scan_writes_a_table_with_progress(data_dir: Path) -> None:
    async with wordfreq_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.call("system.ping")
        imports = data_dir / "imports"
        imports.mkdir(exist_ok=True)
        (imports / "dickens.txt").write_text(TEXT * 60_000)  # ~4.8 MB: several chunks
        job = await sidecar.call(
            "jobs.submit", {"type": "wordfreq.scan", "payload": {"source": "dickens.txt", "table": "dickens"}}
        )
        done = await notes.finished(job["job_id"], timeout=60)
        assert done.params["status"] == "succeeded", done.params
        assert done.params["result"] == {
            "table": "dickens",
            "total": 18 * 60_000,
            "distinct": 9,
            "bytes": len(TEXT) * 60_000,
        }
        values = [n.params["progress"] for n in notes.of("job.progress", job["job_id"])]
        assert len(values) >= 2 and values == sorted(values) and values[-1] == 1.0, values
        rows = await sidecar.call(
            "db.query", {"sql": "SELECT word, count FROM dickens ORDER BY count DESC, word LIMIT 2"}
        )
        assert rows["rows"] == [["it", 180_000], ["of", 180_000]]
        assert (await sidecar.call("wordfreq.tables")) == {"tables": ["dickens"]}


async def test_scan_keeps_to_the_engines_file_rules(data_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "notes.txt"
    outside.parent.mkdir()
    outside.write_text("granted words granted\n")
    async with wordfreq_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        refused = await sidecar.call(
            "jobs.submit", {"type": "wordfreq.scan", "payload": {"source": str(outside), "table": "notes"}}
        )
        failed = await notes.finished(refused["job_id"], timeout=30)
        assert failed.params["status"] == "failed" and failed.params["error"]["kind"] == "forbidden_path", failed.params
        escape = await sidecar.call(
            "jobs.submit", {"type": "wordfreq.scan", "payload": {"source": "../sidecar.lock", "table": "lock"}}
        )
        assert (await notes.finished(escape["job_id"], timeout=30)).params["error"]["kind"] == "forbidden_path"
        await sidecar.grant(outside, "read")
        granted = await sidecar.call(
            "jobs.submit", {"type": "wordfreq.scan", "payload": {"source": str(outside), "table": "notes"}}
        )
        done = await notes.finished(granted["job_id"], timeout=30)
        assert done.params["status"] == "succeeded" and done.params["result"]["total"] == 3
        assert (await sidecar.call("wordfreq.tables")) == {"tables": ["notes"]}


async def test_scan_is_cancellable_and_leaves_no_table(data_dir: Path) -> None:
    async with wordfreq_sidecar(data_dir) as sidecar, collecting(sidecar) as notes:
        await sidecar.call("system.ping")
        imports = data_dir / "imports"
        imports.mkdir(exist_ok=True)
        (imports / "big.txt").write_text(TEXT * 1_000_000)  # ~80 MB: tens of seconds of counting
        job = await sidecar.call(
            "jobs.submit", {"type": "wordfreq.scan", "payload": {"source": "big.txt", "table": "big"}}
        )
        await notes.wait(lambda n: n.method == "job.progress" and n.params["job_id"] == job["job_id"], timeout=30)
        answer = await sidecar.call("jobs.cancel", {"job_id": job["job_id"]})
        assert answer["canceled"] is True and answer["job"]["status"] == "canceled"
        assert (await sidecar.call("wordfreq.tables")) == {"tables": []}
        status = await sidecar.call("system.status")
        assert status["workers"]["active"] == 0
