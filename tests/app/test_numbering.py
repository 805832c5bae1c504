"""Submission numbers: a candidate's submissions of a challenge are #1, #2, #3 and their test
runs #1, #2, #3 apart, whatever the database ids (which every candidate shares); the API, the
candidate's pages and the review all show the same number, and URLs keep the id."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Invite, InviteState, Submission, utcnow
from app.services.numbering import challenge_numbers, describe, numbers_of, submission_number

from .conftest import log_in

FIX = "def total(items):\n    return sum(items)\n"


def _started(invite: Invite) -> Invite:
    invite.state = InviteState.STARTED
    invite.started_at = utcnow() - timedelta(minutes=4)
    db.session.commit()
    return invite


def _other_candidate(invite: Invite) -> Invite:
    other = Invite(
        assessment=invite.assessment,
        candidate_name="Someone Else",
        expires_at=utcnow() + timedelta(days=1),
    )
    db.session.add(other)
    db.session.commit()
    return _started(other)


def _store(invite: Invite, mode: str, second: int, regrade_of: Submission | None = None):
    submission = Submission(
        invite_id=invite.id,
        challenge_version_id=invite.assessment.items[0].challenge.id,
        mode=mode,
        files={"calc.py": FIX},
        status="queued",
        created_at=invite.started_at + timedelta(seconds=second),
        regrade_of_id=regrade_of.id if regrade_of else None,
    )
    db.session.add(submission)
    db.session.commit()
    return submission


@pytest.fixture
def work(invite):
    """The candidate runs, submits, runs and submits again; another candidate submits in
    between (so the ids have a gap) and an admin regrades the first submission."""
    mine = _started(invite)
    other = _other_candidate(invite)
    run_1 = _store(mine, "run", 10)
    submit_1 = _store(mine, "submit", 20)
    theirs = _store(other, "submit", 25)
    run_2 = _store(mine, "run", 30)
    submit_2 = _store(mine, "submit", 40)
    regrade = _store(mine, "submit", 50, regrade_of=submit_1)
    return {
        "mine": mine,
        "run_1": run_1,
        "submit_1": submit_1,
        "theirs": theirs,
        "run_2": run_2,
        "submit_2": submit_2,
        "regrade": regrade,
    }


def test_runs_and_submits_are_numbered_apart_per_candidate_and_challenge(work):
    numbers = challenge_numbers(work["mine"].id, work["submit_1"].challenge_version_id)
    expected = {"run_1": 1, "submit_1": 1, "run_2": 2, "submit_2": 2}
    assert numbers == {work[name].id: number for name, number in expected.items()}
    assert work["submit_2"].id > work["theirs"].id  # a global id would read #5, not #2
    assert submission_number(work["theirs"]) == 1  # the other candidate's own first


def test_a_regrade_has_no_number_of_its_own_and_is_named_after_its_original(work):
    assert submission_number(work["regrade"]) == 1
    assert describe(work["regrade"], 1) == "regrade of submission #1 against v1"
    assert describe(work["run_2"], 2) == "test run #2"


def test_numbers_follow_the_time_order_not_the_order_given(work):
    shuffled = [work["submit_2"], work["run_1"], work["submit_1"], work["run_2"]]
    assert numbers_of(shuffled) == challenge_numbers(
        work["mine"].id, work["submit_1"].challenge_version_id
    )


def test_the_api_gives_every_submission_its_number_beside_its_id(client, work):
    token = work["mine"].token
    history = client.get(f"/api/v1/invites/{token}/challenges/trivial-sum").get_json()
    by_id = {s["id"]: (s["mode"], s["number"]) for s in history["submissions"]}
    assert by_id == {
        work["run_1"].id: ("run", 1),
        work["submit_1"].id: ("submit", 1),
        work["run_2"].id: ("run", 2),
        work["submit_2"].id: ("submit", 2),
    }
    one = client.get(f"/api/v1/invites/{token}/submissions/{work['submit_2'].id}").get_json()
    assert (one["id"], one["number"]) == (work["submit_2"].id, 2)
    (challenge,) = client.get(f"/api/v1/invites/{token}").get_json()["challenges"]
    assert challenge["last_submission"]["number"] == 2


def test_the_candidates_pages_show_their_own_numbers_and_link_by_id(client, work):
    token = work["mine"].token
    page = client.get(f"/i/{token}/c/trivial-sum").get_data(as_text=True)
    history = re.search(r'<ul class="history" id="history">.*?</ul>', page, re.S).group(0)
    links = re.findall(r'<a href="/i/[^/]+/s/(\d+)">#(\d+)</a>', history)
    assert links == [(str(work["submit_2"].id), "2"), (str(work["submit_1"].id), "1")]

    report = client.get(f"/i/{token}/s/{work['submit_2'].id}").get_data(as_text=True)
    assert "Submission #2" in report and "Report #2" in report
    database_id = work["submit_2"].id
    assert f"Submission #{database_id}" not in report and f"Report #{database_id}" not in report


def test_the_review_shows_the_numbers_the_candidate_saw(client, staff, work):
    work["mine"].assessment.owner_id = staff.interviewer.id
    db.session.commit()
    log_in(client, staff.interviewer)
    page = client.get(f"/review/invites/{work['mine'].id}").get_data(as_text=True)
    assert re.search(rf'<a href="\?submission={work["submit_2"].id}#[^"]+">#2</a>', page)
    assert "Showing the last submission: submission #2" in page
    shown = client.get(
        f"/review/invites/{work['mine'].id}?submission={work['regrade'].id}"
    ).get_data(as_text=True)
    assert "Showing the selected: regrade of submission #1 against v1" in shown
