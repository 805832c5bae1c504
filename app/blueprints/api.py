"""The candidate JSON API (/api/v1). The candidate pages use it; docs/api.md documents it.

An invite's unguessable token is the candidate's credential: every route is scoped to it, and
nothing here ever returns hidden test source, hidden output or the reference solution.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from app.extensions import db, limiter
from app.markdown import render_markdown
from app.models import ChallengeVersion, Invite, Submission, SubmissionStatus
from app.openapi import document
from app.queue import queue_position
from app.services import candidates, replay
from app.services.candidates import Refused
from app.services.numbering import challenge_numbers, submission_number
from grader.report import candidate_view

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.errorhandler(Refused)
def _refused(error: Refused) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": error.message}
    if isinstance(error, candidates.StaleDraft):
        body["current_version"] = error.current_version
        body["saved_at"] = _iso(error.saved_at)
    response = jsonify(body)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response, error.status


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    return jsonify({"error": error.description}), error.code or 500


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of this API."""
    return jsonify(document())


@bp.get("/invites/<token>")
def invite(token: str):
    return jsonify(invite_json(candidates.invite_by_token(token)))


@bp.post("/invites/<token>/start")
def start(token: str):
    return jsonify(invite_json(candidates.start(candidates.invite_by_token(token))))


@bp.post("/invites/<token>/finish")
def finish(token: str):
    invite = candidates.invite_by_token(token)
    candidates.finish(invite)
    return jsonify(invite_json(invite))


@bp.get("/invites/<token>/challenges/<slug>")
def challenge(token: str, slug: str):
    invite = candidates.invite_by_token(token)
    if invite.started_at is None:
        raise Refused(409, "Start the assessment first.")
    return jsonify(challenge_json(invite, candidates.challenge_of(invite, slug)))


@bp.put("/invites/<token>/challenges/<slug>/draft")
def save_draft(token: str, slug: str):
    invite = candidates.invite_by_token(token)
    version = candidates.challenge_of(invite, slug)
    body = _json_body()
    draft = candidates.save_draft(
        invite,
        version,
        body.get("files"),
        base_version=body.get("base_version"),
        overwrite=body.get("overwrite") is True,
    )
    return jsonify({"saved_at": _iso(draft.updated_at), "version": draft.version})


@bp.post("/invites/<token>/challenges/<slug>/submissions")
def submit(token: str, slug: str):
    invite = candidates.invite_by_token(token)
    version = candidates.challenge_of(invite, slug)
    body = _json_body()
    submission = candidates.create_submission(
        invite, version, body.get("files"), str(body.get("mode", "submit"))
    )
    return jsonify(submission_json(submission)), 202


@bp.get("/invites/<token>/submissions/<id:submission_id>")
def submission(token: str, submission_id: int):
    invite = candidates.invite_by_token(token)
    return jsonify(submission_json(candidates.submission_of(invite, submission_id)))


REPLAY_TOO_FAST = (
    "Too many batches of events for this attempt in the last minute; keep the events and send "
    "them again after Retry-After seconds."
)


def _replay_limit() -> str:
    return current_app.config.get("REPLAY_RATE_LIMIT", "120 per minute")


def _attempt_key() -> str:
    """Per attempt: the invite's token (whatever address the candidate is behind)."""
    return "replay-events:" + str((request.view_args or {}).get("token", ""))


@bp.post("/invites/<token>/challenges/<slug>/events")
@limiter.limit(_replay_limit, key_func=_attempt_key, error_message=REPLAY_TOO_FAST)
def record_events(token: str, slug: str):
    """A batch of the editor's session events (app/services/replay.py, docs/api.md)."""
    invite = candidates.invite_by_token(token)
    version = candidates.challenge_of(invite, slug)
    return jsonify(replay.store_batch(invite, version, request.get_data(cache=False)))


def _json_body() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the parser gives up on deep nesting before any limit of ours
        raise Refused(400, "the JSON is nested too deeply; send a flat object of files") from None
    if not isinstance(body, dict):
        raise Refused(400, 'send a JSON object, e.g. {"files": {"name.py": "..."}}')
    return body


def invite_json(invite: Invite) -> dict[str, Any]:
    left = invite.time_left()
    challenges = []
    for item in invite.assessment.items:
        version = item.challenge
        last = _last_submission(invite, version, "submit")
        challenges.append(
            {
                "slug": version.slug,
                "title": version.title,
                "summary": version.summary,
                "difficulty": version.difficulty,
                "last_submission": submission_summary(last) if last else None,
            }
        )
    return {
        "candidate": invite.candidate_name,
        "state": invite.state,
        "assessment": {
            "title": invite.assessment.title,
            "time_limit_minutes": invite.assessment.time_limit_minutes,
        },
        "started_at": _iso(invite.started_at),
        "deadline": _iso(invite.deadline),
        "seconds_left": int(left.total_seconds()) if left is not None else None,
        "open": invite.is_open(),
        "challenges": challenges,
    }


def challenge_json(invite: Invite, version: ChallengeVersion) -> dict[str, Any]:
    payload = version.payload
    spec = payload["spec"]
    files = candidates.draft_files(invite, version)
    starter = payload["starter"]
    numbers = challenge_numbers(invite.id, version.id)
    history = [submission_summary(s, numbers[s.id]) for s in _submissions(invite, version)]
    return {
        "slug": version.slug,
        "title": version.title,
        "difficulty": version.difficulty,
        "brief_html": render_markdown(payload["brief"]),
        "files": [
            {
                "path": entry["path"],
                "editable": entry["editable"],
                "open": entry["open"],
                "content": files[entry["path"]],
                "starter": starter[entry["path"]] if entry["editable"] else None,
            }
            for entry in spec["files"]
        ],
        "draft_version": candidates.draft_version(invite, version),
        "checks": [
            {"id": c["id"], "title": c["title"], "category": c["category"], "weight": c["weight"]}
            for c in spec["checks"]
        ],
        "submissions": history,
    }


def submission_summary(submission: Submission, number: int | None = None) -> dict[str, Any]:
    """``id`` names the submission in URLs; ``number`` is what pages show ("Submission #2"):
    its place among the candidate's submissions (or test runs) of this challenge, see
    app/services/numbering.py. Pass ``number`` when it is known, to spare a query."""
    return {
        "id": submission.id,
        "number": number if number is not None else submission_number(submission),
        "mode": submission.mode,
        "status": submission.status,
        "score": submission.score,
        "max_score": submission.max_score,
        "created_at": _iso(submission.created_at),
        "at_timeout": submission.at_timeout,
    }


def submission_json(submission: Submission) -> dict[str, Any]:
    data = submission_summary(submission)
    data["queue_position"] = (
        queue_position(submission) if submission.status == SubmissionStatus.QUEUED else None
    )
    data["finished_at"] = _iso(submission.finished_at)
    data["report"] = candidate_view(submission.report) if submission.report else None
    data["status_url"] = url_for(
        "api.submission", token=submission.invite.token, submission_id=submission.id
    )
    return data


def _submissions(invite: Invite, version: ChallengeVersion) -> list[Submission]:
    return list(
        db.session.scalars(
            select(Submission)
            .where(*Submission.of_candidate(invite.id, version.id))
            .order_by(Submission.id.desc())
            .limit(50)
        )
    )


def _last_submission(invite: Invite, version: ChallengeVersion, mode: str) -> Submission | None:
    return next((s for s in _submissions(invite, version) if s.mode == mode), None)


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if value is not None else None
