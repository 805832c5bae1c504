"""The interviewers' pages: assessments, invites, review, compare, export.

Every object is fetched through app/access.py, so an interviewer only ever reaches their own
assessments (anything else is a 404) and an admin reaches all of them.
"""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.access import assessment_or_404, invite_or_404, visible_assessments
from app.auth import polled, staff_required
from app.charts import evidence_chart
from app.extensions import db
from app.markdown import render_markdown
from app.models import Assessment, ChallengeVersion, Invite, Submission
from app.services import replay, review
from app.services.candidates import draft_files
from app.services.invitations import InvitationNotSent, send_invitation
from app.services.library import current_versions
from app.services.numbering import describe
from app.services.similarity import flags_for_invite

bp = Blueprint("review", __name__, url_prefix="/review")

MAX_ROW_ID = 2**31 - 1  # ids are 32-bit integers: a larger one names no row (PostgreSQL refuses it)


@bp.context_processor
def _review_names() -> dict[str, Any]:
    return {"CandidateStatus": review.CandidateStatus}


# ---- forms ------------------------------------------------------------------------------------


class AssessmentForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    time_limit_minutes = IntegerField(
        "Time limit (minutes)",
        validators=[Optional(), NumberRange(min=1, max=review.MAX_TIME_LIMIT_MINUTES)],
    )
    challenges = SelectMultipleField(
        "Challenges",
        coerce=int,
        validators=[DataRequired(message="Choose at least one challenge.")],
    )
    # The order the challenges were ticked in (version ids, comma-separated; kept by staff.js).
    order = HiddenField()


class InviteForm(FlaskForm):
    candidate_name = StringField("Candidate name", validators=[DataRequired(), Length(max=200)])
    candidate_email = EmailField(
        "Email (optional)",
        validators=[
            Optional(),
            Length(max=320),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Not an email address."),
        ],
    )


def _rating(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Note",
        validators=[DataRequired(message="Write a note."), Length(max=review.NOTE_MAX_CHARS)],
    )
    rating = SelectField(
        "Rating",
        coerce=_rating,
        choices=[
            SelectChoice("", "no rating"),
            *(SelectChoice(str(n), f"{n} / 5") for n in range(1, 6)),
        ],
        validate_choice=True,
    )


# ---- assessments ------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def dashboard():
    assessments = list(db.session.scalars(visible_assessments(current_user)))
    return render_template("review/dashboard.html", rows=review.dashboard_rows(assessments))


@bp.get("/status.json")
@polled
@staff_required
def dashboard_status():
    """The dashboard's counts, polled by staff.js so the page stays live."""
    assessments = list(db.session.scalars(visible_assessments(current_user)))
    return jsonify(
        {
            "assessments": {
                str(row.assessment.id): {
                    "invites": row.invites,
                    **{status.css: row.counts[status] for status in review.CandidateStatus},
                }
                for row in review.dashboard_rows(assessments)
            }
        }
    )


@bp.route("/assessments/new", methods=["GET", "POST"])
@staff_required
def new_assessment():
    versions = current_versions()
    form = AssessmentForm()
    form.challenges.choices = [SelectChoice(str(v.id), v.title) for v in versions]
    if form.validate_on_submit():
        chosen = _in_chosen_order(form, versions)
        minutes = form.time_limit_minutes.data or sum(v.time_limit_minutes for v in chosen)
        if minutes > review.MAX_TIME_LIMIT_MINUTES:
            form.time_limit_minutes.errors = [
                f"The chosen challenges add up to {minutes} minutes; enter a limit of at most "
                f"{review.MAX_TIME_LIMIT_MINUTES}."
            ]
        else:
            assessment = review.create_assessment(
                form.title.data.strip(), minutes, chosen, current_user
            )
            flash(f"Assessment “{assessment.title}” created. Invite candidates below.", "info")
            return redirect(url_for("review.assessment", assessment_id=assessment.id))
    status = 400 if request.method == "POST" else 200
    return render_template("review/new_assessment.html", form=form, versions=versions), status


def _in_chosen_order(
    form: AssessmentForm, versions: list[ChallengeVersion]
) -> list[ChallengeVersion]:
    """The ticked versions in the order they were ticked (form order where unknown)."""
    by_id = {version.id: version for version in versions}
    ticked = list(dict.fromkeys(form.challenges.data))
    clicked = [int(part) for part in (form.order.data or "").split(",") if part.strip().isdigit()]
    ordered = [vid for vid in dict.fromkeys(clicked) if vid in ticked]
    ordered += [vid for vid in ticked if vid not in ordered]
    return [by_id[vid] for vid in ordered]


@bp.get("/assessments/<id:assessment_id>")
@staff_required
def assessment(assessment_id: int):
    return _assessment_page(assessment_or_404(current_user, assessment_id), InviteForm())


def _assessment_page(assessment: Assessment, invite_form: InviteForm, status: int = 200):
    summaries = review.summaries_of(list(assessment.invites))
    new_invite = request.args.get("invite", type=int)
    links = {
        s.invite.id: url_for("candidate.landing", token=s.invite.token, _external=True)
        for s in summaries
    }
    html = render_template(
        "review/assessment.html",
        assessment=assessment,
        summaries=summaries,
        links=links,
        new_invite=next((s.invite for s in summaries if s.invite.id == new_invite), None),
        invite_form=invite_form,
        sender_configured=bool(current_app.config.get("INVITE_SENDER")),
        max_scores={item.challenge.id: item.challenge.max_score for item in assessment.items},
    )
    return html, status


@bp.get("/assessments/<id:assessment_id>/status.json")
@polled
@staff_required
def assessment_status(assessment_id: int):
    assessment = assessment_or_404(current_user, assessment_id)
    summaries = review.summaries_of(list(assessment.invites))
    return jsonify({"invites": {str(s.invite.id): review.status_json(s) for s in summaries}})


@bp.post("/assessments/<id:assessment_id>/invites")
@staff_required
def invite_candidate(assessment_id: int):
    assessment = assessment_or_404(current_user, assessment_id)
    form = InviteForm()
    if not form.validate_on_submit():
        return _assessment_page(assessment, form, 400)
    invite = review.create_invite(
        assessment, form.candidate_name.data.strip(), (form.candidate_email.data or "").strip()
    )
    url = url_for("candidate.landing", token=invite.token, _external=True)
    try:
        sent = send_invitation(invite, url)
    except InvitationNotSent as problem:
        flash(
            f"The invite for {invite.candidate_name} is created, but sending it failed "
            f"({problem}). Copy the link and send it yourself.",
            "warning",
        )
    else:
        if sent:
            flash(f"Invitation sent to {invite.candidate_email}.", "info")
        else:
            flash(
                f"Invite for {invite.candidate_name} created: copy the link and send it yourself.",
                "info",
            )
    return redirect(
        url_for("review.assessment", assessment_id=assessment.id, invite=invite.id)
        + f"#invite-{invite.id}"
    )


@bp.post("/invites/<id:invite_id>/revoke")
@staff_required
def revoke_invite(invite_id: int):
    invite = invite_or_404(current_user, invite_id)
    try:
        review.revoke_invite(invite)
    except review.InviteNotRevocable as refused:
        flash(str(refused), "error")
    else:
        flash(f"The link for {invite.candidate_name} is revoked: it no longer opens.", "info")
    return redirect(url_for("review.assessment", assessment_id=invite.assessment_id))


# ---- one candidate ----------------------------------------------------------------------------


@bp.get("/invites/<id:invite_id>")
@staff_required
def candidate(invite_id: int):
    return _candidate_page(invite_or_404(current_user, invite_id), NoteForm())


@bp.post("/invites/<id:invite_id>/notes")
@staff_required
def add_note(invite_id: int):
    invite = invite_or_404(current_user, invite_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _candidate_page(invite, form, 400)
    review.add_note(invite, current_user, form.body.data.strip(), form.rating.data)
    flash("Note saved.", "info")
    return redirect(url_for("review.candidate", invite_id=invite.id) + "#notes")


def _candidate_page(invite: Invite, note_form: NoteForm, status: int = 200):
    selected = _selected_submission(invite)
    summary = review.summaries_of([invite])[0]
    sections = [_challenge_section(invite, result, selected) for result in summary.results]
    html = render_template(
        "review/candidate.html",
        invite=invite,
        summary=summary,
        sections=sections,
        note_form=note_form,
        rating=review.current_rating(invite),
        flags=flags_for_invite(invite, current_user),
    )
    return html, status


def _selected_submission(invite: Invite) -> Submission | None:
    """The submission named by ?submission=<id>. Any value that is not the id of a submission
    of this invite (not a whole number, unknown, someone else's) is a 404."""
    raw = request.args.get("submission")
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", raw) or int(raw) > MAX_ROW_ID:
        abort(404, description="No such submission.")
    submission = db.session.get(Submission, int(raw))
    if submission is None or submission.invite_id != invite.id:
        abort(404, description="No such submission.")
    return submission


def _challenge_section(
    invite: Invite, result: review.ChallengeResult, selected: Submission | None
) -> dict[str, Any]:
    version = result.version
    original = selected.regrade_of if selected is not None and selected.regrade_of else selected
    if original is not None and original.challenge_version_id == version.id:
        shown, why = selected, "selected"
    elif result.best is not None:
        shown, why = result.best, "best submission"
    elif result.last is not None:
        shown, why = result.last, "last submission"
    elif result.runs:
        shown, why = result.runs[-1], "latest test run"
    else:
        shown, why = None, None
    report = review.interviewer_report(shown) if shown is not None else None
    # "submission #2", "regrade of test run #1 against v3": the numbers the candidate saw
    shown_label = (
        describe(shown, result.numbers[shown.regrade_of_id or shown.id]) if shown else None
    )
    measured = bool((shown.challenge if shown else version).reference_metrics)
    charts = {}
    for i, check in enumerate((report or {}).get("checks", [])):
        for j, metric in enumerate(check.get("metrics", [])):
            charts[(i, j)] = evidence_chart(
                metric, subject="candidate", with_reference=True, reference_measured=measured
            )
    # Nothing run or submitted yet: the autosaved draft, or the starter before any is saved.
    files = shown.files if shown is not None else draft_files(invite, version)
    return {
        "result": result,
        "shown": shown,
        "shown_label": shown_label,
        # never touched: nothing run, submitted or even saved as a draft; shown as one line
        "touched": shown is not None or review.has_draft(invite, version),
        "why": why,
        "report": report,
        "charts": charts,
        "reference_measured": measured,
        "diffs": review.file_diffs(version, files),
        "timeline": review.timeline(result.submissions),
        "interviewer_notes": render_markdown(version.payload.get("interviewer_notes", "")),
    }


@bp.get("/invites/<id:invite_id>/challenges/<slug>/replay.json")
@staff_required
def replay_json(invite_id: int, slug: str):
    """The session replay of one candidate's challenge: events in replay order, the
    submissions, the integrity check and the signals (docs/api.md, "Staff: replay JSON")."""
    invite = invite_or_404(current_user, invite_id)
    version = next(
        (item.challenge for item in invite.assessment.items if item.challenge.slug == slug), None
    )
    if version is None:
        abort(404, description="This assessment has no such challenge.")
    return jsonify(replay.replay_json(invite, version))


# ---- comparing and exporting ------------------------------------------------------------------


@bp.get("/assessments/<id:assessment_id>/challenges/<slug>")
@staff_required
def compare(assessment_id: int, slug: str):
    assessment = assessment_or_404(current_user, assessment_id)
    version = next(
        (item.challenge for item in assessment.items if item.challenge.slug == slug), None
    )
    if version is None:
        abort(404)
    rows = [
        {"summary": summary, "result": result, "metrics": review.key_metrics(version, result.best)}
        for summary in review.summaries_of(list(assessment.invites))
        if (result := summary.result_for(version.id)) is not None
    ]
    return render_template(
        "review/compare.html",
        assessment=assessment,
        version=version,
        checks=version.checks,
        rows=rows,
    )


@bp.get("/assessments/<id:assessment_id>/export.csv")
@staff_required
def export_csv(assessment_id: int):
    assessment = assessment_or_404(current_user, assessment_id)
    return Response(
        review.export_csv(assessment),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": review.content_disposition(assessment, "csv")},
    )


@bp.get("/assessments/<id:assessment_id>/export.json")
@staff_required
def export_json(assessment_id: int):
    assessment = assessment_or_404(current_user, assessment_id)
    body = {
        "assessment": {
            "id": assessment.id,
            "title": assessment.title,
            "time_limit_minutes": assessment.time_limit_minutes,
            "challenges": [
                {"slug": item.challenge.slug, "version": item.challenge.version}
                for item in assessment.items
            ],
        },
        "rows": review.export_rows(assessment),
    }
    response = jsonify(body)
    response.headers["Content-Disposition"] = review.content_disposition(assessment, "json")
    return response
