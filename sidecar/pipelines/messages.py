"""Params and results of ``reports.get``, ``runs.get`` and ``runs.list``."""

from typing import Annotated

from msgspec import Meta, Struct

from sidecar.pipelines.records import RunRecord, RunStatus
from sidecar.pipelines.report_schema import RunReport

RunId = Annotated[str, Meta(min_length=1, max_length=64)]


class RunIdParams(Struct, forbid_unknown_fields=True):
    """run_id: the pipeline run."""

    run_id: RunId


class ReportResult(Struct):
    """run_id: the run. report_path: report.html. metadata_path: metadata.json. metadata: its content."""

    run_id: str
    report_path: str
    metadata_path: str
    metadata: RunReport


class RunsListParams(Struct, forbid_unknown_fields=True):
    """status: filter. limit: most runs, newest first (default 100, at most 1000)."""

    status: RunStatus | None = None
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100


class RunsListResult(Struct):
    """runs: matching ledger records, newest first."""

    runs: list[RunRecord]
