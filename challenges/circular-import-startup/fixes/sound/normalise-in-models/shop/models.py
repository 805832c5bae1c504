"""Domain models for user accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shop.validation import InvalidUserData, validate_name

_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


def normalize_email(raw: str) -> str:
    """The canonical form of an email address: trimmed and lower-cased.

    Lookups and the uniqueness check compare canonical forms, so ``" Ana@Example.com"`` and
    ``"ana@example.com"`` are the same account. Raises ``InvalidUserData`` if malformed.
    """
    email = raw.strip().lower()
    if not _EMAIL_PATTERN.fullmatch(email):
        raise InvalidUserData(f"{raw!r} is not a valid email address")
    return email


@dataclass
class User:
    """A registered user account.

    Every ``User`` holds a trimmed display name and a normalised email address, however it was
    built: by ``UserService.create``, from a database row, or by the nightly CSV import.
    """

    id: int
    name: str
    email: str
    active: bool = True

    def __post_init__(self) -> None:
        self.name = validate_name(self.name)
        # The CSV import and the admin tools build User objects directly, without going through
        # UserService.create, so normalise the address here as well (SHOP-1482).
        self.email = normalize_email(self.email)

    @property
    def email_domain(self) -> str:
        """The part of the address after the ``@``, e.g. for per-domain rate limits."""
        return self.email.rpartition("@")[2]
