"""The candidate's pages (HTML): invite landing, overview, challenge editor, report.

The pages are rendered from the same data the JSON API returns (its serialisers are reused, so
the pages can never show more than the API); state changes go through the API from the page
script (app/static/js/candidate.js) with the CSRF token from base.html.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for

from app.blueprints.api import challenge_json, invite_json, submission_json
from app.charts import evidence_chart
from app.models import Invite, InviteState
from app.services import candidates
from app.services.candidates import Refused
from grader.report import candidate_view

bp = Blueprint("candidate", __name__, url_prefix="/i")


REFUSAL_TITLES = {404: "Invite not found", 410: "This invite has expired"}


@bp.errorhandler(Refused)
def _refused(error: Refused):
    title = REFUSAL_TITLES.get(error.status, "This cannot be done")
    return render_template("error.html", title=title, message=error.message), error.status


@bp.get("/<token>")
def landing(token: str):
    invite = candidates.invite_by_token(token)
    return render_template("candidate/landing.html", invite=invite_json(invite), token=token)


@bp.get("/<token>/overview")
def overview(token: str):
    invite = candidates.invite_by_token(token)
    if invite.state == InviteState.PENDING:
        return redirect(url_for("candidate.landing", token=token))
    return render_template(
        "candidate/overview.html",
        invite=invite_json(invite),
        token=token,
        closed_message=_closed_message(invite),
    )


@bp.get("/<token>/c/<slug>")
def challenge(token: str, slug: str):
    invite = candidates.invite_by_token(token)
    if invite.state == InviteState.PENDING:
        return redirect(url_for("candidate.landing", token=token))
    version = candidates.challenge_of(invite, slug)
    data = challenge_json(invite, version)
    invite_data = invite_json(invite)
    page = {
        "token": token,
        "slug": slug,
        "seconds_left": invite_data["seconds_left"],
        "closed_message": _closed_message(invite),
        "urls": {
            "draft": url_for("api.save_draft", token=token, slug=slug),
            "events": url_for("api.record_events", token=token, slug=slug),
            "submissions": url_for("api.submit", token=token, slug=slug),
            "invite": url_for("api.invite", token=token),
            "report": url_for("candidate.report", token=token, submission_id=0)[:-1],
        },
        "files": data["files"],
        "draft_version": data["draft_version"],
        "submissions": data["submissions"],
    }
    return render_template(
        "candidate/challenge.html",
        challenge=data,
        invite=invite_data,
        token=token,
        page=page,
        brief_has_title=data["brief_html"].lstrip().startswith("<h1"),
    )


@bp.get("/<token>/s/<id:submission_id>")
def report(token: str, submission_id: int):
    invite = candidates.invite_by_token(token)
    submission = candidates.submission_of(invite, submission_id)
    view = candidate_view(submission.report) if submission.report else None
    charts: dict[tuple[int, int], dict[str, Any]] = {}
    if view is not None:
        for i, check in enumerate(view["checks"]):
            for j, metric in enumerate(check["metrics"]):
                charts[(i, j)] = evidence_chart(metric)
    summary = submission_json(submission)
    return render_template(
        "candidate/report.html",
        token=token,
        invite=invite_json(invite),
        submission=summary,
        challenge={"slug": submission.challenge.slug, "title": submission.challenge.title},
        report=view,
        charts=charts,
    )


def _closed_message(invite: Invite) -> str | None:
    """Why new work is not accepted (the server's own refusal), or None while it is open."""
    try:
        candidates.require_open(invite)
    except Refused as refused:
        return refused.message
    return None
