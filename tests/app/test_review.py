"""The interviewers' pages: creating assessments, inviting, statuses, the review of one
candidate (full report, diff, timeline, reference values, notes), compare and export, and who
may see what."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.headers import SECURITY_HEADERS
from app.models import (
    Assessment,
    AssessmentItem,
    ChallengeVersion,
    Invite,
    InviteState,
    Note,
    Submission,
    VersionSource,
    utcnow,
)
from app.services import candidates, review
from app.services.library import store_version, sync_library
from grader.grading import grade
from grader.spec import load_challenge

from ..conftest import FIXTURE_CHALLENGES
from .conftest import log_in

FIX = "def total(items):\n    return sum(items)\n"
SENT: list[tuple[int, str]] = []


def record_invitation(invite, url) -> None:
    """An INVITE_SENDER for these tests: remembers what it was asked to send."""
    SENT.append((invite.id, url))


def failing_sender(invite, url) -> None:
    raise ConnectionError("SMTP server refused the connection")


@pytest.fixture(scope="module")
def reports(trivial_challenge, docker_sandbox):
    """Real reports from the Docker sandbox, graded once for the module."""
    starter = trivial_challenge.starter["calc.py"]
    return SimpleNamespace(
        fixed=grade(trivial_challenge, {"calc.py": FIX}, docker_sandbox),
        starter=grade(trivial_challenge, {"calc.py": starter}, docker_sandbox),
        run=grade(trivial_challenge, {"calc.py": FIX}, docker_sandbox, mode="visible"),
    )


def _text(response) -> str:
    return response.get_data(as_text=True)


def _version(invite):
    return invite.assessment.items[0].challenge


def _starter(invite) -> str:
    return _version(invite).payload["starter"]["calc.py"]


def _begin(invite, minutes_ago: float = 1.0) -> None:
    invite.state = InviteState.STARTED
    invite.started_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.commit()


def _store(
    invite,
    calc: str,
    report: dict | None,
    *,
    minute: float,
    mode: str = "submit",
    status: str | None = None,
    regrade_of: Submission | None = None,
) -> Submission:
    """A submission with a real report (or none: still queued), ``minute`` after the start."""
    created = (invite.started_at or utcnow()) + timedelta(minutes=minute)
    submission = Submission(
        invite_id=invite.id,
        challenge_version_id=_version(invite).id,
        mode=mode,
        files={"calc.py": calc},
        report=report,
        status=status or (report["status"] if report else "queued"),
        score=report["score"] if report else None,
        max_score=report["max_score"] if report else None,
        created_at=created,
        started_at=created if report else None,
        finished_at=created + timedelta(seconds=3) if report else None,
        regrade_of_id=regrade_of.id if regrade_of else None,
    )
    db.session.add(submission)
    db.session.commit()
    return submission


def _invite(assessment, name: str, email: str | None = None, **fields) -> Invite:
    fields = {"expires_at": utcnow() + timedelta(days=14), **fields}
    invite = Invite(assessment=assessment, candidate_name=name, candidate_email=email, **fields)
    db.session.add(invite)
    db.session.commit()
    return invite


def _publish_copy(root, slug: str, title: str, minutes: int, source=VersionSource.FOLDER):
    """Another challenge in the library: the fixture challenge under a new id."""
    folder = root / slug
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    spec = (folder / "challenge.yaml").read_text()
    spec = spec.replace("id: trivial-sum", f"id: {slug}")
    spec = spec.replace("title: Sum is off by one", f"title: {title}")
    spec = spec.replace("time_limit_minutes: 5", f"time_limit_minutes: {minutes}")
    (folder / "challenge.yaml").write_text(spec)
    if source == VersionSource.FOLDER:
        sync_library(root)
    else:
        store_version(load_challenge(folder), source=source)
        db.session.commit()
    return _version_by_slug(slug)


def _version_by_slug(slug: str) -> ChallengeVersion:
    return db.session.scalar(select(ChallengeVersion).where(ChallengeVersion.slug == slug))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ---- who may see what -------------------------------------------------------------------------


def _review_urls(invite) -> list[tuple[str, str]]:
    a = invite.assessment.id
    return [
        ("GET", "/review/"),
        ("GET", "/review/assessments/new"),
        ("GET", f"/review/assessments/{a}"),
        ("GET", f"/review/assessments/{a}/status.json"),
        ("GET", f"/review/assessments/{a}/challenges/trivial-sum"),
        ("GET", f"/review/assessments/{a}/export.csv"),
        ("GET", f"/review/assessments/{a}/export.json"),
        ("GET", f"/review/invites/{invite.id}"),
        ("POST", f"/review/assessments/{a}/invites"),
        ("POST", f"/review/invites/{invite.id}/notes"),
        ("POST", "/review/assessments/new"),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, owned_invite):
    for method, url in _review_urls(owned_invite):
        response = client.open(url, method=method)
        if url.endswith(".json"):
            assert response.status_code == 401, url
            continue
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login?next="), url


def test_an_interviewer_gets_404_for_another_interviewers_assessment(client, staff, owned_invite):
    log_in(client, staff.other_interviewer)
    before = (_count(Invite), _count(Note))
    for method, url in _review_urls(owned_invite):
        if url in ("/review/", "/review/assessments/new"):
            continue
        data = {"candidate_name": "Mallory", "body": "sneaky"} if method == "POST" else None
        assert client.open(url, method=method, data=data).status_code == 404, (method, url)
    assert (_count(Invite), _count(Note)) == before
    assert owned_invite.assessment.title not in _text(client.get("/review/"))


def test_the_owner_and_admins_reach_every_page_and_admins_see_the_owner(
    client, staff, owned_invite
):
    for user in (staff.interviewer, staff.admin):
        log_in(client, user)
        for method, url in _review_urls(owned_invite):
            if method == "GET":
                assert client.get(url).status_code == 200, (user.email, url)
        dashboard = _text(client.get("/review/"))
        assert owned_invite.assessment.title in dashboard
        owner_cell = '<td class="owner">Ivy Interviewer</td>'
        assert (owner_cell in dashboard) is user.is_admin
        client.post("/logout")


def test_review_pages_send_the_candidate_pages_security_headers(client, staff, owned_invite):
    log_in(client, staff.interviewer)
    for method, url in _review_urls(owned_invite):
        if method != "GET":
            continue
        response = client.get(url)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (url, name)


# ---- creating an assessment -------------------------------------------------------------------


def test_new_assessment_form_lists_published_challenges_only(client, staff, tmp_path):
    _publish_copy(tmp_path, "draft-sum", "A draft nobody may use", 7, VersionSource.UPLOAD)
    log_in(client, staff.interviewer)
    body = _text(client.get("/review/assessments/new"))
    assert "Sum is off by one" in body and "A tiny challenge used by" in body and "easy" in body
    assert "A draft nobody may use" not in body


def test_creating_an_assessment_keeps_the_ticked_order_and_sums_the_time_limits(
    client, staff, tmp_path
):
    second = _publish_copy(tmp_path, "second-sum", "Second sum", 20)
    first = _version_by_slug("trivial-sum")
    log_in(client, staff.interviewer)
    response = client.post(
        "/review/assessments/new",
        data={
            "title": "Backend hiring",
            "challenges": [str(first.id), str(second.id)],
            "order": f"{second.id},{first.id}",
            "time_limit_minutes": "",
        },
    )
    assert response.status_code == 302
    assessment = db.session.scalar(select(Assessment).where(Assessment.title == "Backend hiring"))
    assert response.headers["Location"].endswith(f"/review/assessments/{assessment.id}")
    assert assessment.owner_id == staff.interviewer.id
    assert assessment.time_limit_minutes == 25
    assert [item.challenge.slug for item in assessment.items] == ["second-sum", "trivial-sum"]
    assert [item.position for item in assessment.items] == [0, 1]


def test_an_explicit_time_limit_wins_over_the_sum(client, staff):
    version = _version_by_slug("trivial-sum")
    log_in(client, staff.interviewer)
    client.post(
        "/review/assessments/new",
        data={"title": "Quick", "challenges": [str(version.id)], "time_limit_minutes": "45"},
    )
    assessment = db.session.scalar(select(Assessment).where(Assessment.title == "Quick"))
    assert assessment.time_limit_minutes == 45
    assert [item.challenge.slug for item in assessment.items] == ["trivial-sum"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"challenges": []}, "Choose at least one challenge."),
        ({"time_limit_minutes": "0"}, "Number must be between 1 and 600."),
        ({"time_limit_minutes": "601"}, "Number must be between 1 and 600."),
        ({"time_limit_minutes": "soon"}, "Not a valid integer value."),
        ({"title": "  "}, "This field is required."),
        ({"challenges": ["999999"]}, "not a valid choice"),
    ],
)
def test_an_invalid_assessment_is_refused_with_the_reason(client, staff, changes, message):
    version = _version_by_slug("trivial-sum")
    data = {"title": "Broken", "challenges": [str(version.id)], "time_limit_minutes": "30"}
    log_in(client, staff.interviewer)
    response = client.post("/review/assessments/new", data={**data, **changes})
    assert response.status_code == 400
    assert message in _text(response)
    assert _count(Assessment) == 0


def test_a_draft_challenge_cannot_be_put_in_an_assessment(client, staff, tmp_path):
    draft = _publish_copy(tmp_path, "draft-sum", "Draft", 7, VersionSource.UPLOAD)
    log_in(client, staff.interviewer)
    response = client.post(
        "/review/assessments/new", data={"title": "Sneaky", "challenges": [str(draft.id)]}
    )
    assert response.status_code == 400 and "not a valid choice" in _text(response)
    assert _count(Assessment) == 0


def test_a_default_time_limit_over_600_minutes_asks_for_a_limit(client, staff, tmp_path):
    long_one = _publish_copy(tmp_path, "long-sum", "Long", 599)
    short_one = _version_by_slug("trivial-sum")
    log_in(client, staff.interviewer)
    response = client.post(
        "/review/assessments/new",
        data={"title": "Marathon", "challenges": [str(long_one.id), str(short_one.id)]},
    )
    assert response.status_code == 400
    assert "add up to 604 minutes" in _text(response)
    assert _count(Assessment) == 0


# ---- inviting ---------------------------------------------------------------------------------


def _invite_url(invite_id: int) -> str:
    return f"http://localhost/i/{db.session.get(Invite, invite_id).token}"


def test_inviting_without_a_sender_shows_the_link_to_copy(client, staff, owned_invite):
    log_in(client, staff.interviewer)
    assessment_id = owned_invite.assessment.id
    response = client.post(
        f"/review/assessments/{assessment_id}/invites",
        data={"candidate_name": " Grace Hopper ", "candidate_email": "grace@example.com"},
    )
    assert response.status_code == 302
    invite = db.session.scalar(select(Invite).where(Invite.candidate_name == "Grace Hopper"))
    assert invite.candidate_email == "grace@example.com" and invite.state == "pending"
    assert abs(invite.expires_at - (utcnow() + timedelta(days=14))) < timedelta(minutes=1)
    page = _text(client.get(response.headers["Location"]))
    assert "copy the link and send it yourself" in page
    assert f'value="{_invite_url(invite.id)}"' in page
    assert 'data-copy-target="new-invite-url"' in page


def test_inviting_with_a_sender_sends_the_link(client, web_app, staff, owned_invite):
    web_app.config["INVITE_SENDER"] = "tests.app.test_review:record_invitation"
    SENT.clear()
    log_in(client, staff.interviewer)
    response = client.post(
        f"/review/assessments/{owned_invite.assessment.id}/invites",
        data={"candidate_name": "Alan Turing", "candidate_email": "alan@example.com"},
        follow_redirects=True,
    )
    invite = db.session.scalar(select(Invite).where(Invite.candidate_name == "Alan Turing"))
    sent = list(SENT)
    assert sent == [(invite.id, _invite_url(invite.id))]
    assert "Invitation sent to alan@example.com" in _text(response)


def test_a_sender_is_not_called_for_an_invite_without_email(client, web_app, staff, owned_invite):
    web_app.config["INVITE_SENDER"] = "tests.app.test_review:record_invitation"
    SENT.clear()
    log_in(client, staff.interviewer)
    response = client.post(
        f"/review/assessments/{owned_invite.assessment.id}/invites",
        data={"candidate_name": "No Mail"},
        follow_redirects=True,
    )
    assert SENT == []
    assert "copy the link and send it yourself" in _text(response)
    assert db.session.scalar(select(Invite).where(Invite.candidate_name == "No Mail"))


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("tests.app.test_review:failing_sender", "SMTP server refused the connection"),
        ("tests.app.no_such_module:send", "cannot be loaded"),
    ],
)
def test_a_failing_sender_warns_and_still_creates_the_invite(
    client, web_app, staff, owned_invite, sender, reason
):
    web_app.config["INVITE_SENDER"] = sender
    log_in(client, staff.interviewer)
    response = client.post(
        f"/review/assessments/{owned_invite.assessment.id}/invites",
        data={"candidate_name": "Barbara Liskov", "candidate_email": "barbara@example.com"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = _text(response)
    assert "notice-warning" in page and "sending it failed" in page and reason in page
    invite = db.session.scalar(select(Invite).where(Invite.candidate_name == "Barbara Liskov"))
    assert invite is not None
    assert f'value="{_invite_url(invite.id)}"' in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"candidate_name": "", "candidate_email": "x@example.com"}, "This field is required."),
        ({"candidate_name": "Eve", "candidate_email": "not-an-email"}, "Not an email address."),
        ({"candidate_name": "E" * 201}, "Field cannot be longer than 200 characters."),
    ],
)
def test_an_invalid_invite_is_refused_with_the_reason(client, staff, owned_invite, data, message):
    log_in(client, staff.interviewer)
    before = _count(Invite)
    response = client.post(f"/review/assessments/{owned_invite.assessment.id}/invites", data=data)
    assert response.status_code == 400
    assert message in _text(response)
    assert _count(Invite) == before


# ---- statuses ---------------------------------------------------------------------------------


def _one_invite_per_status(assessment) -> dict[str, Invite]:
    now = utcnow()
    limit = timedelta(minutes=assessment.time_limit_minutes)
    invites = {
        "not started": _invite(assessment, "Pending Pat"),
        "expired": _invite(assessment, "Late Lee", expires_at=now - timedelta(minutes=1)),
        "in progress": _invite(
            assessment, "Busy Bo", state="started", started_at=now - timedelta(minutes=1)
        ),
        "time expired": _invite(
            assessment,
            "Out-of-time Olu",
            state="started",
            started_at=now - limit - timedelta(minutes=1),
        ),
        "submitted": _invite(
            assessment,
            "Waiting Wen",
            state="finished",
            started_at=now - timedelta(minutes=2),
            finished_at=now - timedelta(minutes=1),
        ),
    }
    finished_with_a_queued_run = _invite(
        assessment,
        "Run Ren",
        state="finished",
        started_at=now - timedelta(minutes=2),
        finished_at=now - timedelta(minutes=1),
    )
    _store(invites["submitted"], FIX, None, minute=0.5)
    _store(finished_with_a_queued_run, FIX, None, minute=0.5, mode="run")
    invites["graded (a run in flight does not count)"] = finished_with_a_queued_run
    return invites


def test_dashboard_and_status_json_show_each_candidate_status(client, staff, owned_invite):
    assessment = owned_invite.assessment
    db.session.delete(owned_invite)
    db.session.commit()
    invites = _one_invite_per_status(assessment)
    log_in(client, staff.interviewer)

    dashboard = _text(client.get("/review/"))
    counts = dict(re.findall(r'status-count" data-status="([a-z-]+)"[^>]*>(\d+)<', dashboard))
    assert counts == {
        "not-started": "1",
        "expired": "1",
        "in-progress": "1",
        "submitted": "1",
        "graded": "1",
        "time-expired": "1",
    }
    live = client.get("/review/status.json").get_json()["assessments"]
    assert live == {
        str(assessment.id): {
            "invites": 6,
            **{status: int(count) for status, count in counts.items()},
        }
    }

    data = client.get(f"/review/assessments/{assessment.id}/status.json").get_json()["invites"]
    for expected, invite in invites.items():
        assert data[str(invite.id)]["status"] == expected.split(" (")[0], invite.candidate_name
    assert data[str(invites["in progress"].id)]["label"] == "In progress"
    assert data[str(invites["submitted"].id)]["score"] is None
    assert data[str(invites["submitted"].id)]["max"] == 4


@pytest.mark.docker
def test_a_queued_regrade_does_not_keep_a_candidate_submitted(client, staff, owned_invite, reports):
    invite = owned_invite
    _begin(invite, minutes_ago=3)
    original = _store(invite, FIX, reports.fixed, minute=1)
    candidates.finish(invite)
    _store(invite, FIX, None, minute=2.5, regrade_of=original)
    log_in(client, staff.interviewer)
    data = client.get(f"/review/assessments/{invite.assessment.id}/status.json").get_json()
    mine = data["invites"][str(invite.id)]
    assert (mine["status"], mine["label"], mine["score_text"]) == ("graded", "Graded", "4/4")


@pytest.mark.docker
def test_assessment_page_lists_invites_with_status_score_and_live_refresh(
    client, staff, owned_invite, reports
):
    invite = owned_invite
    _begin(invite, minutes_ago=2)
    _store(invite, _starter(invite), reports.starter, minute=0.5)
    _store(invite, FIX, reports.fixed, minute=1)
    _store(invite, _starter(invite), reports.starter, minute=1.5)
    log_in(client, staff.interviewer)
    page = _text(client.get(f"/review/assessments/{invite.assessment.id}"))
    row = re.search(rf'<tr id="invite-{invite.id}".*?</tr>', page, re.S).group(0)
    assert "Demo Candidate" in row and "candidate@example.com" in row
    assert "In progress" in row and 'data-poll-field="score_text">4/4<' in row
    assert f'href="/review/invites/{invite.id}"' in row
    assert 'data-poll-url="/review/assessments/' in page and "status.json" in page
    assert f'href="/review/assessments/{invite.assessment.id}/challenges/trivial-sum"' in page
    assert f"/review/assessments/{invite.assessment.id}/export.csv" in page


# ---- reviewing one candidate ------------------------------------------------------------------


@pytest.mark.docker
def test_review_shows_the_full_report_the_candidate_never_sees(
    client, staff, owned_invite, run_worker, docker_sandbox
):
    invite = owned_invite
    candidates.start(invite)
    version = _version(invite)
    fixed = candidates.create_submission(invite, version, {"calc.py": FIX}, "submit")
    run_worker()
    broken = candidates.create_submission(invite, version, {"calc.py": _starter(invite)}, "submit")
    run_worker()
    assert (fixed.status, fixed.score, broken.status, broken.score) == ("graded", 4, "graded", 1)

    log_in(client, staff.interviewer)
    default = _text(client.get(f"/review/invites/{invite.id}"))
    assert "Showing the best submission" in default and f"submission #{fixed.id}" in default
    assert "2 of 2 checks passed" in default

    page = _text(client.get(f"/review/invites/{invite.id}?submission={broken.id}"))
    assert "Showing the selected" in page and "1 of 2 checks passed" in page
    hidden_source = "assert result == 45"
    assert "Test output, from the judge" in page and hidden_source in page
    assert "Candidate output" in page and "judged grading" in page
    assert "assert 36 == 45" in page  # the failed check's message
    assert "detects the bug" in page and "guards existing behaviour" in page
    assert "sum of 0..9: 36 (at least 45; starter 36)" in page

    candidate_report = _text(client.get(f"/i/{invite.token}/s/{broken.id}"))
    assert "Score 1/4" in candidate_report
    assert hidden_source not in candidate_report and "assert 36 == 45" not in candidate_report


@pytest.mark.docker
def test_diff_against_the_starter_marks_added_and_removed_lines(
    client, staff, owned_invite, reports
):
    invite = owned_invite
    _begin(invite)
    starter_submit = _store(invite, _starter(invite), reports.starter, minute=0.2)
    fixed = _store(invite, FIX, reports.fixed, minute=0.5)
    log_in(client, staff.interviewer)

    page = _text(client.get(f"/review/invites/{invite.id}?submission={fixed.id}"))
    assert '<span class="diff-add">+    return sum(items)\n</span>' in page
    assert '<span class="diff-del">-    result = 0\n</span>' in page
    assert '<span class="diff-file">--- starter/calc.py\n</span>' in page
    assert "no changes" not in page

    unchanged = _text(client.get(f"/review/invites/{invite.id}?submission={starter_submit.id}"))
    assert "no changes" in unchanged and "diff-add" not in unchanged


@pytest.mark.docker
def test_timeline_lists_every_run_and_submit_numbered_as_the_candidate_saw_them_with_regrades(
    client, staff, owned_invite, reports
):
    invite = owned_invite
    _begin(invite, minutes_ago=4)
    run = _store(invite, FIX, reports.run, minute=1, mode="run")
    first = _store(invite, _starter(invite), reports.starter, minute=2)
    other = _invite(invite.assessment, "Someone Else", state="started", started_at=utcnow())
    _store(other, FIX, reports.fixed, minute=0)  # takes the next id: a gap in this invite's ids
    second = _store(invite, _starter(invite), reports.starter, minute=3)
    regrade = _store(invite, _starter(invite), reports.fixed, minute=3.5, regrade_of=first)
    log_in(client, staff.interviewer)

    page = _text(client.get(f"/review/invites/{invite.id}"))
    timeline = re.search(r'<table class="data timeline">.*?</table>', page, re.S).group(0)
    first_cells = re.findall(r"<tr class=\"[^\"]*\">\s*<td[^>]*>(.*?)</td>", timeline)
    numbers = [re.sub(r"<[^>]+>", "", cell) for cell in first_cells]
    assert second.id > first.id + 1
    # Test run #1, submission #1, its regrade (no number of its own), submission #2: the
    # candidate's own numbers, not the database ids (the URLs keep those).
    assert numbers == ["#1", "#1", "", "#2"]
    assert f"#{second.id}<" not in timeline
    assert "Regraded against v1:" in timeline and "4/4" in timeline
    assert "test run" in timeline and "submit" in timeline
    for submission in (run, first, second, regrade):
        assert f'href="?submission={submission.id}#challenge-trivial-sum"' in timeline
    # The regrade is no candidate submission: the best stays the candidate's own 1/4.
    assert (
        f'Best submission:\n      <a href="?submission={second.id}#challenge-trivial-sum">#2<'
        in page
    )
    assert "1 test run,\n      2 submissions" in page
    assert "Showing the best submission: submission #2 ·" in page

    shown = _text(client.get(f"/review/invites/{invite.id}?submission={regrade.id}"))
    assert "regrade of submission #1 against v1" in shown


@pytest.mark.docker
def test_showing_a_submission_of_another_invite_is_404(client, staff, owned_invite, reports):
    invite = owned_invite
    other = _invite(invite.assessment, "Someone Else", state="started", started_at=utcnow())
    theirs = _store(other, FIX, reports.fixed, minute=0)
    log_in(client, staff.interviewer)
    assert client.get(f"/review/invites/{invite.id}?submission={theirs.id}").status_code == 404
    assert client.get(f"/review/invites/{invite.id}?submission=999999").status_code == 404


@pytest.mark.docker
def test_reference_values_appear_once_measured(client, staff, owned_invite, reports):
    invite = owned_invite
    _begin(invite)
    _store(invite, _starter(invite), reports.starter, minute=0.5)
    log_in(client, staff.interviewer)

    before = _text(client.get(f"/review/invites/{invite.id}"))
    assert "Reference not measured yet" in before and "not measured yet</text>" in before

    version = _version(invite)
    version.verification = {
        "state": "passed",
        "reference_metrics": {"sums-correctly": {"name": "sum", "value": 45.0, "unit": ""}},
    }
    db.session.commit()
    after = _text(client.get(f"/review/invites/{invite.id}"))
    assert "sum of 0..9: 36 (at least 45; starter 36; reference 45)" in after
    assert "Reference not measured yet" not in after
    assert 'class="bar-reference"' in after


def test_the_review_jumps_to_each_challenge_folds_each_and_shows_an_untouched_one_as_a_line(
    client, staff, owned_invite, tmp_path
):
    invite = owned_invite
    drafted = _publish_copy(tmp_path, "drafted-sum", "Drafted sum", 5)
    skipped = _publish_copy(tmp_path, "skipped-sum", "Skipped sum", 5)
    invite.assessment.items.append(AssessmentItem(challenge=drafted, position=1))
    invite.assessment.items.append(AssessmentItem(challenge=skipped, position=2))
    _begin(invite)
    _store(invite, FIX, None, minute=0.5)  # trivial-sum: submitted, still queued
    candidates.save_draft(invite, drafted, {"calc.py": FIX})  # drafted-sum: a draft, no run
    log_in(client, staff.interviewer)
    page = _text(client.get(f"/review/invites/{invite.id}"))

    jump = re.search(r'<nav class="card challenge-jump".*?</nav>', page, re.S).group(0)
    assert re.findall(r'href="#challenge-([\w-]+)"', jump) == [
        "trivial-sum",
        "drafted-sum",
        "skipped-sum",
    ]
    assert re.findall(r"<li>.*?</li>", jump, re.S)[2].count("not touched") == 1
    # Touched challenges (run, submitted or even just drafted) fold, open to begin with.
    for slug in ("trivial-sum", "drafted-sum"):
        assert re.search(
            rf'<details class="card challenge-review" id="challenge-{slug}" open>\s*<summary', page
        )
    assert "The candidate's autosaved draft" in page
    # The untouched one is a single line: its title and why, no report, diff or timeline.
    untouched = re.search(r'<section [^>]*id="challenge-skipped-sum".*?</section>', page, re.S)
    assert "untouched" in untouched.group(0) and "not touched" in untouched.group(0)
    assert "Skipped sum" in untouched.group(0)
    assert not re.search(r"<h3>|diff|timeline|<details", untouched.group(0))
    assert page.count('id="challenge-skipped-sum"') == 1


def test_notes_are_listed_and_the_latest_rating_is_the_candidates(client, staff, owned_invite):
    invite = owned_invite
    log_in(client, staff.interviewer)
    url = f"/review/invites/{invite.id}/notes"
    assert client.post(url, data={"body": "Found the leak fast.", "rating": "4"}).status_code == 302
    assert client.post(url, data={"body": "Tests were thin.", "rating": ""}).status_code == 302
    client.post("/logout")
    log_in(client, staff.admin)
    assert client.post(url, data={"body": "Second look: weaker.", "rating": "2"}).status_code == 302

    page = _text(client.get(f"/review/invites/{invite.id}"))
    notes = re.search(r'<section class="card notes".*?</section>', page, re.S).group(0)
    for text in ("Found the leak fast.", "Tests were thin.", "Second look: weaker."):
        assert text in notes
    assert notes.index("Found the leak fast.") < notes.index("Second look: weaker.")
    assert "Ivy Interviewer" in notes and "Ada Admin" in notes
    assert '<dd class="rating">2 / 5</dd>' in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"body": "   ", "rating": "3"}, "Write a note."),
        ({"body": "x" * 5001}, "Field cannot be longer than 5000 characters."),
        ({"body": "ok", "rating": "6"}, "Not a valid choice."),
        ({"body": "ok", "rating": "five"}, "Invalid Choice"),
    ],
)
def test_an_invalid_note_is_refused_with_the_reason(client, staff, owned_invite, data, message):
    log_in(client, staff.interviewer)
    response = client.post(f"/review/invites/{owned_invite.id}/notes", data=data)
    assert response.status_code == 400
    assert message in _text(response)
    assert _count(Note) == 0


# ---- compare and export -----------------------------------------------------------------------


def _two_candidates(invite, reports):
    """Ada fixes it after a test run (4/4) and finishes after 8 of her 30 minutes; Bea submits
    the starter (1/4) and is still working; Cy never starts."""
    invite.assessment.time_limit_minutes = 30
    ada = invite
    ada.candidate_name = "Ada"
    _begin(ada, minutes_ago=10)
    _store(ada, FIX, reports.run, minute=1, mode="run")
    best = _store(ada, FIX, reports.fixed, minute=5)
    candidates.finish(ada)
    ada.finished_at = ada.started_at + timedelta(minutes=8)
    bea = _invite(invite.assessment, "Bea", "bea@example.com")
    _begin(bea, minutes_ago=3)
    _store(bea, _starter(bea), reports.starter, minute=1)
    cy = _invite(invite.assessment, "Cy")
    db.session.commit()
    return SimpleNamespace(ada=ada, bea=bea, cy=cy, ada_best=best)


@pytest.mark.docker
def test_compare_puts_every_candidates_best_submission_side_by_side(
    client, staff, owned_invite, reports
):
    people = _two_candidates(owned_invite, reports)
    log_in(client, staff.interviewer)
    page = _text(
        client.get(f"/review/assessments/{owned_invite.assessment.id}/challenges/trivial-sum")
    )

    def row(invite) -> str:
        return re.search(rf'<tr data-invite="{invite.id}">.*?</tr>', page, re.S).group(0)

    ada, bea, cy = row(people.ada), row(people.bea), row(people.cy)
    assert 'best-score">4/4<' in ada and 'best-score">1/4<' in bea and 'best-score">—/4<' in cy
    assert re.search(r'metric pass"><span class="mark">✓</span> 45<', ada)
    assert re.search(r'metric fail"><span class="mark">✗</span> 36<', bea)
    assert "passed" in ada  # the check without a metric shows its verdict
    assert "<td>4 min 00 s</td>" in ada  # time to best
    assert '<td class="time-used">8 min 00 s</td>' in ada  # started to finished
    assert re.search(r'<td class="time-used">3 min 0\d s so far</td>', bea)  # still working
    assert '<td class="time-used">—</td>' in cy
    assert '<th class="check-title" title="sums-correctly">total() adds every item</th>' in page
    assert re.findall(r'<td class="num">(\d+)</td>', ada) == ["1", "1"]
    assert re.findall(r'<td class="num">(\d+)</td>', bea) == ["0", "1"]
    assert "Graded" in ada and "In progress" in bea and "Not started" in cy


def test_compare_of_a_challenge_not_in_the_assessment_is_404(client, staff, owned_invite):
    log_in(client, staff.interviewer)
    url = f"/review/assessments/{owned_invite.assessment.id}/challenges/no-such-challenge"
    assert client.get(url).status_code == 404


@pytest.mark.docker
def test_csv_export_has_one_row_per_candidate_and_challenge_and_defuses_formulas(
    client, staff, owned_invite, reports
):
    people = _two_candidates(owned_invite, reports)
    people.ada.candidate_name = '=HYPERLINK("http://evil.example","click")'
    people.ada.candidate_email = "@SUM(1+1)"
    people.ada.assessment.title = 'Q3 "backend"/hiring: round 1'
    db.session.add(Note(invite=people.ada, author=staff.interviewer, body="good", rating=5))
    db.session.commit()
    log_in(client, staff.interviewer)

    response = client.get(f"/review/assessments/{owned_invite.assessment.id}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assessment_id = owned_invite.assessment.id
    name = f"assessment-{assessment_id}-q3-backend-hiring-round-1.csv"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    )
    rows = list(csv.DictReader(io.StringIO(_text(response))))
    assert list(rows[0]) == [
        "candidate_name",
        "candidate_email",
        "invite_status",
        "challenge",
        "version",
        "best_score",
        "max_score",
        "submitted_at",
        "time_taken_seconds",
        "assessment_seconds",
        "submits",
        "trivial-sum:sums-correctly",
        "trivial-sum:empty-is-zero",
        "rating",
        *review.REPLAY_COLUMNS,
    ]
    by_name = {row["candidate_name"]: row for row in rows}
    assert set(by_name) == {"'" + people.ada.candidate_name, "Bea", "Cy"}
    ada = by_name["'" + people.ada.candidate_name]
    assert ada["candidate_email"] == "'@SUM(1+1)"
    assert (ada["invite_status"], ada["challenge"], ada["version"]) == (
        "graded",
        "trivial-sum",
        "1",
    )
    assert (ada["best_score"], ada["max_score"], ada["submits"]) == ("4", "4", "1")
    assert ada["submitted_at"] == people.ada_best.created_at.isoformat() + "Z"
    assert (ada["time_taken_seconds"], ada["assessment_seconds"]) == ("240", "480")
    assert (ada["trivial-sum:sums-correctly"], ada["trivial-sum:empty-is-zero"]) == (
        "pass",
        "pass",
    )
    assert ada["rating"] == "5"
    bea = by_name["Bea"]
    assert (bea["best_score"], bea["trivial-sum:sums-correctly"]) == ("1", "fail")
    assert bea["trivial-sum:empty-is-zero"] == "pass" and bea["rating"] == ""
    cy = by_name["Cy"]
    assert (cy["invite_status"], cy["best_score"], cy["submits"]) == ("not started", "", "0")
    assert cy["trivial-sum:sums-correctly"] == ""


@pytest.mark.docker
def test_json_export_carries_the_same_rows_unescaped(client, staff, owned_invite, reports):
    people = _two_candidates(owned_invite, reports)
    people.bea.candidate_name = "=1+1"
    db.session.commit()
    log_in(client, staff.interviewer)
    response = client.get(f"/review/assessments/{owned_invite.assessment.id}/export.json")
    assert response.status_code == 200
    name = f"assessment-{owned_invite.assessment.id}-demo-python-production-debugging.json"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    )
    data = response.get_json()
    assert data["assessment"]["challenges"] == [{"slug": "trivial-sum", "version": 1}]
    rows = {row["candidate_name"]: row for row in data["rows"]}
    assert set(rows) == {"Ada", "=1+1", "Cy"}
    assert rows["Ada"]["checks"] == {"sums-correctly": True, "empty-is-zero": True}
    assert rows["=1+1"]["checks"] == {"sums-correctly": False, "empty-is-zero": True}
    assert rows["Cy"]["checks"] == {"sums-correctly": None, "empty-is-zero": None}
    assert (rows["Ada"]["best_score"], rows["Ada"]["max_score"]) == (4, 4)
    assert rows["Ada"]["time_taken_seconds"] == 240 and rows["Cy"]["best_score"] is None


@pytest.mark.parametrize(
    ("title", "ascii_words", "encoded_words"),
    [
        ("日本 チーム", "", "-%E6%97%A5%E6%9C%AC-%E3%83%81%E3%83%BC%E3%83%A0"),
        ('Über "Team"/A\r\nB', "-uber-team-a-b", "-%C3%BCber-team-a-b"),
        (
            "Ünïcode\\..\\x; filename=evil",
            "-unicode-x-filename-evil",
            "-%C3%BCn%C3%AFcode-x-filename-evil",
        ),
    ],
)
def test_export_names_non_ascii_titles_with_an_ascii_fallback_and_a_utf8_filename(
    client, staff, owned_invite, title, ascii_words, encoded_words
):
    assessment = owned_invite.assessment
    assessment.title = title
    db.session.commit()
    log_in(client, staff.interviewer)
    for extension in ("csv", "json"):
        url = f"/review/assessments/{assessment.id}/export.{extension}"
        header = client.get(url).headers["Content-Disposition"]
        assert header == (
            f'attachment; filename="assessment-{assessment.id}{ascii_words}.{extension}"; '
            f"filename*=UTF-8''assessment-{assessment.id}{encoded_words}.{extension}"
        )
        assert re.fullmatch(r"[\x21-\x7e ]+", header)  # one printable ASCII line


@pytest.mark.docker
def test_export_and_compare_count_a_first_submission_that_is_best_as_zero_seconds(
    client, staff, owned_invite, reports
):
    invite = owned_invite
    _begin(invite, minutes_ago=2)
    _store(invite, FIX, reports.fixed, minute=0)
    candidates.finish(invite)
    invite.finished_at = invite.started_at
    db.session.commit()
    log_in(client, staff.interviewer)
    base = f"/review/assessments/{invite.assessment.id}"

    row = next(csv.DictReader(io.StringIO(_text(client.get(f"{base}/export.csv")))))
    assert (row["time_taken_seconds"], row["assessment_seconds"]) == ("0", "0")
    (json_row,) = client.get(f"{base}/export.json").get_json()["rows"]
    assert (json_row["time_taken_seconds"], json_row["assessment_seconds"]) == (0, 0)
    compare = _text(client.get(f"{base}/challenges/trivial-sum"))
    cells = re.search(rf'<tr data-invite="{invite.id}">.*?</tr>', compare, re.S).group(0)
    assert "<td>0 s</td>" in cells  # time to best
    assert '<td class="time-used">0 s</td>' in cells  # started to finished


def _at(invite, *, started_minutes_ago: float, finished_minutes_ago: float | None = None):
    now = utcnow()
    invite.state = InviteState.STARTED if finished_minutes_ago is None else InviteState.FINISHED
    invite.started_at = now - timedelta(minutes=started_minutes_ago)
    if finished_minutes_ago is not None:
        invite.finished_at = now - timedelta(minutes=finished_minutes_ago)
    db.session.commit()
    return now


@pytest.mark.parametrize(
    ("started", "finished", "minutes", "state", "text"),
    [
        # working, 12 of 30 minutes gone: the time used until now
        (12, None, 12, review.TimeState.SO_FAR, "12 min 00 s so far"),
        # never pressed Finish and the 30 minutes went by: the limit, not the hours since
        (200, None, 30, review.TimeState.OUT_OF_TIME, "30 min 00 s, out of time"),
        # finished after 8 minutes: the real duration
        (20, 12, 8, review.TimeState.FINISHED, "8 min 00 s"),
        # pressed Finish long after the time ran out: the limit
        (200, 100, 30, review.TimeState.OUT_OF_TIME, "30 min 00 s, out of time"),
    ],
    ids=["in progress", "out of time", "finished", "finished after the time ran out"],
)
def test_time_used_is_so_far_while_working_the_limit_when_out_of_time_else_the_real_duration(
    owned_invite, started, finished, minutes, state, text
):
    owned_invite.assessment.time_limit_minutes = 30
    now = _at(owned_invite, started_minutes_ago=started, finished_minutes_ago=finished)
    used = review.time_used(owned_invite, now)
    assert (used.span, used.state, used.text) == (timedelta(minutes=minutes), state, text)
    (summary,) = review.summaries_of([owned_invite], now)
    assert summary.time_taken == timedelta(minutes=minutes)


def test_a_candidate_not_started_has_used_no_time(owned_invite):
    used = review.time_used(owned_invite)
    assert (used.span, used.state, used.text) == (None, review.TimeState.NOT_STARTED, "—")


def test_the_assessment_page_and_its_live_refresh_say_time_so_far_for_a_candidate_working(
    client, staff, owned_invite
):
    owned_invite.assessment.time_limit_minutes = 30
    _at(owned_invite, started_minutes_ago=12)
    log_in(client, staff.interviewer)
    assessment_id = owned_invite.assessment.id
    page = _text(client.get(f"/review/assessments/{assessment_id}"))
    assert re.search(r'data-poll-field="time_taken">12 min 0\d s so far<', page)
    live = client.get(f"/review/assessments/{assessment_id}/status.json").get_json()
    assert re.fullmatch(r"12 min 0\d s so far", live["invites"][str(owned_invite.id)]["time_taken"])
    review_page = _text(client.get(f"/review/invites/{owned_invite.id}"))
    assert re.search(r"<dd>12 min 0\d s so far <span", review_page)


@pytest.mark.parametrize("value", ["abc", "2.5", "1e3", "", "-1", " 1", "99999999999999999999"])
def test_a_submission_parameter_that_names_no_submission_is_404(client, staff, owned_invite, value):
    _begin(owned_invite)
    mine = _store(owned_invite, FIX, None, minute=0)
    log_in(client, staff.interviewer)
    url = f"/review/invites/{owned_invite.id}"
    assert client.get(url, query_string={"submission": str(mine.id)}).status_code == 200
    assert client.get(url, query_string={"submission": value}).status_code == 404


def test_before_anything_is_run_the_diff_is_the_draft_and_without_one_the_challenge_is_a_line(
    client, staff, owned_invite
):
    log_in(client, staff.interviewer)
    url = f"/review/invites/{owned_invite.id}"
    untouched = _text(client.get(url))
    assert "not touched: nothing run, submitted or saved as a draft" in untouched
    assert "autosaved draft" not in untouched and 'class="diff' not in untouched

    candidates.start(owned_invite)
    candidates.save_draft(owned_invite, _version(owned_invite), {"calc.py": FIX})
    drafted = _text(client.get(url))
    assert "The candidate's autosaved draft (nothing run or submitted yet)." in drafted
    assert "not touched" not in drafted
    assert '<span class="diff-add">+    return sum(items)\n</span>' in drafted


@pytest.mark.docker
def test_the_report_footer_shows_when_it_was_graded_like_every_other_time(
    client, staff, owned_invite, reports
):
    _begin(owned_invite)
    _store(owned_invite, FIX, reports.fixed, minute=0.5)
    log_in(client, staff.interviewer)
    page = _text(client.get(f"/review/invites/{owned_invite.id}"))
    graded = datetime.fromisoformat(reports.fixed["created_at"]).astimezone(UTC)
    assert f"· graded {graded:%Y-%m-%d %H:%M} UTC</p>" in page
    assert reports.fixed["created_at"] not in page


# ---- layout -----------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = 1280
PAGE_ORIGIN = "http://faultline.test"


def _serve_through(client):
    """A Playwright route handler answering every request with the Flask test client."""

    def handle(route) -> None:
        response = client.get(route.request.url.removeprefix(PAGE_ORIGIN))
        route.fulfill(
            status=response.status_code,
            headers={k: v for k, v in response.headers.items() if k != "Content-Length"},
            body=response.get_data(),
        )

    return handle


def test_long_unbroken_titles_and_names_wrap_instead_of_widening_the_page(
    client, staff, owned_invite
):
    from playwright.sync_api import sync_playwright

    staff.interviewer.name = "W" * 120
    owned_invite.candidate_name = "N" * 200
    db.session.commit()
    log_in(client, staff.interviewer)
    created = client.post(
        "/review/assessments/new",
        data={"title": "L" * 150, "challenges": [str(_version(owned_invite).id)]},
    )
    _store(owned_invite, FIX, None, minute=0)
    owned_invite.assessment.title = "T" * 150
    db.session.commit()
    demo = owned_invite.assessment.id
    urls = [
        created.headers["Location"],  # with the "created" flash
        "/review/",
        f"/review/assessments/{demo}",
        f"/review/invites/{owned_invite.id}",
        f"/review/assessments/{demo}/challenges/trivial-sum",
    ]

    widths, logout_right, flashes = {}, {}, 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": VIEWPORT, "height": 900})
            page.route(f"{PAGE_ORIGIN}/**", _serve_through(client))
            for url in urls:
                page.goto(PAGE_ORIGIN + url)
                widths[url] = page.evaluate("document.scrollingElement.scrollWidth")
                box = page.get_by_role("button", name="Log out").bounding_box()
                logout_right[url] = box["x"] + box["width"] <= VIEWPORT
                flashes += page.locator(".notice", has_text="L" * 150).count()
        finally:
            browser.close()
    assert widths == dict.fromkeys(urls, VIEWPORT)
    assert logout_right == dict.fromkeys(urls, True)
    assert flashes == 1


def test_revoking_an_unused_invite_stops_its_link_at_once(client, staff, owned_invite):
    log_in(client, staff.interviewer)
    page = _text(client.get(f"/review/assessments/{owned_invite.assessment_id}"))
    assert f"/review/invites/{owned_invite.id}/revoke" in page

    response = client.post(f"/review/invites/{owned_invite.id}/revoke", follow_redirects=True)
    assert response.status_code == 200
    assert "is revoked: it no longer opens" in _text(response)
    assert client.get(f"/i/{owned_invite.token}").status_code == 410
    assert client.post(f"/api/v1/invites/{owned_invite.token}/start").status_code == 410
    status = client.get(f"/review/assessments/{owned_invite.assessment_id}/status.json")
    assert status.get_json()["invites"][str(owned_invite.id)]["status"] == "expired"


def test_a_started_invite_cannot_be_revoked(client, staff, owned_invite):
    _begin(owned_invite)
    log_in(client, staff.interviewer)
    response = client.post(f"/review/invites/{owned_invite.id}/revoke", follow_redirects=True)
    assert "has already started: the link can no longer be revoked" in _text(response)
    db.session.refresh(owned_invite)
    assert owned_invite.is_open()


def test_another_interviewer_cannot_revoke_an_invite(client, staff, owned_invite):
    log_in(client, staff.other_interviewer)
    assert client.post(f"/review/invites/{owned_invite.id}/revoke").status_code == 404
    db.session.refresh(owned_invite)
    assert not owned_invite.is_expired()
