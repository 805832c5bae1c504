"""The database: the source of truth for challenges, assessments, invites and submissions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from grader.spec import Limits


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_token() -> str:
    return secrets.token_urlsafe(32)


class VersionStatus(StrEnum):
    """A version's life: a ``draft`` is only seen by admins; ``published`` is offered for new
    assessments (at most one per challenge id); ``retired`` is offered no more. Assessments and
    submissions keep the version they were made with, whatever its status becomes."""

    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class VersionSource(StrEnum):
    FOLDER = "folder"  # synced from a folder under challenges/, verified by the repository's CI
    UPLOAD = "upload"  # uploaded by an admin; must pass verification here before publishing


class ChallengeVersion(db.Model):
    """One exact version of a challenge (by content hash); old versions are kept for old
    submissions. ``payload`` holds every file, so grading never depends on the folder later.

    ``verification`` is the outcome of the last sandbox verification run (see
    app/services/verification.py), including the reference solution's median metric per check,
    which the interviewer's report shows beside the starter's and the candidate's."""

    __tablename__ = "challenge_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    difficulty: Mapped[str] = mapped_column(String(16))
    time_limit_minutes: Mapped[int]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.DRAFT, index=True)
    source: Mapped[str] = mapped_column(String(16), default=VersionSource.FOLDER)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED

    @property
    def verification_state(self) -> str | None:
        """``queued``, ``running``, ``passed``, ``failed`` or ``error``; None if never run."""
        return (self.verification or {}).get("state")

    @property
    def reference_metrics(self) -> dict[str, Any]:
        """Check id -> the reference solution's median measurement, from verification."""
        return (self.verification or {}).get("reference_metrics") or {}

    # The stored challenge.yaml, validated when the version was stored (grader/spec.py).

    @property
    def spec(self) -> dict[str, Any]:
        return self.payload["spec"]

    @property
    def checks(self) -> list[dict[str, Any]]:
        return self.spec["checks"]

    @property
    def max_score(self) -> int:
        return sum(int(check["weight"]) for check in self.checks)

    @property
    def editable_paths(self) -> list[str]:
        return [entry["path"] for entry in self.spec["files"] if entry.get("editable")]

    @property
    def limits(self) -> Limits:
        """The sandbox limits, with the grader's defaults for any the YAML left out. Not
        validated again: the spec was when the version was stored, and a field a later schema
        dropped is ignored rather than failing an old version."""
        stored = self.spec.get("limits") or {}
        known = {name: value for name, value in stored.items() if name in Limits.model_fields}
        return Limits.model_construct(**known)


class Assessment(db.Model):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    time_limit_minutes: Mapped[int]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner: Mapped[User | None] = relationship()
    items: Mapped[list[AssessmentItem]] = relationship(
        back_populates="assessment",
        order_by="AssessmentItem.position",
        cascade="all, delete-orphan",
    )
    invites: Mapped[list[Invite]] = relationship(
        back_populates="assessment", order_by="Invite.created_at"
    )


class AssessmentItem(db.Model):
    """A challenge of an assessment, pinned to the version current when it was added."""

    __tablename__ = "assessment_items"
    __table_args__ = (UniqueConstraint("assessment_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    challenge_version_id: Mapped[int] = mapped_column(ForeignKey("challenge_versions.id"))
    position: Mapped[int]
    assessment: Mapped[Assessment] = relationship(back_populates="items")
    challenge: Mapped[ChallengeVersion] = relationship()


class InviteState(StrEnum):
    PENDING = "pending"
    STARTED = "started"
    FINISHED = "finished"


class Invite(db.Model):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    candidate_name: Mapped[str] = mapped_column(String(200))
    candidate_email: Mapped[str | None] = mapped_column(String(320))
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    state: Mapped[str] = mapped_column(String(16), default=InviteState.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Finished by the clock, not by the candidate: the platform closed the attempt at its
    # deadline and submitted the work left unsubmitted (app/services/timeouts.py).
    timed_out: Mapped[bool] = mapped_column(default=False, server_default=false())
    assessment: Mapped[Assessment] = relationship(back_populates="invites")
    notes: Mapped[list[Note]] = relationship(
        back_populates="invite", order_by="Note.created_at", cascade="all, delete-orphan"
    )

    @property
    def deadline(self) -> datetime | None:
        if self.started_at is None:
            return None
        return self.started_at + timedelta(minutes=self.assessment.time_limit_minutes)

    def time_left(self, now: datetime | None = None) -> timedelta | None:
        deadline = self.deadline
        if deadline is None:
            return None
        return max(timedelta(0), deadline - (now or utcnow()))

    def is_expired(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        if self.expires_at is not None and self.state == InviteState.PENDING:
            return now >= self.expires_at
        return False

    def is_open(self, now: datetime | None = None) -> bool:
        """Work can still be saved and submitted."""
        now = now or utcnow()
        return (
            self.state == InviteState.STARTED and self.deadline is not None and now < self.deadline
        )


class SubmissionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    TIMEOUT = "timeout"
    OOM = "oom"
    ERROR = "error"
    REJECTED = "rejected"
    INFRA_ERROR = "infra_error"


UNFINISHED = (SubmissionStatus.QUEUED, SubmissionStatus.RUNNING)


class SubmissionMode(StrEnum):
    RUN = "run"  # the visible tests, scored nothing
    SUBMIT = "submit"  # the hidden checks: the score

    @property
    def tests(self) -> Literal["visible", "hidden"]:
        """The grader's name for the tests this mode runs."""
        return "visible" if self is SubmissionMode.RUN else "hidden"


class Submission(db.Model):
    """A candidate's run or submission, or an admin's regrade of one (``regrade_of_id`` set).
    Regrades are never shown to the candidate."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id"), index=True)
    challenge_version_id: Mapped[int] = mapped_column(ForeignKey("challenge_versions.id"))
    mode: Mapped[str] = mapped_column(String(8))  # a SubmissionMode
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.QUEUED, index=True)
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    score: Mapped[int | None]
    max_score: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    regrade_of_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    regrade_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("regrade_batches.id"), index=True
    )
    # Submitted by the platform when the attempt's time ran out: the last saved draft.
    at_timeout: Mapped[bool] = mapped_column(default=False, server_default=false())
    invite: Mapped[Invite] = relationship()
    challenge: Mapped[ChallengeVersion] = relationship()
    regrade_of: Mapped[Submission | None] = relationship(remote_side="Submission.id")

    @classmethod
    def of_candidate(
        cls, invite_id: int, version_id: int | None = None
    ) -> tuple[ColumnElement[bool], ...]:
        """Where-clauses for a candidate's own runs and submits (of one challenge version when
        ``version_id`` is given): an admin's regrade is not the candidate's work."""
        own = (cls.invite_id == invite_id, cls.regrade_of_id.is_(None))
        return own if version_id is None else (*own, cls.challenge_version_id == version_id)

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def tests(self) -> Literal["visible", "hidden"]:
        return SubmissionMode(self.mode).tests

    def finish(self, report: dict[str, Any]) -> None:
        """Store the final report: the one way a submission ends (graded, rejected, failed by
        the platform); the caller commits."""
        self.report = report
        self.status = report["status"]
        self.score = report["score"]
        self.max_score = report["max_score"]
        self.finished_at = utcnow()


class Draft(db.Model):
    """The editor's autosaved contents, per invite and challenge. ``version`` counts the saves:
    a save names the version it was based on, so a stale copy (an older tab) cannot silently
    overwrite a newer one."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("invite_id", "challenge_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id"))
    challenge_version_id: Mapped[int] = mapped_column(ForeignKey("challenge_versions.id"))
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Role(StrEnum):
    ADMIN = "admin"
    INTERVIEWER = "interviewer"


class User(UserMixin, db.Model):
    """An interviewer or admin. Candidates have no account: their invite token is their key."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated accounts cannot log in
        return self.active

    @property
    def session_key(self) -> str:
        """Changes with the password, so a new password ends every session of the old one."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:20]

    def get_id(self) -> str:  # Flask-Login: what the session remembers
        return f"{self.id}:{self.session_key}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class StaffSession(db.Model):
    """One staff login. The session cookie names it and logging out deletes it, so a copy of
    the cookie taken before the logout opens nothing afterwards."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(db.Model):
    """An interviewer's note on a candidate, optionally with a rating (1-5)."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    rating: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    invite: Mapped[Invite] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()


class RegradeBatch(db.Model):
    """An admin's regrade of a set of submissions against another version of their challenge;
    each regrade is a Submission pointing at its original, so results sit side by side."""

    __tablename__ = "regrade_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("challenge_versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("challenge_versions.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    from_version: Mapped[ChallengeVersion] = relationship(foreign_keys=[from_version_id])
    to_version: Mapped[ChallengeVersion] = relationship(foreign_keys=[to_version_id])
    created_by: Mapped[User | None] = relationship()
    regrades: Mapped[list[Submission]] = relationship(order_by="Submission.id")


class ReplayEvent(db.Model):
    """One event of a candidate's editor session (app/services/replay.py): an edit, a paste, a
    focus change, a run... Append-only: rows are only ever added, except a ``gap`` row (the
    events ``from_seq``-``to_seq`` of a session that were never received, ``seq`` NULL), which
    shrinks or goes when the missing events arrive after all. ``id`` is the storage order;
    ``t`` the browser's clock (epoch ms); ``size`` the bytes of the event as received."""

    __tablename__ = "replay_events"
    __table_args__ = (
        UniqueConstraint("invite_id", "challenge_version_id", "session", "seq"),
        Index("ix_replay_events_attempt", "invite_id", "challenge_version_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id"))
    challenge_version_id: Mapped[int] = mapped_column(ForeignKey("challenge_versions.id"))
    session: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int | None]
    t: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    file: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    size: Mapped[int]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
