"""Faults around the queue: Redis down at submit time, a worker killed mid-grading, double
submits. A real Redis, real RQ workers and the Docker sandbox."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from app.extensions import db
from app.models import Submission
from app.reconcile import reconcile

from ..conftest import spawn_worker
from .conftest import remove_sandboxes_of

pytestmark = pytest.mark.docker

SOLUTION = "def total(items):\n    return sum(items)\n"
SLOW_SOLUTION = "import time\n\n\ndef total(items):\n    time.sleep(2)\n    return sum(items)\n"


def _submit(client, invite, source=SOLUTION, mode="submit"):
    client.post(f"/api/v1/invites/{invite.token}/start")
    return client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": source}, "mode": mode},
    )


def _children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                children.append(int(entry.name))
    return children


def test_redis_down_at_submit_keeps_the_submission_and_grades_it_later(
    web_app, client, invite, run_worker, docker_sandbox
):
    real_redis = web_app.config["REDIS_URL"]
    web_app.config["REDIS_URL"] = "redis://127.0.0.1:6390/15"  # nothing listens here
    response = _submit(client, invite)
    assert response.status_code == 202
    submission = db.session.get(Submission, response.get_json()["id"])
    assert submission.status == "queued" and submission.enqueued_at is None

    assert reconcile().redis_down is True  # still down: nothing lost, nothing changed
    web_app.config["REDIS_URL"] = real_redis  # Redis is back
    assert reconcile().requeued == 1
    run_worker()
    db.session.refresh(submission)
    assert submission.status == "graded" and submission.score == 4


def test_double_submit_is_refused_while_the_first_is_grading(client, invite):
    first = _submit(client, invite)
    second = _submit(client, invite)
    assert first.status_code == 202
    assert second.status_code == 409
    assert "still being graded" in second.get_json()["error"]


def test_submissions_after_the_time_limit_are_refused_and_the_last_stands(
    client, invite, run_worker, docker_sandbox
):
    assert _submit(client, invite).status_code == 202
    run_worker()
    invite.started_at = invite.started_at.replace(year=invite.started_at.year - 1)
    db.session.commit()
    late = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": "def total(items):\n    return 0\n"}, "mode": "submit"},
    )
    assert late.status_code == 403
    assert "Time is up" in late.get_json()["error"]
    overview = client.get(f"/api/v1/invites/{invite.token}").get_json()
    assert overview["challenges"][0]["last_submission"]["score"] == 4


def test_worker_killed_mid_grading_ends_graded_not_stuck(
    web_app, client, invite, run_worker, docker_sandbox, tmp_path
):
    web_app.config["RECONCILE_STALE_SECONDS"] = 3
    response = _submit(client, invite, SLOW_SOLUTION)
    submission = db.session.get(Submission, response.get_json()["id"])
    worker = spawn_worker(
        database_url=web_app.config["SQLALCHEMY_DATABASE_URI"],
        redis_url=web_app.config["REDIS_URL"],
        queues=[web_app.config["GRADING_QUEUE"]],
        challenges_dir=web_app.config["CHALLENGES_DIR"],
        extra_env={"FAULTLINE_JOB_HEARTBEAT_SECONDS": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db.session.refresh(submission)
            if submission.status == "running":
                break
            time.sleep(0.2)
        assert submission.status == "running", "the worker never picked the job up"
        time.sleep(1)
        # The host dies mid-grading: the worker and its work horse (RQ puts the horse in a
        # process group of its own) are killed at once.
        horses = _children(worker.pid)
        assert horses, "the worker had no work horse"
        for pid in [worker.pid, *horses]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        remove_sandboxes_of("trivial-sum:hidden")

    db.session.refresh(submission)
    assert submission.status == "running"  # what a dead worker leaves behind
    time.sleep(6)  # its heartbeat (every second while alive) goes stale
    outcome = reconcile()
    assert outcome.requeued == 1
    run_worker()
    db.session.refresh(submission)
    assert submission.status == "graded" and submission.score == 4
    assert submission.attempts == 2


def test_a_running_submission_whose_job_redis_lost_is_left_to_its_worker_until_overdue(
    web_app, client, invite
):
    """Redis restarted and kept nothing: a running submission's job and heartbeat are gone,
    but a live worker may still be grading it. Queued again only once no grade could be."""
    from datetime import timedelta

    from rq.job import Job

    from app.models import utcnow
    from app.queue import job_id_for, redis_connection
    from app.reconcile import REPORT_GRACE_SECONDS
    from grader.sandbox.base import STARTUP_GRACE_SECONDS

    submission = db.session.get(Submission, _submit(client, invite).get_json()["id"])
    Job.fetch(job_id_for(submission), connection=redis_connection()).delete()
    submission.status, submission.started_at, submission.attempts = "running", utcnow(), 1
    db.session.commit()
    assert reconcile().requeued == 0
    assert submission.status == "running"

    wall = submission.challenge.payload["spec"]["limits"]["wall_seconds"]
    overdue = wall + STARTUP_GRACE_SECONDS + REPORT_GRACE_SECONDS + 1
    submission.started_at = utcnow() - timedelta(seconds=overdue)
    db.session.commit()
    assert reconcile().requeued == 1
    assert submission.status == "queued"
