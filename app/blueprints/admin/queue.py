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


@bp.get("/queue")
def queue():
    return render_template("admin/queue.html", health=queue_health(), poll_seconds=POLL_SECONDS)


@bp.get("/queue.json")
@polled
def queue_json():
    return jsonify(queue_health().to_json())


@bp.post("/queue/submissions/<id:submission_id>/requeue")
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
