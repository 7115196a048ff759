"""The worker pool: a bounded queue, N workers, cancellation, retries, recovery.

* Bounded: at most ``jobs_queue_limit`` jobs wait; one more is refused with
  data.kind ``queue_full`` (nothing is dropped silently). At most
  ``jobs_concurrency`` run at once; the limit can change while running.
* Every transition goes through the store (the transition table is checked
  there, in the same sqlite transaction) and then out as ``job.status``.
* A running job owns a CancelScope. jobs.cancel cancels it (the job's DuckDB
  cursor is interrupted by its QueryHandle) and waits for the job to stop;
  shutdown does the same for every running job and marks them failed with
  kind ``interrupted``, exactly as start-up does for jobs a killed process
  left running. Interrupted idempotent jobs are re-queued as new jobs.
* A runner's exception is the job's failure (this is the job boundary): known
  errors keep their kind, anything else becomes ``unhandled_exception`` with
  the traceback in the log.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import anyio
import msgspec
from anyio.abc import TaskGroup

from sidecar.common.clock import utc_now
from sidecar.common.disk import is_disk_full
from sidecar.common.errors import ApplicationError, ErrorCode, RpcError
from sidecar.common.ids import new_uuid7
from sidecar.common.redaction import mask_secrets
from sidecar.jobs.attempts import BOOKKEEPING_ERRORS, payload_error, run_attempts
from sidecar.jobs.messages import JobProgressNote, status_note
from sidecar.jobs.model import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    STATUSES,
    SUCCEEDED,
    TERMINAL,
    JobRecord,
    JobStatus,
    job_error,
)
from sidecar.jobs.progress import Progress
from sidecar.jobs.running import RunningJob
from sidecar.jobs.store import InsertHook, JobStore
from sidecar.jobs.types import JobContext, JobEnvironment, JobFailed, JobType

log = logging.getLogger("sidecar.jobs")

#: A job whose failure could not be written is retried this often, this many times (5 minutes),
#: so its record is right as soon as the disk has room again, without a restart.
BOOKKEEPING_RETRY_S: Final = 5.0
BOOKKEEPING_RETRIES: Final = 60
#: How long jobs.cancel waits for a running job to stop before answering.
CANCEL_WAIT_S: Final = 5.0
#: How long shutdown waits for running jobs to stop (inside the 5 s hook bound).
STOP_WAIT_S: Final = 2.5


class JobPool:
    """Queue, workers and bookkeeping for every job of this process."""

    def __init__(self, store: JobStore, types: dict[str, JobType], services: JobEnvironment) -> None:
        self.store = store
        self.types = types
        self.services = services
        settings = services.settings.current
        self._limiter = anyio.CapacityLimiter(settings.jobs_concurrency)
        self._queue_limit = settings.jobs_queue_limit
        self._backoff_ms = settings.jobs_retry_backoff_ms
        services.settings.observe(self._apply_settings)
        self._queue: deque[str] = deque()
        self._wakeup = anyio.Event()
        self._running: dict[str, RunningJob] = {}
        #: Jobs that ended while their record could not be written (a full disk), by id.
        self._unrecorded: dict[str, JobRecord] = {}
        self.counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        self._tg: TaskGroup | None = None
        self._dispatcher: anyio.CancelScope | None = None
        self.stopping = False
        #: Called with the record of every job that reaches a terminal status (e.g. the scheduler,
        #: whose queued firing waits for its previous job). Plain functions: they must not wait.
        self.finished_observers: list[Callable[[JobRecord], None]] = []

    # ------------------------------------------------------------ numbers for system.status

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a worker."""
        return len(self._queue)

    @property
    def active(self) -> int:
        """Workers running a job."""
        return len(self._running)

    @property
    def concurrency(self) -> int:
        """Workers in the pool."""
        return int(self._limiter.total_tokens)

    def unfinished(self, job_id: str) -> bool:
        """True while the job waits in the queue or runs."""
        return job_id in self._running or job_id in self._queue

    def _apply_settings(self, settings: Any) -> None:
        self._limiter.total_tokens = settings.jobs_concurrency
        self._queue_limit = settings.jobs_queue_limit
        self._backoff_ms = settings.jobs_retry_backoff_ms

    # ------------------------------------------------------------ start and stop

    async def start(self, tg: TaskGroup) -> None:
        """Recover jobs a previous process left running, queue the queued ones, start the dispatcher."""
        self._tg = tg
        self.counts = await self.store.counts()
        # The queued jobs first: recovery queues the re-runs it creates itself, and reading the
        # queued ones after it would queue those twice (run twice: the second run would find
        # its job already running).
        self._queue.extend(await self.store.ids_with_status(QUEUED))
        for job_id in await self.store.ids_with_status(RUNNING):
            await self._recover(job_id)
        self._dispatcher = anyio.CancelScope()
        tg.start_soon(self._dispatch)
        log.info("job pool started", extra={"ctx": {"workers": self.concurrency, "queued": len(self._queue)}})

    async def _recover(self, job_id: str) -> None:
        record = await self.store.get(job_id)
        if record is None:
            return
        await self._interrupted(
            record, "the sidecar stopped while this job was running (previous process)", recovered=True
        )

    async def _interrupted(self, record: JobRecord, message: str, *, recovered: bool) -> None:
        """Mark a running job failed with kind interrupted; re-queue it once if its type is idempotent."""
        job_type = self.types.get(record.type)
        requeue = job_type is not None and job_type.idempotent and record.retry_of is None
        requeued_as = None
        if requeue:
            requeued_as = (
                await self._create(record.type, record.payload, record.run_id, retry_of=record.job_id)
            ).job_id
        error = job_error("interrupted", message, "interrupted", requeued_as=requeued_as)
        updated = await self._transition(
            record, FAILED, recovered=recovered, requeued_as=requeued_as, error=error, finished_at=utc_now()
        )
        if recovered and job_type is not None and job_type.abandon is not None:
            await job_type.abandon(self.services, updated, "interrupted")
        log.warning(
            "job interrupted",
            extra={
                "ctx": {
                    "job_id": record.job_id,
                    "job_type": record.type,
                    "run_id": updated.run_id,
                    "step": None,
                    "recovered": recovered,
                    "requeued_as": requeued_as,
                }
            },
        )

    async def stop(self) -> None:
        """Shutdown: stop dispatching, interrupt running jobs, wait (bounded) until they are recorded."""
        self.stopping = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        running = list(self._running.values())
        for job in running:
            job.cancel("shutdown")
        with anyio.move_on_after(STOP_WAIT_S):
            for job in running:
                await job.done.wait()
        left = [job.job_id for job in running if not job.done.is_set()]
        if left:
            log.error("jobs still running at shutdown", extra={"ctx": {"job_ids": left}})

    # ------------------------------------------------------------ submit, cancel

    def validate(self, type_name: str, payload: dict[str, Any]) -> Any:
        """The payload as its type's Struct: -32602 at ``$.type`` (with ``known``) for an unknown
        type, at ``$.payload...`` for a payload that does not match it."""
        job_type = self.types.get(type_name)
        if job_type is None:
            known = sorted(self.types)
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                f"unknown job type {type_name!r}; known types: {', '.join(known)}",
                data={"path": "$.type", "detail": "unknown job type", "known": known},
            )
        try:
            return msgspec.convert(payload, job_type.payload)
        except msgspec.ValidationError as exc:
            raise payload_error(exc) from None

    async def submit(
        self, type_name: str, payload: dict[str, Any], run_id: str | None, *, also: InsertHook | None = None
    ) -> JobRecord:
        """Validate and queue a job (-32602 for an unknown type or a bad payload, queue_full when full).
        ``also`` writes in the transaction that stores the job (see :data:`InsertHook`)."""
        validated = self.validate(type_name, payload)
        job_type = self.types[type_name]
        if self.stopping:
            raise RpcError(
                ErrorCode.SHUTTING_DOWN, "the sidecar is stopping: no new jobs", data={"method": "jobs.submit"}
            )
        if len(self._queue) >= self._queue_limit:
            raise ApplicationError(
                "queue_full",
                f"the job queue is full ({self._queue_limit} jobs waiting); retry later",
                limit=self._queue_limit,
                queued=len(self._queue),
            )
        job_id = new_uuid7()
        if job_type.prepare is not None:
            payload, run_id = await job_type.prepare(self.services, validated, run_id, job_id)
        return await self._create(type_name, payload, run_id, job_id=job_id, also=also)

    async def _create(
        self,
        type_name: str,
        payload: dict[str, Any],
        run_id: str | None,
        retry_of: str | None = None,
        job_id: str | None = None,
        also: InsertHook | None = None,
    ) -> JobRecord:
        now = utc_now()
        record = JobRecord(
            job_id=job_id or new_uuid7(),
            type=type_name,
            status=QUEUED,
            created_at=now,
            updated_at=now,
            progress=0.0,
            message=None,
            payload=payload,
            result=None,
            error=None,
            run_id=run_id,
            retry_of=retry_of,
        )
        await self.store.insert(record, also)
        self.counts[QUEUED] += 1
        self._queue.append(record.job_id)
        self._wakeup.set()
        await self._send_status(record, None)
        return record

    async def cancel(self, job_id: str) -> tuple[JobRecord, bool]:
        """Cancel a queued or running job; returns the record and whether the cancel took effect."""
        if job_id in self._queue:
            self._queue.remove(job_id)
            record = await self.store.get(job_id)
            assert record is not None
            return await self._cancel_unstarted(record), True
        running = self._running.get(job_id)
        if running is not None:
            running.cancel("user")
            with anyio.move_on_after(CANCEL_WAIT_S):
                await running.done.wait()
            record = await self.store.get(job_id)
            assert record is not None
            return record, record.status == CANCELED
        record = await self.store.get(job_id)
        if record is None:
            raise ApplicationError("job_not_found", f"no job with id {job_id}", job_id=job_id)
        return record, False

    async def _cancel_unstarted(self, record: JobRecord) -> JobRecord:
        updated = await self._transition(
            record,
            CANCELED,
            error=job_error("canceled", "canceled by jobs.cancel before it started", "interrupted"),
            finished_at=utc_now(),
        )
        job_type = self.types.get(record.type)
        if job_type is not None and job_type.abandon is not None:
            await job_type.abandon(self.services, updated, "canceled")
        return updated

    # ------------------------------------------------------------ running

    async def _dispatch(self) -> None:
        assert self._dispatcher is not None and self._tg is not None
        with self._dispatcher:
            while True:
                while not self._queue:
                    self._wakeup = anyio.Event()
                    await self._wakeup.wait()
                borrower = object()
                await self._limiter.acquire_on_behalf_of(borrower)
                if not self._queue:  # canceled while we waited for a worker
                    self._limiter.release_on_behalf_of(borrower)
                    continue
                job_id = self._queue.popleft()
                running = RunningJob(job_id)
                self._running[job_id] = running  # before the task starts: jobs.cancel must find it
                self._tg.start_soon(self._run, running, borrower)

    async def _run(self, running: RunningJob, borrower: object) -> None:
        try:
            record = await self.store.get(running.job_id)
            if record is None or record.status != QUEUED:
                return
            if running.reason is not None:  # canceled between the queue and this worker
                await self._cancel_unstarted(record)
                return
            await self._execute(record, running)
        except BOOKKEEPING_ERRORS as exc:  # the store could not be written: the job fails, never the process
            await self._bookkeeping_failed(running.job_id, exc)
        except Exception as exc:  # a bug in the pool's own bookkeeping: that job fails, the pool and the process go on
            log.critical("job worker failed", exc_info=exc, extra={"ctx": {"job_id": running.job_id}})
            error = job_error("internal", f"the job's worker failed: {type(exc).__name__}: {exc}", None)
            with anyio.CancelScope(shield=True):
                try:
                    await self._record_failure(running.job_id, error)
                except Exception:  # nothing more can be done for this record; it is logged above
                    log.exception("recording the worker failure failed", extra={"ctx": {"job_id": running.job_id}})
        finally:
            self._running.pop(running.job_id, None)
            running.done.set()
            self._limiter.release_on_behalf_of(borrower)

    async def _execute(self, record: JobRecord, running: RunningJob) -> None:
        job_type = self.types[record.type]
        payload = msgspec.convert(record.payload, job_type.payload)
        record = await self._transition(record, RUNNING, started_at=utc_now(), attempts=1)
        progress = Progress(
            send=lambda value, message: self._send_progress(record.job_id, value, message),
            persist=lambda value, message: self.store.update(record.job_id, progress=value, message=message),
        )
        context = JobContext(record.job_id, record.type, record.run_id, 1, progress, self.services)
        result: Any = None
        error: dict[str, Any] | None = None
        async with anyio.create_task_group() as ticker:
            ticker.start_soon(progress.run)
            with running.scope:
                try:
                    result = await run_attempts(job_type, context, payload, self._backoff_ms, self.store)
                except JobFailed as failed:
                    error = failed.error
            ticker.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            await self._finish(record, running, context, result, error)

    async def _finish(
        self, record: JobRecord, running: RunningJob, context: JobContext, result: Any, error: dict[str, Any] | None
    ) -> None:
        current = await self.store.get(record.job_id)
        assert current is not None
        if running.scope.cancelled_caught:
            if running.reason == "shutdown":
                await self._interrupted(current, "the sidecar stopped while this job was running", recovered=False)
            else:
                await self._transition(
                    current,
                    CANCELED,
                    error=job_error("canceled", "canceled by jobs.cancel", "interrupted"),
                    finished_at=utc_now(),
                    attempts=context.attempt,
                )
            context.log(logging.INFO, "job stopped", reason=running.reason)
            return
        if error is not None:
            await context.progress.flush()
            await self._transition(
                current, FAILED, error=mask_secrets(error), finished_at=utc_now(), attempts=context.attempt
            )
            context.log(logging.ERROR, "job failed", error_kind=error["kind"], error=error["message"])
            return
        context.progress.set(1.0)
        await context.progress.flush()
        encoded = mask_secrets(msgspec.to_builtins(result))
        await self._transition(
            current, SUCCEEDED, result=encoded, progress=1.0, finished_at=utc_now(), attempts=context.attempt
        )
        context.log(logging.INFO, "job succeeded")

    # ------------------------------------------------------------ bookkeeping and notifications

    async def _bookkeeping_failed(self, job_id: str, exc: BaseException) -> None:
        """Fail a job whose record could not be written; if even that cannot be written (the disk
        is still full), keep trying in the background so the record is right once there is room."""
        kind = "disk_full" if is_disk_full(exc) else "state_unavailable"
        log.error("job bookkeeping failed", extra={"ctx": {"job_id": job_id, "error_kind": kind, "error": str(exc)}})
        error = job_error(kind, f"the job's state could not be written to the state store: {exc}", None)
        if not await self._record_failure(job_id, error) and self._tg is not None:
            self._tg.start_soon(self._record_failure_later, job_id, error)

    async def _record_failure(self, job_id: str, error: dict[str, Any]) -> bool:
        """Write the job's failure; while that is impossible, the pool answers for the record itself
        (:meth:`current`) and the host already got its ``job.status``. True once it is written."""
        try:
            record = await self.store.get(job_id)
        except BOOKKEEPING_ERRORS:
            return False
        if record is None or record.status not in (QUEUED, RUNNING):
            self._unrecorded.pop(job_id, None)
            return True
        announced = self._unrecorded.get(job_id)
        finished_at = announced.finished_at if announced is not None else utc_now()  # the time the host was told
        try:
            if record.status == QUEUED:
                # It failed on its way to running (that move was not written): queued -> failed is
                # not a move the table allows, so record the start it had, then the failure.
                await self.store.transition(job_id, RUNNING, started_at=finished_at)
            updated = await self.store.transition(job_id, FAILED, error=error, finished_at=finished_at)
        except BOOKKEEPING_ERRORS:
            if announced is None:
                failed = msgspec.structs.replace(
                    record, status=FAILED, error=error, finished_at=finished_at, updated_at=finished_at
                )
                self._unrecorded[job_id] = failed
                await self._moved(record, failed)
            return False
        if self._unrecorded.pop(job_id, None) is None:
            await self._moved(record, updated)
        return True

    def current(self, record: JobRecord) -> JobRecord:
        """``record`` as the pool knows it: a failure the store could not take yet wins."""
        return self._unrecorded.get(record.job_id, record)

    async def _record_failure_later(self, job_id: str, error: dict[str, Any]) -> None:
        for _ in range(BOOKKEEPING_RETRIES):
            await anyio.sleep(BOOKKEEPING_RETRY_S)
            if await self._record_failure(job_id, error):
                log.info("failed job recorded after a retry", extra={"ctx": {"job_id": job_id}})
                return
        log.error("failed job never recorded; the next start marks it interrupted", extra={"ctx": {"job_id": job_id}})

    async def _transition(
        self, record: JobRecord, status: str, *, recovered: bool = False, requeued_as: str | None = None, **fields: Any
    ) -> JobRecord:
        updated = await self.store.transition(record.job_id, status, **fields)
        await self._moved(record, updated, recovered=recovered, requeued_as=requeued_as)
        return updated

    async def _moved(
        self, before: JobRecord, after: JobRecord, *, recovered: bool = False, requeued_as: str | None = None
    ) -> None:
        """Count a transition and announce it with ``job.status``."""
        self.counts[before.status] -= 1
        self.counts[after.status] += 1
        await self._send_status(after, before.status, recovered=recovered, requeued_as=requeued_as)
        if after.status in TERMINAL:
            for observer in self.finished_observers:
                observer(after)

    async def _send_status(
        self, record: JobRecord, previous: JobStatus | None, *, recovered: bool = False, requeued_as: str | None = None
    ) -> None:
        await self.services.notify("job.status", status_note(record, previous, recovered, requeued_as))

    async def _send_progress(self, job_id: str, value: float, message: str | None) -> None:
        await self.services.notify(
            "job.progress", JobProgressNote(job_id=job_id, progress=round(value, 4), message=message)
        )
