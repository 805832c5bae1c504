"""The authorisation matrix: every route of the app, for every kind of visitor.

Who sees what: a candidate sees their own invite (the token is the key) and nothing of
anyone else's; an interviewer sees everything about the assessments they own and nothing of
others' (404, so not even their existence); an admin sees everything. The routes are read from
``app.url_map``, so a route added later is checked too: the test fails until it knows how to
fill the new route's URL arguments and which audience its blueprint serves.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.routing import Rule

from app.extensions import db
from app.models import Assessment, AssessmentItem, Invite, RegradeBatch, Submission, utcnow
from grader.grading import grade
from grader.spec import challenge_from_payload

from .conftest import log_in

pytestmark = pytest.mark.docker

VISITORS = ("anonymous", "candidate", "interviewer", "other_interviewer", "admin")

# Blueprint -> audience. Every blueprint of the app must be listed here.
AUDIENCES = {
    "home": "public",
    "static": "public",
    "auth": "public",
    "candidate": "token",
    "api": "token",
    "review": "staff",
    "admin": "admin",
}
# Endpoints whose audience differs from their blueprint's.
ENDPOINT_AUDIENCES = {"auth.logout": "logged_in", "auth.change_password": "logged_in"}

# Where the login guard sends an anonymous visitor (logging out also ends on /login, plainly).
LOGIN_REDIRECT = "/login?next="


@dataclass
class World:
    """Two of everything, owned by different people, so 'own' and 'other' can be tried."""

    own_assessment: Assessment
    other_assessment: Assessment
    own_invite: Invite
    other_invite: Invite
    own_submission: Submission
    other_submission: Submission
    slug: str
    version_id: int
    batch_id: int
    spare_user_id: int


@pytest.fixture(scope="module")
def real_report(trivial_challenge, docker_sandbox) -> dict:
    """One real report (the starter, graded in the sandbox) for the stored submissions."""
    return grade(trivial_challenge, {}, docker_sandbox, mode="hidden")


@pytest.fixture
def world(web_app, staff, real_report) -> World:
    from app.services.library import current_versions
    from app.services.users import create_user

    version = current_versions()[0]
    challenge = challenge_from_payload(version.payload)
    files = {path: challenge.starter[path] for path in challenge.spec.editable_paths}

    def assessment(owner, name: str) -> tuple[Assessment, Invite, Submission]:
        item = AssessmentItem(challenge=version, position=0)
        made = Assessment(title=f"{name}'s", time_limit_minutes=30, owner=owner, items=[item])
        invite = Invite(
            assessment=made,
            candidate_name=f"{name} candidate",
            state="started",
            started_at=utcnow(),
        )
        submission = Submission(
            invite=invite,
            challenge=version,
            mode="submit",
            files=files,
            status="graded",
            report=real_report,
            score=real_report["score"],
            max_score=real_report["max_score"],
            finished_at=utcnow(),
        )
        db.session.add_all([made, invite, submission])
        return made, invite, submission

    own = assessment(staff.interviewer, "Ivy")
    other = assessment(staff.other_interviewer, "Oscar")
    spare = create_user("spare@example.com", "Spare", "interviewer", "a spare password!")
    batch = RegradeBatch(from_version=version, to_version=version, created_by=staff.admin)
    db.session.add(batch)
    db.session.commit()
    return World(
        own_assessment=own[0],
        other_assessment=other[0],
        own_invite=own[1],
        other_invite=other[1],
        own_submission=own[2],
        other_submission=other[2],
        slug=version.slug,
        version_id=version.id,
        batch_id=batch.id,
        spare_user_id=spare.id,
    )


def _arguments(rule: Rule, world: World, target: str) -> dict[str, object]:
    """URL arguments pointing at Ivy's ('own') or Oscar's ('other') objects. On candidate
    routes the token is always the candidate's own: 'other' then means another invite's
    objects reached with one's own token."""
    own = target != "other"
    values = {
        "token": world.own_invite.token,
        "assessment_id": (world.own_assessment if own else world.other_assessment).id,
        "invite_id": (world.own_invite if own else world.other_invite).id,
        "submission_id": (world.own_submission if own else world.other_submission).id,
        "slug": world.slug,
        "version_id": world.version_id,
        "batch_id": world.batch_id,
        "user_id": world.spare_user_id,
        "filename": "css/app.css",
    }
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.endpoint}: teach this test a value for {sorted(missing)}"
    return {name: values[name] for name in rule.arguments}


def _audience(rule: Rule) -> str:
    if rule.endpoint in ENDPOINT_AUDIENCES:
        return ENDPOINT_AUDIENCES[rule.endpoint]
    blueprint = rule.endpoint.split(".", 1)[0] if "." in rule.endpoint else rule.endpoint
    assert blueprint in AUDIENCES, f"{rule.endpoint}: which audience does {blueprint!r} serve?"
    return AUDIENCES[blueprint]


def _targets(rule: Rule, audience: str) -> tuple[str, ...]:
    owned = {"assessment_id", "invite_id", "submission_id"}
    return ("own", "other") if owned & set(rule.arguments) else ("none",)


def _expected(audience: str, visitor: str, target: str) -> str:
    """The one verdict the rules above allow. For a POST, 'allowed' means the request
    reached the view (which may still refuse the input with 400/409/422: not authorisation)."""
    staff = visitor in ("interviewer", "other_interviewer", "admin")
    if audience == "public":
        return "allowed"
    if audience == "logged_in":
        return "allowed" if staff else "login"
    if audience == "token":
        return "hidden" if target == "other" else "allowed"
    if not staff:
        return "login"
    if audience == "admin":
        return "allowed" if visitor == "admin" else "forbidden"
    if visitor == "admin" or target == "none":
        return "allowed"
    owner = {"own": "interviewer", "other": "other_interviewer"}[target]
    return "allowed" if visitor == owner else "hidden"


def _verdict(response) -> str:
    if response.status_code in (301, 302, 303) and LOGIN_REDIRECT in response.location:
        return "login"
    return {401: "login", 403: "forbidden", 404: "hidden"}.get(response.status_code, "allowed")


def _locked_down(response) -> bool:
    """Pages load nothing from elsewhere (uploaded Markdown cannot pull in a script) and
    cannot be framed."""
    policy = response.headers.get("Content-Security-Policy", "")
    return "script-src 'self'" in policy and response.headers.get("X-Frame-Options") == "DENY"


def _ordered_routes(app: Flask) -> list[tuple[Rule, str]]:
    """GETs first, then POSTs, and the ones that end something (finishing an assessment,
    logging out) last, so no request changes what a later one may see."""
    routes = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    ending = ("finish", "logout")
    return sorted(
        routes,
        key=lambda r: (r[1] != "GET", any(w in r[0].endpoint for w in ending), r[0].rule),
    )


def _sessions(web_app, staff) -> dict[str, str | None]:
    """Each visitor's session cookie (one real login each), to start every request afresh."""
    cookies: dict[str, str | None] = {"anonymous": None, "candidate": None}
    for visitor in ("interviewer", "other_interviewer", "admin"):
        client = web_app.test_client()
        log_in(client, getattr(staff, visitor))
        cookies[visitor] = client.get_cookie(web_app.config["SESSION_COOKIE_NAME"]).value
    return cookies


def _request(web_app, cookie: str | None, rule: Rule, method: str, arguments: dict):
    from flask import url_for

    client = web_app.test_client()
    if cookie is not None:
        client.set_cookie(web_app.config["SESSION_COOKIE_NAME"], cookie)
    with web_app.test_request_context():
        url = url_for(rule.endpoint, **arguments)
    return client.open(url, method=method, data={}, headers={"Accept": "text/html"})


def test_every_route_answers_each_visitor_as_the_design_allows(web_app, staff, world):
    cookies = _sessions(web_app, staff)
    failures = []
    checked = set()
    for rule, method in _ordered_routes(web_app):
        audience = _audience(rule)
        visitors = ("candidate",) if audience == "token" else VISITORS
        for target in _targets(rule, audience):
            arguments = _arguments(rule, world, target)
            for visitor in visitors:
                expected = _expected(audience, visitor, target)
                response = _request(web_app, cookies[visitor], rule, method, arguments)
                checked.add(rule.endpoint)
                verdict = _verdict(response)
                if response.status_code >= 500:
                    failures.append(f"{method} {rule.rule} as {visitor} on {target}: HTTP 500")
                elif verdict != expected:
                    failures.append(
                        f"{method} {rule.rule} as {visitor} on {target}: got {verdict} "
                        f"({response.status_code}), expected {expected}"
                    )
                elif response.mimetype == "text/html" and not _locked_down(response):
                    failures.append(f"{method} {rule.rule}: a page without the security headers")
    assert {
        "review.dashboard",
        "admin.library",
        "api.submit",
        "auth.login",
        # session replay: the candidate records with the token, staff read it like the review
        "api.record_events",
        "review.replay_json",
    } <= checked
    assert not failures, "\n".join(failures)


def test_staff_only_content_stays_with_staff(web_app, staff, world, client):
    """The raw hidden output is on the owner's review page, never on the candidate's report."""
    raw = world.own_submission.report["checks"][0]["message"]
    assert raw
    candidate = client.get(f"/i/{world.own_invite.token}/s/{world.own_submission.id}")
    assert candidate.status_code == 200
    owner = web_app.test_client()
    log_in(owner, staff.interviewer)
    review = owner.get(f"/review/invites/{world.own_invite.id}")
    assert review.status_code == 200
    assert raw in review.get_data(as_text=True)
    assert raw not in candidate.get_data(as_text=True)
