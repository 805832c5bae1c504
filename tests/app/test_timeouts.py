"""When the time runs out, the work a candidate left unsubmitted is submitted for them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InviteState, Submission, SubmissionMode, SubmissionStatus, utcnow
from app.services import candidates
from app.services.review import CandidateStatus, candidate_status
from app.services.timeouts import close_timed_out_attempts

FIXED = "def total(items):\n    return sum(items)\n"


@pytest.fixture
def version(invite):
    return invite.assessment.items[0].challenge


def _start_long_ago(invite, minutes_past_deadline: float = 1) -> None:
    candidates.start(invite)
    limit = invite.assessment.time_limit_minutes
    invite.started_at = utcnow() - timedelta(minutes=limit + minutes_past_deadline)
    db.session.commit()


def _candidate_submissions(invite) -> list[Submission]:
    return list(
        db.session.scalars(
            select(Submission).where(Submission.invite_id == invite.id).order_by(Submission.id)
        )
    )


def test_the_saved_draft_is_submitted_and_marked_when_time_runs_out(invite, version):
    candidates.start(invite)
    candidates.save_draft(invite, version, {"calc.py": FIXED})
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()

    made = close_timed_out_attempts()

    assert [s.id for s in made] == [s.id for s in _candidate_submissions(invite)]
    (submission,) = made
    assert submission.mode == SubmissionMode.SUBMIT
    assert submission.at_timeout is True
    assert submission.files == {"calc.py": FIXED}
    assert submission.status == SubmissionStatus.QUEUED
    db.session.refresh(invite)
    assert invite.state == InviteState.FINISHED and invite.timed_out is True
    assert invite.finished_at == invite.deadline


def test_an_attempt_is_closed_once_however_often_the_reconciler_runs(invite, version):
    candidates.start(invite)
    candidates.save_draft(invite, version, {"calc.py": FIXED})
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()

    assert len(close_timed_out_attempts()) == 1
    assert close_timed_out_attempts() == []
    assert len(_candidate_submissions(invite)) == 1


def test_a_challenge_the_candidate_submitted_keeps_its_last_submission(invite, version):
    candidates.start(invite)
    candidates.create_submission(invite, version, {"calc.py": "# first try\n"}, "submit")
    candidates.save_draft(invite, version, {"calc.py": FIXED})  # edited after submitting
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()

    assert close_timed_out_attempts() == []
    db.session.refresh(invite)
    assert invite.timed_out is True
    assert [s.files["calc.py"] for s in _candidate_submissions(invite)] == ["# first try\n"]


def test_work_never_changed_from_the_starter_is_not_submitted(invite, version):
    candidates.start(invite)
    candidates.save_draft(invite, version, {"calc.py": version.payload["starter"]["calc.py"]})
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()

    assert close_timed_out_attempts() == []
    db.session.refresh(invite)
    assert invite.state == InviteState.FINISHED and invite.timed_out is True


def test_without_a_draft_the_newest_run_is_what_is_submitted(invite, version):
    candidates.start(invite)
    candidates.create_submission(invite, version, {"calc.py": "# run one\n"}, "run")
    db.session.scalars(select(Submission)).one().status = SubmissionStatus.GRADED
    db.session.commit()
    candidates.create_submission(invite, version, {"calc.py": FIXED}, "run")
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()

    (submission,) = close_timed_out_attempts()
    assert submission.files == {"calc.py": FIXED} and submission.mode == SubmissionMode.SUBMIT


def test_an_attempt_still_in_time_is_left_alone(invite, version):
    candidates.start(invite)
    candidates.save_draft(invite, version, {"calc.py": FIXED})

    assert close_timed_out_attempts() == []
    db.session.refresh(invite)
    assert invite.state == InviteState.STARTED and invite.timed_out is False


def test_after_time_out_saving_and_submitting_are_refused_with_why(invite, version):
    _start_long_ago(invite)
    for action in (
        lambda: candidates.save_draft(invite, version, {"calc.py": FIXED}),
        lambda: candidates.create_submission(invite, version, {"calc.py": FIXED}, "submit"),
    ):
        with pytest.raises(candidates.Refused) as refused:
            action()
        assert refused.value.status == 403
        assert "submitted for you" in refused.value.message
    close_timed_out_attempts()
    with pytest.raises(candidates.Refused, match="submitted for you"):
        candidates.save_draft(invite, version, {"calc.py": FIXED})


def test_the_review_says_time_expired_not_graded(invite, version):
    _start_long_ago(invite)
    assert candidate_status(invite, grading=False) == CandidateStatus.TIME_EXPIRED
    close_timed_out_attempts()
    db.session.refresh(invite)
    assert candidate_status(invite, grading=False) == CandidateStatus.TIME_EXPIRED
    assert candidate_status(invite, grading=True) == CandidateStatus.SUBMITTED

    candidates.finish(invite)  # already finished by the clock: stays as the clock left it
    assert candidate_status(invite, grading=False) == CandidateStatus.TIME_EXPIRED


def test_a_candidate_who_finished_in_time_is_graded_not_time_expired(invite):
    candidates.start(invite)
    candidates.finish(invite)
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()

    assert close_timed_out_attempts() == []
    assert candidate_status(invite, grading=False) == CandidateStatus.GRADED


@pytest.mark.docker
def test_the_time_out_submission_is_graded_by_the_worker(invite, version, run_worker, client):
    candidates.start(invite)
    candidates.save_draft(invite, version, {"calc.py": FIXED})
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()
    (submission,) = close_timed_out_attempts()

    run_worker()

    db.session.refresh(submission)
    assert submission.status == SubmissionStatus.GRADED
    assert submission.score == submission.max_score
    data = client.get(f"/api/v1/invites/{invite.token}").get_json()
    last = data["challenges"][0]["last_submission"]
    assert last["at_timeout"] is True and last["score"] == submission.max_score
    page = client.get(f"/i/{invite.token}/overview").get_data(as_text=True)
    assert "Submitted at time-out" in page
    assert "finish-button" not in page


def test_finishing_after_the_deadline_still_submits_the_saved_work(invite, version, client):
    candidates.start(invite)
    candidates.save_draft(invite, version, {"calc.py": FIXED})
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()

    response = client.post(f"/api/v1/invites/{invite.token}/finish")

    assert response.status_code == 200
    db.session.refresh(invite)
    assert invite.timed_out is True and invite.finished_at == invite.deadline
    (submission,) = _candidate_submissions(invite)
    assert submission.at_timeout and submission.files == {"calc.py": FIXED}
    assert close_timed_out_attempts() == []


@pytest.mark.docker
def test_the_interviewer_sees_time_expired_and_the_submission_marked(
    invite, version, client, staff, run_worker
):
    from .conftest import log_in

    candidates.start(invite)
    candidates.save_draft(invite, version, {"calc.py": FIXED})
    invite.started_at -= timedelta(minutes=invite.assessment.time_limit_minutes + 1)
    db.session.commit()
    close_timed_out_attempts()
    log_in(client, staff.admin)
    grading = client.get(f"/review/invites/{invite.id}").get_data(as_text=True)
    assert re.search(r'data-status="submitted">Submitted<', grading)
    run_worker()

    page = client.get(f"/review/invites/{invite.id}").get_data(as_text=True)

    assert re.search(r'data-status="time-expired">Time expired<', page)
    assert "submitted at time-out" in page
    assert re.search(r"submit <span class=\"at-timeout\">at time-out</span>", page)
