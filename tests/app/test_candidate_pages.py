"""The candidate's HTML pages: each renders, errors are pages (never a stack trace), and no
candidate-reachable response ever contains hidden test source or the reference solution."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from app.extensions import db
from app.models import Submission, utcnow

from ..conftest import FIXTURE_CHALLENGES

CHALLENGE = FIXTURE_CHALLENGES / "trivial-sum"
# The candidate's own fix: correct, but not the reference solution's text.
CANDIDATE_FIX = "def total(items):\n    return sum(list(items))\n"


def _start(client, invite):
    assert client.post(f"/api/v1/invites/{invite.token}/start").status_code == 200


def _text(response) -> str:
    return response.get_data(as_text=True)


def _assert_friendly_error(response, status: int, *phrases: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    body = _text(response)
    assert "Traceback" not in body and 'File "' not in body
    for phrase in phrases:
        assert phrase in body


def test_home_page_says_what_faultline_is(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    body = _text(response)
    assert "debugging interviews" in body and "invite link" in body


def test_landing_tells_the_candidate_what_to_expect(client, invite):
    response = client.get(f"/i/{invite.token}")
    assert response.status_code == 200
    body = _text(response)
    assert "Demo Candidate" in body and "Demo: Python production debugging" in body
    assert "1 challenge" in body and "5 minutes" in body
    assert "enforced by the server" in body
    assert "Run tests" in body and "Submit" in body and "hidden checks" in body
    assert 'id="start-button"' in body and f"/api/v1/invites/{invite.token}/start" in body
    assert '<meta name="csrf-token"' in body
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_pages_before_start_lead_back_to_the_landing(client, invite):
    for path in ("overview", "c/trivial-sum"):
        response = client.get(f"/i/{invite.token}/{path}")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/i/{invite.token}")


def test_overview_lists_challenges_status_and_time(client, invite):
    _start(client, invite)
    response = client.get(f"/i/{invite.token}/overview")
    assert response.status_code == 200
    body = _text(response)
    assert "Sum is off by one" in body and "A tiny challenge" in body and "easy" in body
    assert "Not started" in body
    assert re.search(r'class="countdown" data-seconds-left="(29\d|300)"', body)
    assert 'id="finish-button"' in body
    assert f'href="/i/{invite.token}/c/trivial-sum"' in body


def test_challenge_page_has_brief_editor_and_buttons(client, invite):
    _start(client, invite)
    response = client.get(f"/i/{invite.token}/c/trivial-sum")
    assert response.status_code == 200
    body = _text(response)
    assert "Make <code>total</code> return the sum" in body  # the brief, as HTML
    assert 'data-path="calc.py"' in body and "/static/dist/editor.js" in body
    assert 'id="run-button"' in body and 'id="submit-button"' in body
    assert "range(len(items) - 1)" in body  # the starter, for the editor
    assert "total() adds every item" in body  # check titles are candidate-safe
    assert 'id="closed-message"' in body and "Time is up" not in body


def test_static_assets_are_served(client):
    for path in ("/static/dist/editor.js", "/static/js/candidate.js", "/static/css/app.css"):
        response = client.get(path)
        assert response.status_code == 200 and len(response.data) > 1000
        response.close()


def test_report_page_of_a_queued_submission_waits(client, invite):
    _start(client, invite)
    created = client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": CANDIDATE_FIX}, "mode": "submit"},
    ).get_json()
    response = client.get(f"/i/{invite.token}/s/{created['id']}")
    assert response.status_code == 200
    body = _text(response)
    assert "Queued" in body and "updates itself" in body
    assert f'data-status-url="{created["status_url"]}"' in body


@pytest.mark.parametrize("path", ["", "/overview", "/c/trivial-sum", "/s/1"])
def test_unknown_token_is_a_friendly_404_page(client, path):
    response = client.get(f"/i/not-a-real-token{path}")
    _assert_friendly_error(response, 404, "This invite link is not valid")


def test_unknown_challenge_and_submission_are_404_pages(client, invite):
    _start(client, invite)
    _assert_friendly_error(client.get(f"/i/{invite.token}/c/nope"), 404, "no challenge")
    _assert_friendly_error(client.get(f"/i/{invite.token}/s/999"), 404, "No such submission")
    _assert_friendly_error(client.get(f"/i/{invite.token}/s/abc"), 404, "Page not found")


def test_expired_invite_says_so_and_shows_nothing_of_the_candidate_or_assessment(client, invite):
    invite.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    private = [invite.candidate_name, invite.assessment.title, "trivial"]
    for path in ("", "/overview", "/c/trivial-sum"):
        response = client.get(f"/i/{invite.token}{path}")
        assert response.status_code == 410, path
        body = _text(response)
        assert "This invite has expired. Ask your interviewer for a new link." in body
        assert 'id="start-button"' not in body
        assert not [text for text in private if text.lower() in body.lower()], path
    for method, path in (("get", ""), ("post", "/start"), ("get", "/challenges/trivial-sum")):
        answer = getattr(client, method)(f"/api/v1/invites/{invite.token}{path}")
        assert answer.status_code == 410, path
        assert answer.get_json() == {
            "error": "This invite has expired. Ask your interviewer for a new link."
        }


def test_time_up_shows_the_servers_refusal_and_disables_the_buttons(client, invite):
    _start(client, invite)
    invite.started_at = invite.started_at - timedelta(hours=1)
    db.session.commit()
    body = _text(client.get(f"/i/{invite.token}/c/trivial-sum"))
    assert "Time is up for this assessment" in body
    assert re.search(r'id="run-button" disabled', body)
    assert re.search(r'id="submit-button" disabled', body)
    overview = _text(client.get(f"/i/{invite.token}/overview"))
    assert "Time is up for this assessment" in overview


def test_finished_invite_overview_and_landing(client, invite):
    _start(client, invite)
    assert client.post(f"/api/v1/invites/{invite.token}/finish").status_code == 200
    assert "You have finished this assessment" in _text(client.get(f"/i/{invite.token}"))
    overview = _text(client.get(f"/i/{invite.token}/overview"))
    assert "You have finished this assessment" in overview
    assert 'id="finish-button"' not in overview


def test_app_wide_error_pages_are_html_outside_the_api(web_app, client):
    def too_large():
        raise RequestEntityTooLarge()

    def crash():
        raise RuntimeError("secret internals")

    web_app.add_url_rule("/test-too-large", "test_too_large", too_large)
    web_app.add_url_rule("/test-crash", "test_crash", crash)
    web_app.config["PROPAGATE_EXCEPTIONS"] = False

    _assert_friendly_error(client.get("/no/such/page"), 404, "Page not found")
    _assert_friendly_error(client.post("/"), 405, "does not accept")
    _assert_friendly_error(client.get("/test-too-large"), 413, "larger than the server accepts")
    crashed = client.get("/test-crash")
    _assert_friendly_error(crashed, 500, "Something went wrong")
    assert "secret internals" not in _text(crashed)

    api = client.get("/api/v1/no/such/route")
    assert api.status_code == 404 and "error" in api.get_json()
    assert client.delete("/api/v1/invites/x").get_json()["error"]


# --- nothing secret reaches the candidate -------------------------------------------------


def _secret_fragments() -> list[str]:
    """Lines of the hidden tests and the reference solution that the candidate cannot know:
    every line not also in the starter or the visible tests, plus the hidden test names.
    Lines of punctuation alone (a closing bracket) reveal nothing and are left out."""
    public: set[str] = set()
    for folder in ("starter", "tests/visible"):
        for path in (CHALLENGE / folder).rglob("*.py"):
            public.update(line.strip() for line in path.read_text().splitlines())
    secrets: set[str] = set()
    for folder in ("tests/hidden", "solution"):
        for path in (CHALLENGE / folder).rglob("*.py"):
            source = path.read_text()
            secrets.update(re.findall(r"def (test_\w+)", source))
            secrets.update(
                line.strip()
                for line in source.splitlines()
                if re.search(r"\w", line) and line.strip() not in public
            )
    assert {"test_total_adds_every_item", "return sum(items)"} <= secrets
    return sorted(secrets)


def _candidate_rules(app) -> list:
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(("/i/", "/api/v1/"))]
    assert len(rules) >= 10
    return rules


def _requests_for(rule, token: str, submission_ids: list[int]):
    """Every (method, url, json) a candidate can send to this rule."""
    ids = submission_ids if "submission_id" in rule.arguments else [None]
    for submission_id in ids:
        values = {"token": token, "slug": "trivial-sum", "submission_id": submission_id}
        url = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = None
            if method != "GET":
                body = {"files": {"calc.py": CANDIDATE_FIX}, "mode": "run"}
            yield method, url, body


@pytest.mark.docker
def test_no_candidate_route_reveals_hidden_tests_or_the_solution(
    web_app, client, invite, run_worker, docker_sandbox
):
    _start(client, invite)
    submissions = []
    for mode in ("submit", "run"):
        response = client.post(
            f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
            json={"files": {"calc.py": CANDIDATE_FIX}, "mode": mode},
        )
        assert response.status_code == 202
        submissions.append(response.get_json()["id"])
    # A failing submission too: its report has failed checks (where messages would quote tests).
    run_worker()
    client.post(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/submissions",
        json={"files": {"calc.py": "def total(items):\n    return 1 / 0\n"}, "mode": "submit"},
    )
    run_worker()
    rows = db.session.query(Submission).order_by(Submission.id).all()
    assert [s.status for s in rows] == ["graded", "graded", "graded"]
    assert rows[0].score == 4 and rows[2].score < 4
    ids = [s.id for s in rows]

    secrets = _secret_fragments()
    rules = _candidate_rules(web_app)
    requests = [r for rule in rules for r in _requests_for(rule, invite.token, ids)]
    gets = [r for r in requests if r[0] == "GET"]
    changes = sorted((r for r in requests if r[0] != "GET"), key=lambda r: r[1].endswith("/finish"))
    assert any(url.endswith("/finish") for _, url, _ in changes)

    seen = 0
    for phase in ("graded", "after changes", "after grading again"):
        batch = gets if phase != "after changes" else [*changes, *gets]
        for method, url, body in batch:
            response = client.open(url, method=method, json=body)
            assert response.status_code < 500, (method, url, response.status_code)
            text = _text(response)
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{method} {url} ({phase}) shows {leaked}"
            seen += 1
        if phase == "after changes":
            run_worker()
    assert seen > 3 * len(gets)
    # The walk did reach the graded reports: evidence, not secrets.
    report = _text(client.get(f"/i/{invite.token}/s/{ids[0]}"))
    assert "Score 4/4" in report and "sum of 0..9: 45" in report
    assert Path(CHALLENGE / "solution" / "calc.py").read_text().strip().endswith("sum(items)")
