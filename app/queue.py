"""The grading queue: RQ on Redis. The queue only ever carries submission ids."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.extensions import db
from app.models import UNFINISHED, Submission, utcnow

INFRA_RETRIES = 3
INFRA_RETRY_SECONDS = [5, 20, 60]
JOB_TIMEOUT_MARGIN_SECONDS = 60
BACKGROUND_QUEUE_SUFFIX = "-background"
FRONT_QUEUE_SUFFIX = "-first"


def redis_connection() -> Redis:
    return Redis.from_url(
        current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10
    )


def grading_queue(connection: Redis | None = None) -> Queue:
    """Candidates' runs and submissions, served by the Procfile's `worker` processes."""
    return Queue(current_app.config["GRADING_QUEUE"], connection=connection or redis_connection())


def front_queue(connection: Redis | None = None) -> Queue:
    """The grading queue's front: a candidate's job that is their only one in flight. Workers
    take these before the grading queue, so every waiting candidate's first job is graded
    before anyone's second: candidates are served in turn, not first come, first served."""
    name = current_app.config["GRADING_QUEUE"] + FRONT_QUEUE_SUFFIX
    return Queue(name, connection=connection or redis_connection())


def candidate_queues(connection: Redis | None = None) -> list[Queue]:
    """The queues candidates' jobs wait in, in the order workers take them."""
    connection = connection or redis_connection()
    return [front_queue(connection), grading_queue(connection)]


def background_queue(connection: Redis | None = None) -> Queue:
    """Admins' long work (challenge verifications, regrade batches), served by the Procfile's
    `background` process, so a candidate never waits behind it."""
    name = current_app.config["GRADING_QUEUE"] + BACKGROUND_QUEUE_SUFFIX
    return Queue(name, connection=connection or redis_connection())


def queue_for(submission: Submission) -> Queue:
    if submission.regrade_of_id is not None:
        return background_queue()
    return grading_queue() if _others_in_flight(submission) else front_queue()


def _others_in_flight(submission: Submission) -> bool:
    """The candidate has another run or submission waiting or being graded."""
    return (
        db.session.scalar(
            select(Submission.id)
            .where(
                Submission.invite_id == submission.invite_id,
                Submission.id != submission.id,
                Submission.regrade_of_id.is_(None),
                Submission.status.in_(list(UNFINISHED)),
            )
            .limit(1)
        )
        is not None
    )


def job_id_for(submission: Submission) -> str:
    """The RQ job id: one per submission, namespaced by queue so deployments sharing a Redis
    never collide."""
    return f"{current_app.config['GRADING_QUEUE']}-submission-{submission.id}"


def job_id_for_version(version_id: int) -> str:
    """The one verification job a version can have at a time."""
    return f"{current_app.config['GRADING_QUEUE']}-verification-{version_id}"


def enqueue_submission(submission: Submission) -> bool:
    """Put the submission's id on the queue; False (and the row stays queued) if Redis is down.

    The job id is derived from the submission id and the job is unique, so a double click or a
    reconciler racing a worker cannot grade the same submission twice at once.
    """
    timeout = submission.challenge.limits.wall_seconds + JOB_TIMEOUT_MARGIN_SECONDS
    try:
        queue_for(submission).enqueue_call(
            "app.tasks.grade_submission",
            args=(submission.id,),
            job_id=job_id_for(submission),
            timeout=timeout,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            retry=Retry(max=INFRA_RETRIES, interval=INFRA_RETRY_SECONDS),
            unique=True,
            description=f"grade submission {submission.id}",
        )
    except RedisError:
        current_app.logger.warning("Redis unavailable: submission %s waits", submission.id)
        return False
    except DuplicateJobError:
        pass  # already queued or running: nothing to do
    submission.enqueued_at = utcnow()
    db.session.commit()
    return True


def queue_position(submission: Submission) -> int | None:
    """1-based position among the candidates' waiting jobs (the front queue's first), or None
    when not waiting (or Redis is down)."""
    try:
        job_ids = [job_id for queue in candidate_queues() for job_id in queue.get_job_ids()]
    except RedisError:
        return None
    try:
        return job_ids.index(job_id_for(submission)) + 1
    except ValueError:
        return None


WAITING = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def job_alive(job: Job, stale_seconds: float) -> bool:
    """Waiting jobs are alive; a started job is alive while its worker keeps beating."""
    status = job.get_status()
    if status in WAITING:
        return True
    if status != JobStatus.STARTED:
        return False
    beat = job.last_heartbeat or job.started_at
    if beat is None:
        return True
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return (datetime.now(UTC) - beat).total_seconds() < stale_seconds
