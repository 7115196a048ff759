"""Params and results of the ``schedules.*`` methods, the schedule record, firings, notifications.

Light on purpose (msgspec only): the method surface imports this before READY, while the
cron library and the zone database load with the engine.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from msgspec import Meta, Struct

#: The longest interval of an every-N-seconds trigger: ten years (longer is a mistake, not a schedule).
MAX_EVERY_S: Final = 10 * 366 * 86_400

Missed = Literal["skip", "catch_up"]
Overlap = Literal["skip", "queue"]
Outcome = Literal["submitted", "skipped", "caught_up"]
#: Why a firing went the way it did: null for an on-time one.
Reason = Literal["offline", "asleep", "overlap", "paused", "error", "run_now"]
Origin = Literal["local"]

ScheduleId = Annotated[str, Meta(min_length=1, max_length=64)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]


class Trigger(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """When a schedule is due: exactly one of every_s and cron.

    every_s: every N seconds (1 .. ten years), counted from the time the trigger was set.
    cron: a five-field cron expression (minute hour day-of-month month day-of-week: lists,
    ranges, steps, month and day names, ``L`` for the last day of the month, ``MON#2``).
    timezone: with cron only: the IANA zone its times are read in (default: the system's zone
    when the schedule is created; the record shows the zone chosen).
    """

    every_s: Annotated[int, Meta(ge=1, le=MAX_EVERY_S)] | None = None
    cron: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    timezone: Annotated[str, Meta(min_length=1, max_length=100)] | None = None

    def __post_init__(self) -> None:
        if (self.every_s is None) == (self.cron is None):
            raise ValueError("give exactly one of every_s and cron")
        if self.timezone is not None and self.cron is None:
            raise ValueError("timezone goes with cron only")


class JobSpec(Struct, forbid_unknown_fields=True):
    """The job each firing submits, exactly as jobs.submit takes it: type and payload."""

    type: Annotated[str, Meta(min_length=1)]
    payload: dict[str, Any] = {}


class CreateParams(Struct, forbid_unknown_fields=True):
    """name: a label for people. trigger: when it is due. job: what each firing submits.
    missed: due times that passed while the sidecar was not running, or the machine slept:
    skip (default: one skipped firing records them) or catch_up (the job runs once).
    overlap: a firing while the previous firing's job is still queued or running: skip (default)
    or queue (it waits for that job to end; at most one waits). enabled: false creates it paused.
    """

    name: Name
    trigger: Trigger
    job: JobSpec
    missed: Missed = "skip"
    overlap: Overlap = "skip"
    enabled: bool = True


class UpdateParams(Struct, forbid_unknown_fields=True):
    """schedule_id: the schedule. Every other member is optional and replaces the current value;
    a new trigger starts counting from the time of the update."""

    schedule_id: ScheduleId
    name: Name | None = None
    trigger: Trigger | None = None
    job: JobSpec | None = None
    missed: Missed | None = None
    overlap: Overlap | None = None
    enabled: bool | None = None


class ScheduleIdParams(Struct, forbid_unknown_fields=True):
    """schedule_id: the schedule."""

    schedule_id: ScheduleId


class HistoryParams(Struct, forbid_unknown_fields=True):
    """schedule_id: the schedule. limit: most firings returned, newest first (default 100, at most 1000)."""

    schedule_id: ScheduleId
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100


class ScheduleRecord(Struct):
    """A schedule as schedules.get and schedules.list return it.

    schedule_id: a UUIDv7. name, trigger, job, missed, overlap: as created or updated (trigger
    with the zone chosen for a cron). enabled: false while paused. next_due_at: the next due time
    (ISO 8601 UTC; null while paused or when the cron has no further time). last_due_at: the due
    time of the latest firing. last_outcome: submitted, skipped or caught_up. last_job_id: the job
    of the latest firing that submitted one. created_at, updated_at: ISO 8601 UTC. origin: where
    the schedule was defined (``local``: by this app through schedules.create).
    """

    schedule_id: str
    name: str
    trigger: Trigger
    job: JobSpec
    missed: Missed
    overlap: Overlap
    enabled: bool
    next_due_at: str | None
    last_due_at: str | None
    last_outcome: Outcome | None
    last_job_id: str | None
    created_at: str
    updated_at: str
    origin: Origin = "local"


class ListResult(Struct):
    """schedules: every schedule, oldest first."""

    schedules: list[ScheduleRecord]


class DeleteResult(Struct):
    """schedule_id: the schedule deleted (with its firing history; its jobs are left alone). deleted: true."""

    schedule_id: str
    deleted: bool


class Firing(Struct):
    """One entry of a schedule's history: what happened at a due time (or at schedules.run_now).

    firing_id: increasing. due_at: the (latest) due time it stands for, ISO 8601 UTC (null for
    run_now). first_due_at: the earliest one (equal to due_at for a single due time). fired_at:
    when it was recorded. outcome: submitted (a job was queued), skipped (none was), caught_up
    (one job for due times that were missed). reason: null for an on-time firing; offline, asleep
    (missed), overlap, paused, error (skipped), run_now. count: due times it stands for (0 for
    run_now). job_id: the job it queued. error: {kind, message} when the job could not be queued.
    """

    firing_id: int
    schedule_id: str
    due_at: str | None
    first_due_at: str | None
    fired_at: str
    outcome: Outcome
    reason: Reason | None
    count: int
    job_id: str | None
    error: dict[str, Any] | None = None


class HistoryResult(Struct):
    """firings: the schedule's latest firings, newest first (the last 1000 are kept)."""

    firings: list[Firing]


class ScheduleFiredNote(Struct, omit_defaults=True):
    """``schedule.fired``: a firing queued a job.

    schedule_id, job_id: the schedule and the job. due_at: the (latest) due time it stands for
    (null for run_now). outcome: submitted or caught_up. count: due times it stands for.
    first_due_at: the earliest of them. reason: absent for an on-time firing; offline or asleep
    for a catch-up; run_now.
    """

    schedule_id: str
    due_at: str | None
    job_id: str
    outcome: Outcome
    count: int
    first_due_at: str | None = None
    reason: Reason | None = None


class ScheduleSkippedNote(Struct, omit_defaults=True):
    """``schedule.skipped``: due times passed without a job.

    schedule_id: the schedule. due_at: the latest of them. count: how many. first_due_at: the
    earliest. reason: offline, asleep, overlap, paused or error. error: {kind, message} for error.
    """

    schedule_id: str
    due_at: str
    count: int
    reason: Reason
    first_due_at: str | None = None
    error: dict[str, Any] | None = None


class SchedulerFigures(Struct):
    """``system.status.scheduler``. running: the scheduler loop runs (false before the engine
    started). schedules: how many exist. enabled: how many are not paused. next_due_at: the
    earliest next due time of an enabled schedule (ISO 8601 UTC), or null."""

    running: bool = False
    schedules: int = 0
    enabled: int = 0
    next_due_at: str | None = None
