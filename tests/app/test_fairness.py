"""One candidate cannot make the others wait: caps on their jobs being graded at once, on their
runs and submits per minute, and on what is kept per challenge (app/services/candidates.py);
and every candidate's first job in flight is graded before anyone's second (app/queue.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Invite, Submission, SubmissionStatus
from app.queue import candidate_queues
from app.worker import with_front_queue

SOLUTION = {"calc.py": "def total(items):\n    return sum(items)\n"}


def _send(client, invite, mode: str):
    return client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": SOLUTION, "mode": mode},
    )


def _finish_all(invite) -> None:
    """As if the worker had graded everything sent so far."""
    db.session.execute(
        update(Submission)
        .where(Submission.invite_id == invite.id)
        .values(status=SubmissionStatus.GRADED)
    )
    db.session.commit()


def _count(invite) -> int:
    return db.session.query(Submission).filter_by(invite_id=invite.id).count()


def test_jobs_in_flight_past_the_cap_are_refused_with_when_to_retry(web_app, client, invite):
    web_app.config["MAX_JOBS_IN_FLIGHT"] = 1
    client.post(f"/api/v1/invites/{invite.token}/start")
    assert _send(client, invite, "run").status_code == 202

    refused = _send(client, invite, "submit")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "5"
    assert refused.get_json() == {
        "error": "You already have 1 run or submission being graded; wait for a result, then "
        "try again."
    }
    assert _count(invite) == 1
    _finish_all(invite)
    assert _send(client, invite, "submit").status_code == 202


def test_runs_past_the_rate_limit_are_refused_until_the_oldest_leaves_the_minute(
    web_app, client, invite
):
    web_app.config["GRADES_PER_MINUTE"] = 3
    client.post(f"/api/v1/invites/{invite.token}/start")
    for _ in range(3):
        assert _send(client, invite, "run").status_code == 202
        _finish_all(invite)

    refused = _send(client, invite, "run")

    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 55 <= wait <= 60
    assert f"try again in {wait} s" in refused.get_json()["error"]
    assert _count(invite) == 3

    oldest = db.session.query(Submission).filter_by(invite_id=invite.id).order_by(Submission.id)
    first = oldest.first()
    first.created_at -= timedelta(seconds=wait)
    db.session.commit()
    assert _send(client, invite, "run").status_code == 202


def test_runs_past_the_per_challenge_cap_are_refused_and_nothing_is_stored(web_app, client, invite):
    web_app.config["MAX_SUBMISSIONS_PER_CHALLENGE"] = 2
    client.post(f"/api/v1/invites/{invite.token}/start")
    for mode in ("run", "submit"):
        assert _send(client, invite, mode).status_code == 202
    _finish_all(invite)

    refused = _send(client, invite, "run")

    assert refused.status_code == 409
    assert "2 runs and submissions on this challenge, the most kept" in refused.get_json()["error"]
    assert "Retry-After" not in refused.headers
    assert _count(invite) == 2


def _second_candidate(invite) -> Invite:
    other = Invite(assessment_id=invite.assessment_id, candidate_name="Honest Hana")
    db.session.add(other)
    db.session.commit()
    return other


@pytest.mark.docker
def test_a_candidates_second_job_waits_behind_every_other_candidates_first(
    client, invite, run_worker, docker_sandbox
):
    honest = _second_candidate(invite)
    for candidate in (invite, honest):
        client.post(f"/api/v1/invites/{candidate.token}/start")
    flood_run = _send(client, invite, "run").get_json()
    flood_submit = _send(client, invite, "submit").get_json()
    honest_run = _send(client, honest, "run").get_json()

    front, queue = candidate_queues()
    sent = {
        f"{queue.name}-submission-{s['id']}": s["id"] for s in (flood_run, flood_submit, honest_run)
    }
    assert [sent[job] for job in front.get_job_ids()] == [flood_run["id"], honest_run["id"]]
    assert [sent[job] for job in queue.get_job_ids()] == [flood_submit["id"]]
    positions = {
        sent["id"]: client.get(sent["status_url"]).get_json()["queue_position"]
        for sent in (flood_run, flood_submit, honest_run)
    }
    assert positions == {flood_run["id"]: 1, honest_run["id"]: 2, flood_submit["id"]: 3}

    run_worker()

    graded = db.session.scalars(select(Submission).order_by(Submission.started_at)).all()
    assert [s.id for s in graded] == [flood_run["id"], honest_run["id"], flood_submit["id"]]
    assert {s.status for s in graded} == {SubmissionStatus.GRADED}


def test_the_grading_worker_serves_the_front_queue_just_before_the_grading_queue():
    assert with_front_queue(["q", "q-background"], "q") == ["q-first", "q", "q-background"]
    assert with_front_queue(["q-background", "q"], "q") == ["q-background", "q-first", "q"]
    assert with_front_queue(["q-first", "q"], "q") == ["q-first", "q"]
    assert with_front_queue("other", "q") == ["other"]
