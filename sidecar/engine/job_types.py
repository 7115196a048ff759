"""The job types this sidecar runs, by name."""

from __future__ import annotations

from sidecar.jobs.export_job import EXPORT
from sidecar.jobs.ingest import INGEST
from sidecar.jobs.maintenance import COMPACT
from sidecar.jobs.types import JobType
from sidecar.pipelines.job import pipeline_run_job
from sidecar.pipelines.ledger import RunLedger


def job_types(ledger: RunLedger) -> dict[str, JobType]:
    """ingest, export, pipeline.run (recording into ``ledger``), maintenance.compact."""
    return {job_type.name: job_type for job_type in (INGEST, EXPORT, pipeline_run_job(ledger), COMPACT)}
