"""Sync the challenge folders into the database, keeping every version ever graded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.library import load_library
from app.models import ChallengeVersion, utcnow
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
            result.added.append(challenge.version_label)
        else:
            result.unchanged.append(challenge.version_label)
    db.session.commit()
    return result


def store_version(challenge: Challenge) -> bool:
    """Record ``challenge`` as the current version of its id; True if it is new."""
    existing = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.content_hash == challenge.content_hash)
    )
    for older in db.session.scalars(
        select(ChallengeVersion).where(
            ChallengeVersion.slug == challenge.id, ChallengeVersion.is_current.is_(True)
        )
    ):
        older.is_current = older is existing
    if existing is not None:
        existing.is_current = True
        return False
    spec = challenge.spec
    db.session.add(
        ChallengeVersion(
            slug=spec.id,
            version=spec.version,
            content_hash=challenge.content_hash,
            title=spec.title,
            summary=spec.summary,
            difficulty=spec.difficulty,
            time_limit_minutes=spec.time_limit_minutes,
            payload=challenge_to_payload(challenge),
            is_current=True,
            synced_at=utcnow(),
        )
    )
    db.session.flush()
    return True


def current_versions() -> list[ChallengeVersion]:
    return list(
        db.session.scalars(
            select(ChallengeVersion)
            .where(ChallengeVersion.is_current.is_(True))
            .order_by(ChallengeVersion.slug)
        )
    )
