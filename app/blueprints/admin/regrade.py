"""Admin: regrade a set of submissions against another version of their challenge."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice

from app.auth import polled
from app.blueprints.admin.blueprint import bp
from app.extensions import db
from app.models import ChallengeVersion
from app.services.regrade import (
    SCOPE_LATEST,
    SCOPES,
    RegradeRefused,
    batch_or_none,
    batches,
    create_batch,
    finished_submit_counts,
    summarise,
)

POLL_SECONDS = 4


class NewBatchForm(FlaskForm):
    challenge = SelectField("Challenge")
    source = SelectField("Regrade the submissions of", coerce=int)
    target = SelectField("against", coerce=int)
    scope = RadioField(
        "Which submissions",
        choices=[SelectChoice(value, label) for value, label in SCOPES.items()],
        default=SCOPE_LATEST,
    )


@bp.get("/regrades")
def regrades():
    return render_template("admin/regrades.html", summaries=batches())


@bp.route("/regrades/new", methods=["GET", "POST"])
def regrade_new():
    versions = list(
        db.session.scalars(
            select(ChallengeVersion).order_by(
                ChallengeVersion.slug, ChallengeVersion.version, ChallengeVersion.id
            )
        )
    )
    form = NewBatchForm()
    _fill_choices(form, versions)
    if not form.is_submitted() and versions:
        _preselect(form, versions)
    if form.validate_on_submit():
        by_id = {version.id: version for version in versions}
        source, target = by_id[form.source.data], by_id[form.target.data]
        try:
            if source.slug != form.challenge.data:
                raise RegradeRefused(f"this version belongs to {source.slug}", "source")
            created = create_batch(source, target, form.scope.data, current_user)
        except RegradeRefused as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            _announce(created)
            return redirect(url_for("admin.regrade_batch", batch_id=created.batch.id), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/regrade_new.html", form=form, versions=versions), status


def _fill_choices(form: NewBatchForm, versions: list[ChallengeVersion]) -> None:
    """Versions grouped by challenge (optgroups); each option says how many finished
    candidate submits it has, so the admin sees what a batch would cover."""
    counts = finished_submit_counts()
    options = []
    for version in versions:
        submits = counts.get(version.id, 0)
        label = (
            f"v{version.version} · {version.status} · {version.content_hash[:8]} · "
            f"{submits} submit{'s' if submits != 1 else ''}"
        )
        options.append(SelectChoice(version.id, label, optgroup=version.slug))
    form.challenge.choices = [
        SelectChoice(slug) for slug in dict.fromkeys(v.slug for v in versions)
    ]
    form.source.choices = options
    form.target.choices = options


def _preselect(form: NewBatchForm, versions: list[ChallengeVersion]) -> None:
    """The first challenge: its published version against its newest stored one."""
    slug = versions[0].slug
    mine = [version for version in versions if version.slug == slug]
    published = [version for version in mine if version.is_published]
    form.challenge.data = slug
    form.source.data = (published or mine)[0].id
    form.target.data = max(mine, key=lambda version: version.id).id


def _announce(created) -> None:
    message = f"Regrade batch {created.batch.id}: {created.queued} regrade(s) queued"
    if created.skipped:
        message += f", {created.skipped} skipped (see below)"
    flash(message + ".", "info")
    if created.redis_down:
        flash(
            "Redis does not answer: the regrades wait in the database as queued and the "
            "reconciler enqueues them when Redis is back.",
            "warning",
        )


@bp.get("/regrades/<id:batch_id>")
def regrade_batch(batch_id: int):
    batch = batch_or_none(batch_id) or abort(404)
    return render_template(
        "admin/regrade_batch.html",
        summary=summarise(batch),
        poll_seconds=POLL_SECONDS,
    )


@bp.get("/regrades/<id:batch_id>.json")
@polled
def regrade_batch_json(batch_id: int):
    batch = batch_or_none(batch_id) or abort(404)
    return jsonify(summarise(batch, with_checks=False).to_json())
