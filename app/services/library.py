"""Sync the challenge folders into the database, keeping every version ever graded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import distinct, func, select

from app.challenge_folders import read_challenge_folders
from app.extensions import db
from app.models import (
    AssessmentItem,
    ChallengeVersion,
    Draft,
    RegradeBatch,
    Submission,
    User,
    VersionSource,
    VersionStatus,
    utcnow,
)
from app.services.verification import ACTIVE_STATES
from grader.spec import Challenge, challenge_to_payload

IN_USE = "it has submissions/assessments: retire it instead"


class LibraryRefused(ValueError):
    """A change to a challenge version that the library's rules do not allow; says why."""


@dataclass(frozen=True)
class Usage:
    assessments: int = 0
    submissions: int = 0
    other_references: int = 0  # editor drafts, regrade batches

    @property
    def in_use(self) -> bool:
        return bool(self.assessments or self.submissions or self.other_references)


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sync_library(root: Path) -> SyncResult:
    folders = read_challenge_folders(root)
    result = SyncResult(errors=[str(e) for e in folders.errors])
    for challenge in folders.challenges:
        if store_version(challenge):
            result.added.append(f"{challenge.id} {challenge.version_label}")
        else:
            result.unchanged.append(f"{challenge.id} {challenge.version_label}")
    db.session.commit()
    return result


def store_version(
    challenge: Challenge,
    *,
    source: VersionSource = VersionSource.FOLDER,
    created_by: User | None = None,
) -> bool:
    """Record ``challenge``; True if this exact content is new.

    A new version from a challenge folder is published at once (the repository's CI verifies
    every challenge there); an uploaded one starts as a draft that must pass verification here.
    A version already stored keeps whatever status an admin gave it.
    """
    existing = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.content_hash == challenge.content_hash)
    )
    if existing is not None:
        return False
    spec = challenge.spec
    version = ChallengeVersion(
        slug=spec.id,
        version=spec.version,
        content_hash=challenge.content_hash,
        title=spec.title,
        summary=spec.summary,
        difficulty=spec.difficulty,
        time_limit_minutes=spec.time_limit_minutes,
        payload=challenge_to_payload(challenge),
        status=VersionStatus.DRAFT,
        source=source,
        created_by_id=created_by.id if created_by else None,
        synced_at=utcnow(),
    )
    db.session.add(version)
    db.session.flush()
    if source == VersionSource.FOLDER:
        _make_current(version)  # the repository's own challenges: `make test` verifies them
    return True


def publish(version: ChallengeVersion) -> None:
    """Offer ``version`` for new assessments; the previously published version of the same
    challenge is retired (its assessments and submissions keep it). Only a version whose
    verification passed can be published (:class:`LibraryRefused` says why not)."""
    refusal = publish_refusal(version)
    if refusal:
        raise LibraryRefused(refusal)
    _make_current(version)


def _make_current(version: ChallengeVersion) -> None:
    for other in db.session.scalars(
        select(ChallengeVersion).where(
            ChallengeVersion.slug == version.slug,
            ChallengeVersion.status == VersionStatus.PUBLISHED,
            ChallengeVersion.id != version.id,
        )
    ):
        other.status = VersionStatus.RETIRED
    version.status = VersionStatus.PUBLISHED
    version.published_at = utcnow()
    db.session.flush()


def retire(version: ChallengeVersion) -> None:
    """Offer ``version`` for new assessments no more; what was made with it keeps it. This,
    not deleting, is how a version in use leaves the library."""
    if version.status == VersionStatus.RETIRED:
        raise LibraryRefused("it is already retired")
    version.status = VersionStatus.RETIRED
    db.session.flush()


def delete(version: ChallengeVersion) -> None:
    """Delete a version nothing refers to (:class:`LibraryRefused` says why not)."""
    refusal = delete_refusal(version, usage([version.id]).get(version.id, Usage()))
    if refusal:
        raise LibraryRefused(refusal)
    db.session.delete(version)
    db.session.flush()


def publish_refusal(version: ChallengeVersion) -> str | None:
    """Why ``version`` cannot be published now, or None."""
    if version.status == VersionStatus.PUBLISHED:
        return "it is already published"
    state = version.verification_state
    if state == "passed":
        return None
    if state is None:
        return "it has not been verified; run verification first"
    if state in ACTIVE_STATES:
        return f"its verification is still {state}; publish once it has passed"
    if state == "failed":
        return "its verification failed; fix the challenge and upload a new version"
    return "its verification could not run; re-run it"


def delete_refusal(version: ChallengeVersion, version_usage: Usage) -> str | None:
    """Why ``version`` cannot be deleted, or None."""
    if version.status == VersionStatus.PUBLISHED:
        return "it is published; retire it first"
    if version_usage.in_use:
        return IN_USE
    if version.verification_state in ACTIVE_STATES:
        return "its verification is queued or running; wait for it to finish"
    return None


def usage(version_ids: list[int] | None = None) -> dict[int, Usage]:
    """Version id -> what refers to it (every version, or only ``version_ids``)."""

    def counts(column, counted) -> dict[int, int]:
        query = select(column, counted).group_by(column)
        if version_ids is not None:
            query = query.where(column.in_(version_ids))
        return dict(db.session.execute(query).tuples().all())

    assessments = counts(
        AssessmentItem.challenge_version_id, func.count(distinct(AssessmentItem.assessment_id))
    )
    submissions = counts(Submission.challenge_version_id, func.count(Submission.id))
    others: dict[int, int] = {}
    for column, counted in (
        (Draft.challenge_version_id, func.count(Draft.id)),
        (RegradeBatch.from_version_id, func.count(RegradeBatch.id)),
        (RegradeBatch.to_version_id, func.count(RegradeBatch.id)),
    ):
        for version_id, count in counts(column, counted).items():
            others[version_id] = others.get(version_id, 0) + count
    ids = set(assessments) | set(submissions) | set(others)
    return {
        version_id: Usage(
            assessments.get(version_id, 0),
            submissions.get(version_id, 0),
            others.get(version_id, 0),
        )
        for version_id in ids
    }


def current_versions() -> list[ChallengeVersion]:
    """The published versions, one per challenge: what new assessments are made from."""
    return list(
        db.session.scalars(
            select(ChallengeVersion)
            .where(ChallengeVersion.status == VersionStatus.PUBLISHED)
            .order_by(ChallengeVersion.slug)
        )
    )
