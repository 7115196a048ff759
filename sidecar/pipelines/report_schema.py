"""metadata.json of a run report: schema ``sidecar.run-report/1``."""

from typing import Any, Final

from msgspec import Struct

from sidecar.database.messages import Column

SCHEMA: Final = "sidecar.run-report/1"
REPORTS_DIR: Final = "reports"
HTML_FILE: Final = "report.html"
METADATA_FILE: Final = "metadata.json"


class PipelineInfo(Struct):
    """name, description: from the definition. definition_sha256: its fingerprint.
    source: the file it was loaded from (null when inline). output: the table previewed, if named."""

    name: str
    description: str | None
    definition_sha256: str
    source: str | None
    output: str | None


class StepReport(Struct):
    """A step as reported: the ledger's record plus its SQL as written (secret references, never values)."""

    index: int
    name: str
    status: str
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    rows_affected: int | None
    attempts: int
    error: dict[str, Any] | None
    sql: str


class Preview(Struct):
    """The last step's output: source "step" (its own rows) or "table" (``table``'s first rows)."""

    source: str
    table: str | None
    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


class Generator(Struct):
    """name and version of the sidecar, and the DuckDB version."""

    name: str
    version: str
    duckdb: str | None


class RunReport(Struct):
    """metadata.json (schema ``sidecar.run-report/1``)."""

    schema: str
    run_id: str
    job_id: str | None
    pipeline: PipelineInfo
    status: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    error: dict[str, Any] | None
    steps: list[StepReport]
    preview: Preview | None
    files: dict[str, str]
    generated_at: str
    generator: Generator
