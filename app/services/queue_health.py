"""The grading queue's health for admins: submission counts from the database, the RQ
registries and workers from Redis, and putting a failed submission back in the queue.

The database half always answers; when Redis does not, the Redis half says so instead of
failing the page."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Submission, SubmissionStatus, utcnow
from app.queue import (
    background_queue,
    candidate_queues,
    enqueue_submission,
    job_id_for,
    redis_connection,
)

FAILED_STATUSES = (
    SubmissionStatus.ERROR,
    SubmissionStatus.INFRA_ERROR,
    SubmissionStatus.TIMEOUT,
    SubmissionStatus.OOM,
)
RECENT = timedelta(hours=24)
FAILED_JOBS_SHOWN = 20
FAILED_SUBMISSIONS_SHOWN = 20
EXC_INFO_LIMIT = 8000
# A job still waiting or running must not be replaced by a requeue.
LIVE_JOB_STATUSES = {
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.DEFERRED,
    JobStatus.SCHEDULED,
}


class RequeueRefused(ValueError):
    pass


@dataclass
class SubmissionCounts:
    queued: int
    running: int
    failed_recent: int
    graded_recent: int
    oldest_queued_seconds: int | None


@dataclass
class WorkerInfo:
    name: str
    state: str
    current_job: str | None
    last_heartbeat: str | None


@dataclass
class FailedJob:
    job_id: str
    submission_id: int | None
    submission_status: str | None
    ended_at: str | None
    exc_info: str


@dataclass
class RedisHealth:
    answers: bool
    problem: str | None = None
    registries: dict[str, int] = field(default_factory=dict)
    background_registries: dict[str, int] = field(default_factory=dict)
    workers: list[WorkerInfo] = field(default_factory=list)
    failed_jobs: list[FailedJob] = field(default_factory=list)


@dataclass
class FailedSubmission:
    id: int
    status: str
    detail: str
    challenge: str
    candidate: str
    mode: str
    is_regrade: bool
    finished_at: str | None


@dataclass
class QueueHealth:
    queue_name: str
    checked_at: str
    counts: SubmissionCounts
    redis: RedisHealth
    failed_submissions: list[FailedSubmission]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def queue_health(now: datetime | None = None) -> QueueHealth:
    now = now or utcnow()
    return QueueHealth(
        queue_name=current_app.config["GRADING_QUEUE"],
        checked_at=_iso(now),
        counts=submission_counts(now),
        redis=redis_health(),
        failed_submissions=recent_failures(),
    )


def submission_counts(now: datetime) -> SubmissionCounts:
    since = now - RECENT
    by_status = dict(
        db.session.execute(
            select(Submission.status, func.count())
            .where(Submission.status.in_([SubmissionStatus.QUEUED, SubmissionStatus.RUNNING]))
            .group_by(Submission.status)
        ).all()
    )
    finished_recently = dict(
        db.session.execute(
            select(Submission.status, func.count())
            .where(Submission.finished_at >= since)
            .group_by(Submission.status)
        ).all()
    )
    oldest = db.session.scalar(
        select(func.min(Submission.created_at)).where(Submission.status == SubmissionStatus.QUEUED)
    )
    return SubmissionCounts(
        queued=by_status.get(SubmissionStatus.QUEUED, 0),
        running=by_status.get(SubmissionStatus.RUNNING, 0),
        failed_recent=sum(finished_recently.get(status, 0) for status in FAILED_STATUSES),
        graded_recent=finished_recently.get(SubmissionStatus.GRADED, 0),
        oldest_queued_seconds=max(0, int((now - oldest).total_seconds())) if oldest else None,
    )


def redis_health() -> RedisHealth:
    """Registries of the grading and the background queue, the workers serving either, and
    the grading queue's failed jobs; read only (no cleanup)."""
    try:
        connection = redis_connection()
        front, queue = candidate_queues(connection)
        background = background_queue(connection)
        workers = {
            worker.name: _worker_info(worker)
            for served in (front, queue, background)
            for worker in Worker.all(queue=served)
        }
        health = RedisHealth(
            answers=True,
            registries=_registries(front, queue),
            background_registries=_registries(background),
            workers=sorted(workers.values(), key=lambda w: w.name),
            failed_jobs=_failed_jobs(front) + _failed_jobs(queue) + _failed_jobs(background),
        )
    except RedisError as exc:
        return RedisHealth(answers=False, problem=str(exc) or exc.__class__.__name__)
    return health


def _registries(*queues: Queue) -> dict[str, int]:
    """Jobs per registry, over ``queues`` together (the grading queue and its front)."""
    return {
        "queued": sum(queue.count for queue in queues),
        "started": sum(StartedJobRegistry(queue=q).get_job_count(cleanup=False) for q in queues),
        "failed": sum(FailedJobRegistry(queue=q).get_job_count(cleanup=False) for q in queues),
        "scheduled": sum(
            ScheduledJobRegistry(queue=q).get_job_count(cleanup=False) for q in queues
        ),
        "deferred": sum(DeferredJobRegistry(queue=q).get_job_count(cleanup=False) for q in queues),
    }


def _worker_info(worker: Worker) -> WorkerInfo:
    return WorkerInfo(
        name=worker.name,
        state=str(worker.get_state()),
        current_job=worker.get_current_job_id(),
        last_heartbeat=_iso(worker.last_heartbeat),
    )


def _failed_jobs(queue) -> list[FailedJob]:
    registry = FailedJobRegistry(queue=queue)
    job_ids = registry.get_job_ids(0, FAILED_JOBS_SHOWN - 1, desc=True, cleanup=False)
    jobs = [job for job in Job.fetch_many(job_ids, connection=queue.connection) if job]
    ids = {job.id: submission_id_of(job.id) for job in jobs}
    statuses = _statuses([sid for sid in ids.values() if sid is not None])
    failed = []
    for job in jobs:
        result = job.latest_result()
        exc_info = (result.exc_string if result else None) or "(no traceback recorded)"
        submission_id = ids[job.id]
        failed.append(
            FailedJob(
                job_id=job.id,
                submission_id=submission_id,
                submission_status=statuses.get(submission_id) if submission_id else None,
                ended_at=_iso(job.ended_at),
                exc_info=exc_info[-EXC_INFO_LIMIT:],
            )
        )
    return failed


def submission_id_of(job_id: str) -> int | None:
    """The submission a grading job id names (see app.queue.job_id_for), else None."""
    prefix = f"{current_app.config['GRADING_QUEUE']}-submission-"
    tail = job_id.removeprefix(prefix)
    return int(tail) if tail != job_id and tail.isdigit() else None


def _statuses(submission_ids: list[int]) -> dict[int, str]:
    if not submission_ids:
        return {}
    rows = db.session.execute(
        select(Submission.id, Submission.status).where(Submission.id.in_(submission_ids))
    ).all()
    return dict(rows)


def recent_failures() -> list[FailedSubmission]:
    rows = db.session.scalars(
        select(Submission)
        .options(selectinload(Submission.invite), selectinload(Submission.challenge))
        .where(Submission.status.in_(list(FAILED_STATUSES)))
        .order_by(Submission.finished_at.desc(), Submission.id.desc())
        .limit(FAILED_SUBMISSIONS_SHOWN)
    ).all()
    return [
        FailedSubmission(
            id=s.id,
            status=s.status,
            detail=(s.report or {}).get("status_detail", ""),
            challenge=f"{s.challenge.slug} v{s.challenge.version}",
            candidate=s.invite.candidate_name,
            mode=s.mode,
            is_regrade=s.regrade_of_id is not None,
            finished_at=_iso(s.finished_at),
        )
        for s in rows
    ]


def requeue(submission: Submission) -> bool:
    """Grade a failed submission again from scratch: its failure report and attempt count are
    cleared, its old RQ job removed, and it is queued. True if Redis took the job; False if it
    waits in the database for the reconciler."""
    if submission.status not in FAILED_STATUSES:
        raise RequeueRefused(
            f"submission {submission.id} is {submission.status}; only failed submissions "
            f"({', '.join(FAILED_STATUSES)}) can be requeued"
        )
    try:
        job = Job.fetch(job_id_for(submission), connection=redis_connection())
    except (NoSuchJobError, RedisError):
        job = None
    if job is not None:
        try:
            if job.get_status() in LIVE_JOB_STATUSES:
                raise RequeueRefused(f"submission {submission.id} already has a job waiting")
            job.delete()
        except RedisError:
            pass
    submission.status = SubmissionStatus.QUEUED
    submission.attempts = 0
    submission.report = None
    submission.score = submission.max_score = None
    submission.started_at = submission.finished_at = None
    db.session.commit()
    return enqueue_submission(submission)


def _iso(value: datetime | None) -> str | None:
    """UTC as ISO 8601 with a Z; the database stores naive UTC, RQ aware UTC."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"
