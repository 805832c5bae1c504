"""Admin: the grading queue's health, its failed jobs, and requeueing failed submissions.

rq-dashboard is not mounted (see docs/admins.md, "Queue health"): this page is its equivalent
for the one queue Faultline uses."""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user

from app.auth import polled
from app.blueprints.admin.blueprint import bp
from app.extensions import db
from app.models import Submission
from app.services.queue_health import RequeueRefused, queue_health, requeue

POLL_SECONDS = 5


@bp.app_template_filter("ops_time")
def ops_time(iso: str | None) -> str:
    """'2026-11-25T12:38:39Z' as '2026-11-25 12:38:39 UTC' (admin-ops.js formats alike)."""
    return iso.replace("T", " ").replace("Z", " UTC") if iso else ""


@bp.app_template_filter("ops_age")
def ops_age(seconds: int | None) -> str:
    """2 h 05 min, 3 min 07 s or 12 s; an em dash for nothing (admin-ops.js formats alike)."""
    if seconds is None:
        return "—"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@bp.get("/queue")
def queue():
    return render_template("admin/queue.html", health=queue_health(), poll_seconds=POLL_SECONDS)


@bp.get("/queue.json")
@polled
def queue_json():
    response = jsonify(queue_health().to_json())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/queue/submissions/<int:submission_id>/requeue")
def requeue_submission(submission_id: int):
    submission = db.get_or_404(Submission, submission_id)
    previous = submission.status
    try:
        enqueued = requeue(submission)
    except RequeueRefused as exc:
        flash(f"Not requeued: {exc}.", "error")
        return redirect(url_for("admin.queue"), 303)
    current_app.logger.info(
        "%s requeued submission %s (was %s)", current_user.email, submission.id, previous
    )
    if enqueued:
        flash(f"Submission {submission.id} ({previous}) is queued for grading again.", "info")
    else:
        flash(
            f"Submission {submission.id} is marked queued, but Redis does not answer: the "
            "reconciler will enqueue it when Redis is back.",
            "warning",
        )
    return redirect(url_for("admin.queue"), 303)
