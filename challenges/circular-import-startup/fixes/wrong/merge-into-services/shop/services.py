"""Users and the service that registers and looks them up.

``User`` moved here from ``shop.models`` (which re-exports it) to end the circular import.

The in-memory store stands in for the database repository, which is trimmed for the exercise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shop.validation import InvalidUserData, validate_name

_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


class EmailAlreadyRegistered(ValueError):
    """Another user already has this email address (compared after normalisation)."""


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


class UserService:
    """Creates, finds and deactivates user accounts."""

    def __init__(self) -> None:
        self._users: dict[int, User] = {}
        self._ids_by_email: dict[str, int] = {}
        self._next_id = 1

    def create(self, name: str, email: str) -> User:
        """Register a new, active user; ``EmailAlreadyRegistered`` if the address is taken."""
        address = normalize_email(email)
        if address in self._ids_by_email:
            raise EmailAlreadyRegistered(f"{address} is already registered")
        user = User(id=self._next_id, name=name, email=address)
        self._next_id += 1
        self._users[user.id] = user
        self._ids_by_email[user.email] = user.id
        return user

    def get(self, user_id: int) -> User:
        """The user with this id; ``KeyError`` if there is none."""
        return self._users[user_id]

    def find_by_email(self, email: str) -> User | None:
        """The user registered with this address (in any case, with any spaces), or ``None``."""
        try:
            address = normalize_email(email)
        except InvalidUserData:
            return None
        user_id = self._ids_by_email.get(address)
        return None if user_id is None else self._users[user_id]

    def deactivate(self, user_id: int) -> User:
        """Mark the user inactive (the account is kept) and return it."""
        user = self.get(user_id)
        user.active = False
        return user
