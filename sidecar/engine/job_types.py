"""The job types this sidecar runs, by name."""

from __future__ import annotations

from collections.abc import Mapping

from sidecar.jobs.export_job import EXPORT
from sidecar.jobs.ingest import INGEST
from sidecar.jobs.maintenance import COMPACT
from sidecar.jobs.types import JobType
from sidecar.pipelines.job import pipeline_run_job
from sidecar.pipelines.ledger import RunLedger


def job_types(ledger: RunLedger, extra: Mapping[str, JobType] | None = None) -> dict[str, JobType]:
    """ingest, export, pipeline.run (recording into ``ledger``), maintenance.compact, then the apps'
    ``extra`` types (sidecar.apps has refused any that reuse a built-in name; checked again here)."""
    types = {job_type.name: job_type for job_type in (INGEST, EXPORT, pipeline_run_job(ledger), COMPACT)}
    for name, job_type in (extra or {}).items():
        if name in types:
            raise ValueError(f"job type {name!r} is built in")
        types[name] = job_type
    return types
