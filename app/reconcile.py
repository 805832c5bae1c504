"""No submission stays queued or running forever.

Run at worker start-up and periodically: submissions whose job is gone (Redis was down at submit
time, a worker was killed, the job failed) are enqueued again, or failed as an infrastructure
error once they have used their attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from app.extensions import db
from app.models import UNFINISHED, Submission, SubmissionStatus, utcnow
from app.queue import (
    INFRA_RETRIES,
    background_queue,
    candidate_queues,
    enqueue_submission,
    job_alive,
    job_id_for,
    redis_connection,
)
from grader.report import infra_error_report
from grader.sandbox.base import STARTUP_GRACE_SECONDS
from grader.spec import PLATFORM_MAX_LIMITS, challenge_from_payload

REPORT_GRACE_SECONDS = 60  # after the sandbox is gone: reading the record, storing the report


@dataclass
class Reconciled:
    requeued: int = 0
    failed: int = 0
    redis_down: bool = False


def reconcile() -> Reconciled:
    result = Reconciled()
    stale_seconds = current_app.config["RECONCILE_STALE_SECONDS"]
    try:
        connection = redis_connection()
        connection.ping()
        for queue in (*candidate_queues(connection), background_queue(connection)):
            StartedJobRegistry(queue=queue).cleanup()
    except RedisError:
        result.redis_down = True
        return result
    stuck = db.session.scalars(
        select(Submission).where(Submission.status.in_(list(UNFINISHED)))
    ).all()
    for submission in stuck:
        try:
            job = Job.fetch(job_id_for(submission), connection=connection)
        except NoSuchJobError:
            job = None
        except RedisError:
            result.redis_down = True
            return result
        if job is not None and job_alive(job, stale_seconds):
            continue
        if job is None and _may_still_be_grading(submission):
            continue
        if submission.attempts > INFRA_RETRIES:
            _fail(submission, "grading was interrupted repeatedly (worker lost)")
            result.failed += 1
            continue
        if job is not None:
            job.delete()
        submission.status = SubmissionStatus.QUEUED
        db.session.commit()
        if enqueue_submission(submission):
            result.requeued += 1
        else:
            result.redis_down = True
            return result
    if result.requeued or result.failed or stuck:
        _prune_sandboxes()
    if result.requeued or result.failed:
        current_app.logger.info("reconciler: %s", result)
    return result


def _may_still_be_grading(submission: Submission) -> bool:
    """A running submission whose job Redis no longer has (Redis restarted, keeping nothing)
    may still be in a live worker's hands: its heartbeat went with Redis. It is queued again
    only once no grade could still be running, so that it is never graded twice at once."""
    if submission.status != SubmissionStatus.RUNNING or submission.started_at is None:
        return False
    wall = submission.challenge.payload["spec"]["limits"]["wall_seconds"]
    running_for = (utcnow() - submission.started_at).total_seconds()
    return running_for < wall + STARTUP_GRACE_SECONDS + REPORT_GRACE_SECONDS


def _prune_sandboxes() -> None:
    """Remove sandbox containers a killed worker left behind (never a live grade's)."""
    from grader.sandbox.docker import prune_leftovers  # deferred: the Docker SDK is heavy

    try:
        prune_leftovers(older_than_seconds=PLATFORM_MAX_LIMITS["wall_seconds"] + 120)
    except Exception as exc:  # Docker may be absent (local sandbox): not the reconciler's job
        current_app.logger.debug("sandbox prune skipped: %s", exc)


def _fail(submission: Submission, reason: str) -> None:
    challenge = challenge_from_payload(submission.challenge.payload)
    submission.finish(infra_error_report(challenge, submission.tests, reason))
    db.session.commit()
