from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Submission

SOLUTION = "def total(items):\n    return sum(items)\n"


def _start(client, invite):
    response = client.post(f"/api/v1/invites/{invite.token}/start")
    assert response.status_code == 200
    return response.get_json()


def test_unknown_token_is_a_clear_404(client):
    response = client.get("/api/v1/invites/not-a-token")
    assert response.status_code == 404
    assert "not valid" in response.get_json()["error"]


def test_start_sets_the_deadline(client, invite):
    data = _start(client, invite)
    assert data["state"] == "started" and data["open"] is True
    assert 5 * 60 - 5 <= data["seconds_left"] <= 5 * 60
    assert [c["slug"] for c in data["challenges"]] == ["trivial-sum"]


def test_challenge_page_data_has_no_hidden_tests_or_solution(client, invite):
    _start(client, invite)
    data = client.get(f"/api/v1/invites/{invite.token}/challenges/trivial-sum").get_json()
    text = repr(data)
    assert "test_total_adds_every_item" not in text
    assert "return sum(items)" not in text
    assert data["files"][0]["path"] == "calc.py" and data["files"][0]["editable"] is True


def test_draft_round_trip(client, invite):
    _start(client, invite)
    url = f"/api/v1/invites/{invite.token}/challenges/trivial-sum"
    assert client.put(f"{url}/draft", json={"files": {"calc.py": "# mine\n"}}).status_code == 200
    assert client.get(url).get_json()["files"][0]["content"] == "# mine\n"


@pytest.mark.parametrize(
    ("files", "status", "reason"),
    [
        ({"calc2.py": "x"}, 422, "is not a file of this challenge"),
        ({"calc.py": "#" * (10 * 1024 * 1024)}, 413, ""),
        ("not a dict", 400, "files must be an object"),
    ],
)
def test_bad_submissions_are_refused_with_a_reason(client, invite, files, status, reason):
    _start(client, invite)
    response = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": files, "mode": "submit"},
    )
    assert response.status_code == status
    assert reason in response.get_json()["error"]
    assert db.session.query(Submission).count() == 0


@pytest.mark.docker
def test_submit_is_graded_by_the_worker_and_report_is_candidate_safe(
    client, invite, run_worker, docker_sandbox
):
    _start(client, invite)
    response = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": SOLUTION}, "mode": "submit"},
    )
    assert response.status_code == 202
    status_url = response.get_json()["status_url"]
    assert client.get(status_url).get_json()["status"] == "queued"
    run_worker()
    data = client.get(status_url).get_json()
    assert data["status"] == "graded" and data["score"] == data["max_score"] == 4
    assert data["report"]["output"] == ""
    assert all("message" not in check for check in data["report"]["checks"])


def test_non_utf8_body_is_a_clear_400(client, invite):
    _start(client, invite)
    response = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        data=b'{"files": {"calc.py": "\xff\xfe"}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "send a JSON object" in response.get_json()["error"]


def test_malformed_json_is_a_clear_400(client, invite):
    _start(client, invite)
    response = client.put(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/draft",
        data=b"{not json",
        content_type="application/json",
    )
    assert response.status_code == 400


def test_a_finished_invite_cannot_be_reused(client, invite):
    _start(client, invite)
    assert client.post(f"/api/v1/invites/{invite.token}/finish").status_code == 200
    again = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": SOLUTION}, "mode": "submit"},
    )
    assert again.status_code == 403
    assert "finished this assessment" in again.get_json()["error"]
    restart = client.post(f"/api/v1/invites/{invite.token}/start").get_json()
    assert restart["state"] == "finished"


def test_unknown_mode_is_refused(client, invite):
    _start(client, invite)
    response = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": SOLUTION}, "mode": "grade-me-generously"},
    )
    assert response.status_code == 400
    assert "mode must be one of" in response.get_json()["error"]
