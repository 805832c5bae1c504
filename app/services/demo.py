"""Demo data for a first start: an admin and an interviewer, one assessment with the library,
one candidate invite."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Assessment, AssessmentItem, Invite, User, utcnow
from app.services.library import current_versions
from app.services.users import create_user

DEMO_TITLE = "Demo: Python production debugging"


DEMO_ACCOUNTS = (
    ("admin@example.com", "Demo Admin", "admin"),
    ("interviewer@example.com", "Demo Interviewer", "interviewer"),
)


def ensure_demo_accounts() -> list[tuple[str, str, str]]:
    """Create the demo admin and interviewer once, with random passwords; returns
    (email, role, password) for the accounts created now (none on later starts)."""
    created = []
    for email, name, role in DEMO_ACCOUNTS:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            password = secrets.token_urlsafe(12)
            create_user(email, name, role, password)
            created.append((email, role, password))
    return created


def ensure_demo() -> Invite | None:
    """Create the demo assessment and invite once; returns the demo invite (None if no
    challenges are synced)."""
    assessment = db.session.scalar(select(Assessment).where(Assessment.title == DEMO_TITLE))
    if assessment is None:
        versions = current_versions()
        if not versions:
            return None
        owner = db.session.scalar(select(User).where(User.email == DEMO_ACCOUNTS[1][0]))
        assessment = Assessment(
            title=DEMO_TITLE,
            time_limit_minutes=sum(v.time_limit_minutes for v in versions),
            owner=owner,
        )
        for position, version in enumerate(versions):
            assessment.items.append(AssessmentItem(challenge=version, position=position))
        db.session.add(assessment)
        db.session.flush()
    invite = db.session.scalar(select(Invite).where(Invite.assessment_id == assessment.id))
    if invite is None:
        days = current_app.config["INVITE_VALID_DAYS"]
        invite = Invite(
            assessment=assessment,
            candidate_name="Demo Candidate",
            candidate_email="candidate@example.com",
            expires_at=utcnow() + timedelta(days=days),
        )
        db.session.add(invite)
    db.session.commit()
    return invite
