"""The challenge library on disk: every folder under the challenges directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.spec import Challenge, ChallengeError, discover_challenges, load_challenge


@dataclass(frozen=True)
class Library:
    challenges: list[Challenge]
    errors: list[ChallengeError]

    def get(self, challenge_id: str) -> Challenge | None:
        return next((c for c in self.challenges if c.id == challenge_id), None)


def load_library(root: Path) -> Library:
    challenges, errors = [], []
    for folder in discover_challenges(root):
        try:
            challenges.append(load_challenge(folder))
        except ChallengeError as exc:
            errors.append(exc)
    return Library(challenges=challenges, errors=errors)
