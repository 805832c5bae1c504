"""Registering and looking up users.

The in-memory store stands in for the database repository, which is trimmed for the exercise.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shop.validation import InvalidUserData

if TYPE_CHECKING:
    from shop.models import User

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


class UserService:
    """Creates, finds and deactivates user accounts."""

    def __init__(self) -> None:
        self._users: dict[int, User] = {}
        self._ids_by_email: dict[str, int] = {}
        self._next_id = 1

    def create(self, name: str, email: str) -> User:
        """Register a new, active user; ``EmailAlreadyRegistered`` if the address is taken."""
        from shop.models import User  # deferred: shop.models imports this module

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
