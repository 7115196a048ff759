"""The job types this sidecar runs, by name."""

from __future__ import annotations

from sidecar.jobs.export_job import EXPORT
from sidecar.jobs.ingest import INGEST
from sidecar.jobs.maintenance import COMPACT
from sidecar.jobs.types import JobType
from sidecar.pipelines.job import PIPELINE_RUN


def job_types() -> dict[str, JobType]:
    """ingest, export, pipeline.run, maintenance.compact."""
    return {job_type.name: job_type for job_type in (INGEST, EXPORT, PIPELINE_RUN, COMPACT)}
