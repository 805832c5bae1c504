"""What interviewers get of the session replay: the staff JSON
(GET /review/invites/<id>/challenges/<slug>/replay.json), authorised like the review page, and
the signals in the CSV and JSON exports. The candidate records through the real endpoint."""

from __future__ import annotations

import csv
import io

import pytest

from app.extensions import db
from app.models import Invite, Submission, utcnow
from app.services.replay import epoch_ms

from .conftest import log_in

SLUG = "trivial-sum"
FILE = "calc.py"
FIXED = "def total(items):\n    return sum(items)\n"
PASTED = "return sum(items)"


def _version(invite):
    return invite.assessment.items[0].challenge


def _graded(invite, mode: str, files: dict[str, str], passed: int, total: int) -> Submission:
    """A run or submission as the worker leaves it (no Docker here: the report is hand-made)."""
    checks = [{"id": f"c{n}", "passed": n < passed} for n in range(total)]
    submission = Submission(
        invite=invite,
        challenge=_version(invite),
        mode=mode,
        files=files,
        status="graded",
        report={"checks": checks},
        score=passed if mode == "submit" else None,
        max_score=total if mode == "submit" else None,
        finished_at=utcnow(),
    )
    db.session.add(submission)
    db.session.commit()
    return submission


def _record(client, invite, events, session="page-load-0001"):
    response = client.post(
        f"/api/v1/invites/{invite.token}/challenges/{SLUG}/events",
        json={"session": session, "events": events},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def recorded(client, owned_invite):
    """The candidate opens the challenge, deletes the buggy body, pastes a fix from outside,
    leaves the page for a while, runs the tests (they pass) and submits; one batch is lost."""
    assert client.post(f"/api/v1/invites/{owned_invite.token}/start").status_code == 200
    starter = _version(owned_invite).payload["starter"][FILE]
    body_at = starter.index("    result = 0")
    units = len(starter.encode("utf-16-le")) // 2
    now = epoch_ms(utcnow())
    run = _graded(owned_invite, "run", {FILE: FIXED}, passed=1, total=1)
    submit = _graded(owned_invite, "submit", {FILE: FIXED}, passed=2, total=2)
    t = now - 20_000
    events = [
        {"seq": 1, "t": t, "kind": "snapshot", "file": FILE, "data": {"text": starter}},
        {
            "seq": 2,
            "t": t + 1000,
            "kind": "change",
            "file": FILE,
            "data": {"changes": [body_at, [units - body_at, "    "]], "origin": "type"},
        },
        {"seq": 3, "t": t + 2000, "kind": "blur"},
        {"seq": 4, "t": t + 2500, "kind": "hidden"},
        {"seq": 5, "t": t + 7000, "kind": "visible"},
        {"seq": 6, "t": t + 8000, "kind": "focus"},
        {
            "seq": 7,
            "t": t + 9000,
            "kind": "change",
            "file": FILE,
            "data": {
                "changes": [body_at + 4, [0, PASTED, ""]],
                "origin": "paste",
                "paste": {"size": len(PASTED) + 1, "source": "outside"},
            },
        },
        {"seq": 8, "t": t + 10_000, "kind": "run", "data": {"submission_id": run.id}},
        {
            "seq": 9,
            "t": t + 12_000,
            "kind": "result",
            "data": {
                "submission_id": run.id,
                "mode": "run",
                "status": "graded",
                "score": None,
                "max_score": None,
                "passed": 1,
                "total": 1,
            },
        },
    ]
    _record(client, owned_invite, events[:6])
    _record(client, owned_invite, events[6:])
    # events 10 and 11 of the session never arrive; 12 does
    _record(
        client,
        owned_invite,
        [{"seq": 12, "t": t + 15_000, "kind": "submit", "data": {"submission_id": submit.id}}],
    )
    return {"invite": owned_invite, "run": run, "submit": submit, "t": t}


def _replay_url(invite, slug=SLUG) -> str:
    return f"/review/invites/{invite.id}/challenges/{slug}/replay.json"


def test_the_owner_gets_the_replay_with_integrity_and_signals(web_app, staff, recorded):
    invite = recorded["invite"]
    staff_client = web_app.test_client()
    log_in(staff_client, staff.interviewer)
    response = staff_client.get(_replay_url(invite))
    assert response.status_code == 200 and response.is_json
    data = response.get_json()

    starter = _version(invite).payload["starter"][FILE]
    assert data["files"] == {FILE: {"starter": starter, "editable": True}}
    assert data["started_at"] == invite.started_at.isoformat() + "Z"
    assert data["deadline"] == invite.deadline.isoformat() + "Z"
    kinds = [(e["seq"], e["kind"]) for e in data["events"]]
    assert kinds == [
        (1, "snapshot"),
        (2, "change"),
        (3, "blur"),
        (4, "hidden"),
        (5, "visible"),
        (6, "focus"),
        (7, "change"),
        (8, "run"),
        (9, "result"),
        (None, "gap"),
        (12, "submit"),
    ]
    assert data["events"][9]["data"] == {"from_seq": 10, "to_seq": 11}
    assert set(data["events"][0]) == {"session", "seq", "t", "kind", "file", "data"}
    assert [(s["id"], s["number"], s["mode"]) for s in data["submissions"]] == [
        (recorded["run"].id, 1, "run"),
        (recorded["submit"].id, 1, "submit"),
    ]

    integrity = data["integrity"]
    assert integrity["checked_submission_id"] == recorded["submit"].id
    assert integrity["verified_submission_ids"] == [recorded["run"].id, recorded["submit"].id]
    assert integrity["capped_at"] is None
    assert integrity["ok"] is False  # the lost events are a gap, listed though the code matches
    (gap,) = integrity["problems"]
    assert "events 10 to 11 of session page-load-0001 were not received" in gap["message"]

    signals = data["signals"]
    assert signals["characters"]["pasted_outside"] == len(PASTED) + 1
    assert signals["characters"]["typed"] == 4  # the indent typed before the paste
    assert signals["largest_outside_pastes"][0]["text"] == PASTED + "\n"
    assert signals["away_ms"] == 6000 and signals["longest_away_ms"] == 6000
    assert (signals["runs"], signals["submits"]) == (1, 1)
    assert signals["first_passing_run_ms"] == signals["first_run_ms"] is not None


def test_a_forged_stream_is_flagged_in_the_staff_json(web_app, staff, client, owned_invite):
    assert client.post(f"/api/v1/invites/{owned_invite.token}/start").status_code == 200
    submitted = "def total(items):\n    return 42\n"
    submit = _graded(owned_invite, "submit", {FILE: submitted}, passed=0, total=2)
    now = epoch_ms(utcnow())
    starter = _version(owned_invite).payload["starter"][FILE]
    _record(
        client,
        owned_invite,
        [
            {
                "seq": 1,
                "t": now - 3000,
                "kind": "snapshot",
                "file": FILE,
                "data": {"text": starter},
            },
            {"seq": 2, "t": now - 2000, "kind": "submit", "data": {"submission_id": submit.id}},
        ],
    )
    staff_client = web_app.test_client()
    log_in(staff_client, staff.interviewer)
    integrity = staff_client.get(_replay_url(owned_invite)).get_json()["integrity"]
    assert integrity["ok"] is False
    (problem,) = integrity["problems"]
    assert (problem["seq"], problem["file"], problem["t"]) == (2, FILE, now - 2000)
    assert "differs from what submission #1 graded" in problem["message"]
    assert "+    return 42" in problem["diff"]


def test_an_admin_may_see_any_replay(web_app, staff, recorded):
    admin = web_app.test_client()
    log_in(admin, staff.admin)
    assert admin.get(_replay_url(recorded["invite"])).status_code == 200


def test_another_interviewer_and_a_candidate_may_not(web_app, staff, recorded, client):
    other = web_app.test_client()
    log_in(other, staff.other_interviewer)
    hidden = other.get(_replay_url(recorded["invite"]))
    assert hidden.status_code == 404 and "events" not in hidden.get_data(as_text=True)
    anonymous = client.get(_replay_url(recorded["invite"]))  # the candidate's own browser
    assert anonymous.status_code == 401 and anonymous.get_json() == {"error": "Log in first."}


def test_a_challenge_not_in_the_assessment_has_no_replay(web_app, staff, recorded):
    owner = web_app.test_client()
    log_in(owner, staff.interviewer)
    assert owner.get(_replay_url(recorded["invite"], "no-such-challenge")).status_code == 404


REPLAY_COLUMNS = [
    "replay_integrity",
    "typed_share",
    "pasted_outside_share",
    "pasted_inside_share",
    "outside_pastes",
    "largest_outside_paste_chars",
    "away_seconds",
    "longest_away_seconds",
    "first_run_seconds",
    "first_passing_run_seconds",
    "runs",
]


def test_the_exports_carry_the_replay_signals_per_candidate_and_challenge(web_app, staff, recorded):
    invite = recorded["invite"]
    db.session.add(Invite(assessment=invite.assessment, candidate_name="Not Yet"))
    db.session.commit()
    owner = web_app.test_client()
    log_in(owner, staff.interviewer)
    base = f"/review/assessments/{invite.assessment.id}"

    rows = list(csv.DictReader(io.StringIO(owner.get(f"{base}/export.csv").get_data(as_text=True))))
    header = list(rows[0])
    assert header[-len(REPLAY_COLUMNS) - 1 :] == ["rating", *REPLAY_COLUMNS]
    assert header[:11] == [
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
    ]
    by_name = {row["candidate_name"]: row for row in rows}
    mine = by_name[invite.candidate_name]
    final_chars = len(FIXED)
    assert mine["replay_integrity"] == "problems"  # the gap
    assert mine["pasted_outside_share"] == str(round((len(PASTED) + 1) / final_chars, 4))
    assert mine["typed_share"] == str(round(4 / final_chars, 4))
    assert mine["pasted_inside_share"] == "0.0"
    assert (mine["outside_pastes"], mine["largest_outside_paste_chars"]) == ("1", "18")
    assert (mine["away_seconds"], mine["longest_away_seconds"], mine["runs"]) == ("6", "6", "1")
    assert mine["first_run_seconds"] == mine["first_passing_run_seconds"] != ""
    waiting = by_name["Not Yet"]
    assert waiting["replay_integrity"] == "not recorded" and waiting["typed_share"] == ""

    json_rows = owner.get(f"{base}/export.json").get_json()["rows"]
    mine_json = next(row for row in json_rows if row["candidate_name"] == invite.candidate_name)
    assert {column: mine_json[column] for column in REPLAY_COLUMNS} == {
        "replay_integrity": "problems",
        "typed_share": round(4 / final_chars, 4),
        "pasted_outside_share": round((len(PASTED) + 1) / final_chars, 4),
        "pasted_inside_share": 0.0,
        "outside_pastes": 1,
        "largest_outside_paste_chars": 18,
        "away_seconds": 6,
        "longest_away_seconds": 6,
        "first_run_seconds": mine["first_run_seconds"] and int(mine["first_run_seconds"]),
        "first_passing_run_seconds": int(mine["first_passing_run_seconds"]),
        "runs": 1,
    }
