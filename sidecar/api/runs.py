"""``runs.*`` and ``reports.get``: pipeline runs from the ledger and their reports."""

from __future__ import annotations

import anyio.to_thread

from sidecar.api.context import Ctx
from sidecar.common.errors import ApplicationError
from sidecar.common.ids import parse_uuid
from sidecar.pipelines.messages import ReportResult, RunIdParams, RunsListParams, RunsListResult
from sidecar.pipelines.records import RunRecord
from sidecar.rpc.registry import Registry


def register_runs_methods(registry: Registry) -> None:
    """Add runs.get, runs.list and reports.get."""

    @registry.method("runs.get")
    async def runs_get(ctx: Ctx, params: RunIdParams) -> RunRecord:
        """A pipeline run from the ledger: status, steps, transitions."""
        engine = await ctx.app.engine.with_state()
        run_id = parse_uuid(params.run_id)
        record = await engine.ledger.get(run_id) if run_id else None
        if record is None:
            raise ApplicationError("run_not_found", f"no run with id {params.run_id}", run_id=params.run_id)
        return record

    @registry.method("runs.list")
    async def runs_list(ctx: Ctx, params: RunsListParams) -> RunsListResult:
        """Pipeline runs from the ledger, newest first."""
        engine = await ctx.app.engine.with_state()
        return RunsListResult(runs=await engine.ledger.list(params.status, params.limit))

    @registry.method("reports.get")
    async def reports_get(ctx: Ctx, params: RunIdParams) -> ReportResult:
        """Paths of a run's report.html and metadata.json, and the metadata itself."""
        engine = await ctx.app.engine.started()
        from sidecar.pipelines.report import HTML_FILE, METADATA_FILE, read_metadata, report_dir

        run_id = parse_uuid(params.run_id)  # run ids are UUIDs: nothing else can name a folder
        if run_id is None:
            raise ApplicationError("report_not_found", f"no report for run {params.run_id}", run_id=params.run_id)
        folder = report_dir(engine.paths.data_dir, run_id)
        try:
            metadata = await anyio.to_thread.run_sync(read_metadata, folder)
        except FileNotFoundError:
            raise ApplicationError(
                "report_not_found", f"no report for run {params.run_id}", run_id=params.run_id
            ) from None
        return ReportResult(
            run_id=run_id,
            report_path=str(folder / HTML_FILE),
            metadata_path=str(folder / METADATA_FILE),
            metadata=metadata,
        )
