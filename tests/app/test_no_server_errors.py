"""A visitor's mistake never answers 500: numbers past the database's range, JSON nested too
deeply, text that is not Unicode. And when the server does fail, its error page still renders."""

from __future__ import annotations

import re

import pytest
from flask import Flask, url_for

from app.extensions import db
from app.models import User
from app.routing import LARGEST_ID

from .conftest import log_in

PAST_THE_RANGE = (LARGEST_ID + 1, 2**63, 10**30)


def _id_routes(app: Flask) -> list[tuple[str, set[str], str, list[str]]]:
    """(method, the rule's arguments, endpoint, its id arguments) of every route that takes a
    database id."""
    routes = []
    for rule in app.url_map.iter_rules():
        ids = re.findall(r"<id:(\w+)>", rule.rule)
        for method in sorted(rule.methods & {"GET", "POST", "PUT"} if ids else ()):
            routes.append((method, set(rule.arguments), rule.endpoint, ids))
    return routes


PLACEHOLDER = 987_654_321  # an id url_for accepts, replaced by the value tried


def _url(app: Flask, rule_arguments: set[str], endpoint: str, ids: list[str], value: int, invite):
    """The route's URL with ``value`` for its ids (url_for itself refuses a value past the
    range), the demo invite's token and its challenge's slug for the other arguments."""
    fillers = {"token": invite.token, "slug": "trivial-sum"}
    arguments = {name: fillers[name] for name in rule_arguments if name not in ids}
    arguments.update(dict.fromkeys(ids, PLACEHOLDER))
    with app.test_request_context():
        url = url_for(endpoint, **arguments)
    return url.replace(str(PLACEHOLDER), str(value))


def test_every_route_answers_404_for_an_id_past_the_database_range(web_app, client, staff, invite):
    routes = _id_routes(web_app)
    assert len(routes) >= 20, routes  # the route table was read, not an empty list
    log_in(client, staff.admin)
    wrong = []
    for method, arguments, endpoint, ids in routes:
        for value in (LARGEST_ID, *PAST_THE_RANGE):
            url = _url(web_app, arguments, endpoint, ids, value, invite)
            status = client.open(url, method=method).status_code
            if status != 404:
                wrong.append(f"{method} {url}: {status}")
    assert not wrong, wrong


def test_json_nested_too_deeply_is_a_clear_400(client, invite):
    client.post(f"/api/v1/invites/{invite.token}/start")
    body = "[" * 100_000 + "]" * 100_000
    response = client.put(
        f"/api/v1/invites/{invite.token}/challenges/trivial-sum/draft",
        data=body,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.get_json()["error"]


@pytest.mark.parametrize("action", ["draft", "submissions"])
def test_a_lone_surrogate_in_a_file_is_a_clear_422(client, invite, action):
    client.post(f"/api/v1/invites/{invite.token}/start")
    body = '{"files": {"calc.py": "def total(items):\\n    return 0  # \\ud800\\n"}}'
    url = f"/api/v1/invites/{invite.token}/challenges/trivial-sum/{action}"
    response = (client.put if action == "draft" else client.post)(
        url, data=body, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "calc.py is not valid Unicode text (a lone surrogate at character 34)"
    }


def test_the_error_page_renders_when_a_request_failed_inside_a_transaction(web_app, client, staff):
    @web_app.get("/_boom")
    def boom():
        db.session.add(User(email=staff.admin.email, name="Twin", role="admin", password_hash="-"))
        db.session.flush()  # IntegrityError: the session's transaction must be rolled back

    web_app.config["PROPAGATE_EXCEPTIONS"] = False
    log_in(client, staff.interviewer)
    response = client.get("/_boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "The server hit a problem. Your saved work is safe" in page
    # The page loads the logged-in user (to offer the way back) after the failure:
    assert "Your assessments</a>" in page
