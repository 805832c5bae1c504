"""Sync the challenge folders into the database, keeping every version ever graded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from app.challenge_folders import load_library
from app.extensions import db
from app.models import ChallengeVersion, User, VersionSource, VersionStatus, utcnow
from grader.spec import Challenge, challenge_to_payload


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sync_library(root: Path) -> SyncResult:
    library = load_library(root)
    result = SyncResult(errors=[str(e) for e in library.errors])
    for challenge in library.challenges:
        if store_version(challenge):
            result.added.append(f"{challenge.id} {challenge.version_label}")
        else:
            result.unchanged.append(f"{challenge.id} {challenge.version_label}")
    db.session.commit()
    return result


def store_version(
    challenge: Challenge,
    *,
    source: VersionSource = VersionSource.LIBRARY,
    created_by: User | None = None,
) -> bool:
    """Record ``challenge``; True if this exact content is new.

    A new version from the library folder is published at once (the repository's CI verifies
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
    if source == VersionSource.LIBRARY:
        publish(version)
    return True


def publish(version: ChallengeVersion) -> None:
    """Offer ``version`` for new assessments; the previously published version of the same
    challenge is retired (its assessments and submissions keep it)."""
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
    version.status = VersionStatus.RETIRED
    db.session.flush()


def current_versions() -> list[ChallengeVersion]:
    """The published versions, one per challenge: what new assessments are made from."""
    return list(
        db.session.scalars(
            select(ChallengeVersion)
            .where(ChallengeVersion.status == VersionStatus.PUBLISHED)
            .order_by(ChallengeVersion.slug)
        )
    )
