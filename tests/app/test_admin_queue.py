"""The admins' queue page: real counts from real rows and the real Redis, failed jobs with
their tracebacks, requeueing a failed submission, and a page that survives Redis being down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Worker
from rq.job import Job
from rq.registry import FailedJobRegistry

from app.extensions import db
from app.models import ChallengeVersion, Submission, utcnow
from app.queue import (
    background_queue,
    candidate_queues,
    enqueue_submission,
    grading_queue,
    job_id_for,
    redis_connection,
)
from app.services.library import current_versions

from .conftest import log_in

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _submission(invite, status: str, **fields) -> Submission:
    version = current_versions()[0]
    submission = Submission(
        invite_id=invite.id,
        challenge_version_id=version.id,
        mode="submit",
        files={"calc.py": version.payload["starter"]["calc.py"]},
        status=status,
        **fields,
    )
    db.session.add(submission)
    db.session.commit()
    return submission


def test_queue_pages_are_for_admins_only(client, staff):
    page = client.get("/admin/queue")
    assert page.status_code == 302 and "/login" in page.location
    assert client.get("/admin/queue.json").status_code == 401
    log_in(client, staff.interviewer)
    assert client.get("/admin/queue").status_code == 403
    assert client.get("/admin/queue.json").status_code == 403


def test_counts_come_from_the_rows_and_the_registries_from_redis(client, staff, invite):
    now = utcnow()
    oldest = _submission(invite, "queued", created_at=now - timedelta(minutes=7))
    enqueue_submission(oldest)
    enqueue_submission(_submission(invite, "queued", created_at=now - timedelta(minutes=1)))
    _submission(invite, "running", started_at=now)
    for status in ("error", "infra_error", "timeout", "oom"):
        _submission(invite, status, finished_at=now - timedelta(hours=1))
    _submission(invite, "error", finished_at=now - timedelta(hours=30))  # too old to count
    _submission(invite, "graded", finished_at=now - timedelta(hours=2), score=4, max_score=4)
    _submission(invite, "graded", finished_at=now - timedelta(days=3), score=4, max_score=4)
    log_in(client, staff.admin)

    data = client.get("/admin/queue.json").get_json()
    counts = data["counts"]
    assert (counts["queued"], counts["running"]) == (2, 1)
    assert (counts["failed_recent"], counts["graded_recent"]) == (4, 1)
    assert 7 * 60 <= counts["oldest_queued_seconds"] < 9 * 60
    assert data["redis"]["answers"] is True
    assert data["redis"]["registries"] == {
        "queued": 2,
        "started": 0,
        "failed": 0,
        "scheduled": 0,
        "deferred": 0,
    }
    assert data["queue_name"] == client.application.config["GRADING_QUEUE"]

    page = client.get("/admin/queue").get_data(as_text=True)
    assert 'data-field="counts.queued">2<' in page
    assert 'data-field="counts.failed_recent">4<' in page
    assert "7 min" in page
    assert "Redis does not answer" in page  # present, hidden until Redis fails
    assert "data-redis-down hidden" in page


def test_waiting_verifications_and_the_background_worker_are_shown_beside_grading(
    client, staff, web_app
):
    from app.services.verification import request_verification

    request_verification(current_versions()[0])
    connection = redis_connection()
    background = Worker([background_queue(connection)], connection=connection, name="background-t")
    background.register_birth()
    try:
        log_in(client, staff.admin)
        redis = client.get("/admin/queue.json").get_json()["redis"]
        assert redis["background_registries"]["queued"] == 1
        assert redis["registries"]["queued"] == 0
        assert [w["name"] for w in redis["workers"]] == ["background-t"]
        page = client.get("/admin/queue").get_data(as_text=True)
        assert 'data-field="redis.background_registries.queued">1<' in page
    finally:
        background.register_death()
        background_queue(connection).delete(delete_jobs=True)


def test_workers_listening_on_the_queue_are_listed(client, staff, web_app):
    connection = redis_connection()
    worker = Worker([grading_queue(connection)], connection=connection, name="ops-test-worker")
    worker.register_birth()
    try:
        worker.set_state("busy")
        worker.heartbeat()
        log_in(client, staff.admin)
        workers = client.get("/admin/queue.json").get_json()["redis"]["workers"]
        assert [(w["name"], w["state"]) for w in workers] == [("ops-test-worker", "busy")]
        assert workers[0]["last_heartbeat"].endswith("Z")
        assert "ops-test-worker" in client.get("/admin/queue").get_data(as_text=True)
    finally:
        worker.register_death()


def _broken_version() -> ChallengeVersion:
    """A stored version whose payload no longer matches its hash: grading it crashes."""
    good = current_versions()[0]
    payload = dict(good.payload, content_hash="0" * 64)
    broken = ChallengeVersion(
        slug=good.slug,
        version=good.version + 100,
        content_hash="broken-" + good.content_hash[:40],
        title=good.title,
        summary=good.summary,
        difficulty=good.difficulty,
        time_limit_minutes=good.time_limit_minutes,
        payload=payload,
        status="retired",
    )
    db.session.add(broken)
    db.session.commit()
    return broken


def _crash_grading_job(invite, run_worker) -> Submission:
    """A real grading job that crashes and lands in RQ's failed registry, as one does once its
    retries are used up (enqueued here without retries, so the test need not wait for them)."""
    submission = _submission(invite, "queued")
    submission.challenge_version_id = _broken_version().id
    db.session.commit()
    grading_queue().enqueue_call(
        "app.tasks.grade_submission", args=(submission.id,), job_id=job_id_for(submission)
    )
    run_worker()
    return submission


def test_a_crashed_grading_job_shows_its_traceback(client, staff, invite, run_worker):
    submission = _crash_grading_job(invite, run_worker)

    log_in(client, staff.admin)
    data = client.get("/admin/queue.json").get_json()
    assert data["redis"]["registries"]["failed"] == 1
    [failed] = data["redis"]["failed_jobs"]
    assert failed["job_id"] == job_id_for(submission)
    assert failed["submission_id"] == submission.id
    assert "Traceback" in failed["exc_info"] and "ChallengeError" in failed["exc_info"]
    page = client.get("/admin/queue").get_data(as_text=True)
    assert job_id_for(submission) in page and "ChallengeError" in page


def test_requeue_puts_a_failed_submission_back_on_the_queue(client, staff, invite, run_worker):
    submission = _crash_grading_job(invite, run_worker)
    # as the reconciler leaves it once the attempts are used up:
    submission.challenge_version_id = current_versions()[0].id
    submission.status, submission.attempts = "infra_error", 4
    submission.report, submission.score, submission.max_score = {"status": "x"}, 0, 4
    submission.finished_at = utcnow()
    db.session.commit()

    log_in(client, staff.admin)
    page = client.get("/admin/queue").get_data(as_text=True)
    assert f"/admin/queue/submissions/{submission.id}/requeue" in page
    response = client.post(f"/admin/queue/submissions/{submission.id}/requeue")
    assert response.status_code == 303
    db.session.expire_all()
    assert submission.status == "queued" and submission.attempts == 0
    assert submission.report is None and submission.finished_at is None
    # The candidate's only job in flight: it waits at the front (app/queue.py).
    front, queue = candidate_queues()
    assert (front.get_job_ids(), queue.get_job_ids()) == ([job_id_for(submission)], [])
    assert Job.fetch(job_id_for(submission), connection=queue.connection).get_status() == "queued"
    assert FailedJobRegistry(queue=queue).get_job_ids() == []


@pytest.mark.parametrize("status", ["graded", "queued", "running", "rejected"])
def test_only_failed_submissions_can_be_requeued(client, staff, invite, status):
    submission = _submission(invite, status)
    log_in(client, staff.admin)
    response = client.post(
        f"/admin/queue/submissions/{submission.id}/requeue", follow_redirects=True
    )
    assert "only failed submissions" in response.get_data(as_text=True)
    db.session.expire_all()
    assert submission.status == status
    assert [job for queue in candidate_queues() for job in queue.get_job_ids()] == []


def test_the_page_renders_when_redis_does_not_answer(client, staff, invite, web_app):
    _submission(invite, "queued", created_at=utcnow() - timedelta(minutes=3))
    log_in(client, staff.admin)
    web_app.config["REDIS_URL"] = DEAD_REDIS
    page = client.get("/admin/queue")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Redis does not answer" in html and "data-redis-up hidden" in html
    assert 'data-field="counts.queued">1<' in html
    data = client.get("/admin/queue.json").get_json()
    assert data["redis"]["answers"] is False and data["redis"]["problem"]
    assert data["counts"]["queued"] == 1


def test_a_requeue_while_redis_is_down_leaves_the_submission_queued_for_the_reconciler(
    client, staff, invite, web_app
):
    submission = _submission(invite, "infra_error", attempts=4, finished_at=utcnow())
    log_in(client, staff.admin)
    web_app.config["REDIS_URL"] = DEAD_REDIS
    response = client.post(
        f"/admin/queue/submissions/{submission.id}/requeue", follow_redirects=True
    )
    assert "reconciler will enqueue it" in response.get_data(as_text=True)
    db.session.expire_all()
    assert submission.status == "queued" and submission.attempts == 0
