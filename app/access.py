"""What a logged-in staff member may see: admins everything, interviewers their own
assessments and everything about them. Anything else is answered 404, so an interviewer
cannot even learn that another's assessment exists."""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select, select

from app.extensions import db
from app.models import Assessment, Invite, Submission, User


def visible_assessments(user: User) -> Select[tuple[Assessment]]:
    query = select(Assessment).order_by(Assessment.created_at.desc(), Assessment.id.desc())
    if not user.is_admin:
        query = query.where(Assessment.owner_id == user.id)
    return query


def can_see(user: User, assessment: Assessment) -> bool:
    return user.is_admin or (assessment.owner_id is not None and assessment.owner_id == user.id)


def assessment_or_404(user: User, assessment_id: int) -> Assessment:
    assessment = db.session.get(Assessment, assessment_id)
    if assessment is None or not can_see(user, assessment):
        abort(404)
    return assessment


def invite_or_404(user: User, invite_id: int) -> Invite:
    invite = db.session.get(Invite, invite_id)
    if invite is None or not can_see(user, invite.assessment):
        abort(404)
    return invite


def submission_or_404(user: User, submission_id: int) -> Submission:
    submission = db.session.get(Submission, submission_id)
    if submission is None or not can_see(user, submission.invite.assessment):
        abort(404)
    return submission
