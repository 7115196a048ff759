"""What a job type is: its payload type, its runner, its retry policy."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from msgspec import Struct

from sidecar.jobs.progress import Progress

if TYPE_CHECKING:
    from sidecar.daemon.paths import DataPaths
    from sidecar.database.database import Database
    from sidecar.files.access import FileAccess
    from sidecar.jobs.model import JobRecord
    from sidecar.secrets.store import SecretStore
    from sidecar.settings.store import SettingsStore

log = logging.getLogger("sidecar.jobs")

#: Longest wait between two attempts, whatever the backoff says.
MAX_BACKOFF_S: Final = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """max_attempts: attempts in all (1: no retry). retryable: error kinds worth another attempt.

    The delay before attempt n+1 is ``jobs_retry_backoff_ms * 2**(n-1)``, capped at MAX_BACKOFF_S.
    """

    max_attempts: int = 1
    retryable: frozenset[str] = frozenset()

    def should_retry(self, attempt: int, kind: str) -> bool:
        """True if a failure of ``kind`` on ``attempt`` gets another attempt."""
        return attempt < self.max_attempts and kind in self.retryable

    @staticmethod
    def delay_s(attempt: int, base_ms: int) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        return min(base_ms / 1000 * 2.0 ** (attempt - 1), MAX_BACKOFF_S)


class JobEnvironment(Protocol):
    """The parts of the engine a job runner may use (the engine object provides them).

    paths: the data folders. settings: the settings store. database: engine.duckdb.
    secrets: the keychain. files: what the engine may read and write on disk (its folders, the grants).
    network: whether the host allowed URL sources. app_version: the sidecar's version (for reports).
    """

    @property
    def paths(self) -> DataPaths: ...

    @property
    def settings(self) -> SettingsStore: ...

    @property
    def database(self) -> Database: ...

    @property
    def secrets(self) -> SecretStore: ...

    @property
    def files(self) -> FileAccess: ...

    @property
    def network(self) -> bool: ...

    @property
    def app_version(self) -> str: ...

    async def notify(self, method: str, params: Any) -> None:
        """Send a notification to the host (dropped quietly once the output is closed)."""
        ...


@dataclass
class JobContext:
    """What a runner gets besides its payload.

    job_id, job_type, run_id: identify the job (run_id for pipeline runs).
    attempt: 1 for the first attempt.
    progress: the job's progress (set it, or install a source).
    services: the engine parts a runner may use.
    """

    job_id: str
    job_type: str
    run_id: str | None
    attempt: int
    progress: Progress
    services: JobEnvironment
    log_fields: dict[str, Any] = field(default_factory=dict)

    def log(self, level: int, message: str, *, exc_info: BaseException | None = None, **fields: Any) -> None:
        """Log with job_id and run_id attached (and step, when ``fields`` or ``log_fields`` has one)."""
        ctx = {"job_id": self.job_id, "job_type": self.job_type, "run_id": self.run_id, **self.log_fields, **fields}
        log.log(level, message, exc_info=exc_info, extra={"ctx": ctx})


Runner = Callable[[JobContext, Any], Awaitable[Any]]
#: At submit: (services, validated payload, run_id, job_id) -> (payload to store, run_id).
Prepare = Callable[[JobEnvironment, Any, "str | None", str], Awaitable[tuple[dict[str, Any], "str | None"]]]
#: For a job that ends without its runner: (services, record, "canceled" | "interrupted").
Abandon = Callable[[JobEnvironment, "JobRecord", str], Awaitable[None]]


class JobFailed(Exception):
    """A job attempt ended in an error; ``error`` is the record's error member."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


@dataclass(frozen=True)
class JobType:
    """name: the ``type`` of jobs.submit. payload: the Struct the payload must match.
    run: the runner; its return value (msgspec-encodable) is the job's result.
    retry: the retry policy. idempotent: safe to re-run after an interruption (re-queued then).
    summary: one line for docs and errors.
    prepare: optional, at submit (normalise the payload, assign a run id, record a pending run).
    abandon: optional, when the job ends without its runner (canceled while queued, or found
    interrupted at start-up), to close whatever the type keeps besides the job record.
    """

    name: str
    payload: type[Struct]
    run: Runner
    retry: RetryPolicy = RetryPolicy()
    idempotent: bool = False
    summary: str = ""
    prepare: Prepare | None = None
    abandon: Abandon | None = None
