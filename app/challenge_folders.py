"""The challenge folders on disk: every folder under the challenges directory, read and
validated. (The *library* is what the database holds: app/services/library.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.spec import Challenge, ChallengeError, discover_challenges, load_challenge


@dataclass(frozen=True)
class ChallengeFolders:
    challenges: list[Challenge]
    errors: list[ChallengeError]

    def get(self, challenge_id: str) -> Challenge | None:
        return next((c for c in self.challenges if c.id == challenge_id), None)


def read_challenge_folders(root: Path) -> ChallengeFolders:
    challenges, errors = [], []
    for folder in discover_challenges(root):
        try:
            challenges.append(load_challenge(folder))
        except ChallengeError as exc:
            errors.append(exc)
    return ChallengeFolders(challenges=challenges, errors=errors)
