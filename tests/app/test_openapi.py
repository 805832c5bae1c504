"""The candidate API against its OpenAPI document: served, valid, and fuzzed by schemathesis.

The fuzzer sends what the document allows and what it does not to every operation, on SQLite
and PostgreSQL, and asserts that no answer is a 500 and that every answer (status, content type,
headers, body) is one the document describes. Half the cases use the demo invite's real token
and challenge, so the fuzz reaches the handlers behind the token check; the invite is started
first, so drafts and submissions are accepted or refused on their content. CSRF is off in this
app: its refusal is Flask-WTF's, proven in test_auth.py, and would stop every write at the door.
"""

from __future__ import annotations

import hashlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.openapi import SOURCE, document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    negative_data_rejection,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


EDITABLE = "calc.py"  # the fixture challenge's one editable file


@pytest.fixture
def started_invite(client, invite):
    assert client.post(f"/api/v1/invites/{invite.token}/start").status_code == 200
    return invite


@pytest.fixture
def submission_id(client, started_invite) -> int:
    """A real submission of the invite, queued (no worker runs here)."""
    response = client.post(
        f"/api/v1/invites/{started_invite.token}/challenges/trivial-sum/submissions",
        json={"files": {EDITABLE: "def total(items):\n    return sum(items)\n"}, "mode": "submit"},
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


schema = schemathesis.openapi.from_dict(document())


def _real_half(generated: object, real: object) -> object:
    """The real value for about half the generated ones, chosen by the generated value itself
    so that Hypothesis can replay and shrink a failing case."""
    digest = hashlib.sha256(repr(generated).encode("utf-8", "replace")).digest()
    return real if digest[0] % 2 else generated


@schema.parametrize()
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_conforms_to_the_document_and_none_is_a_500(
    case, web_app, started_invite, submission_id
):
    parameters = case.path_parameters or {}
    if "token" in parameters:
        parameters["token"] = _real_half(parameters["token"], started_invite.token)
    if "slug" in parameters:
        parameters["slug"] = _real_half(parameters["slug"], "trivial-sum")
    if "submission_id" in parameters:
        parameters["submission_id"] = _real_half(parameters["submission_id"], submission_id)
    files = case.body.get("files") if isinstance(case.body, dict) else None
    if isinstance(files, dict) and files:  # the generated content, under the file's real name
        case.body["files"] = _real_half(files, {EDITABLE: next(iter(files.values()))})
    case.call_and_validate(app=web_app, checks=CHECKS)


def test_the_document_is_valid_openapi():
    schema.validate()  # raises on a document the OpenAPI 3.1 meta-schema refuses


def test_the_document_is_served_as_json(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == document()


def test_the_document_in_docs_is_the_one_served():
    from app.config import REPO_ROOT

    published = REPO_ROOT / "docs" / "openapi.yaml"
    assert published.resolve() == SOURCE.resolve()


def test_every_api_route_is_in_the_document(web_app):
    documented = {
        (method.upper(), "/api/v1" + path.replace("{submission_id}", "<id:submission_id>"))
        for path, operations in document()["paths"].items()
        for method in operations
        if method != "parameters"
    }
    served = {
        (method, rule.rule.replace("<token>", "{token}").replace("<slug>", "{slug}"))
        for rule in web_app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == documented
