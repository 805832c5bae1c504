"""Registering and looking up users.

The in-memory store stands in for the database repository, which is trimmed for the exercise.
"""

from __future__ import annotations

from shop import validation
from shop.models import User

# normalize_email moved to the leaf module shop.validation, which shop.models imports as well.
__all__ = ["EmailAlreadyRegistered", "UserService"]


class EmailAlreadyRegistered(ValueError):
    """Another user already has this email address (compared after normalisation)."""


class UserService:
    """Creates, finds and deactivates user accounts."""

    def __init__(self) -> None:
        self._users: dict[int, User] = {}
        self._ids_by_email: dict[str, int] = {}
        self._next_id = 1

    def create(self, name: str, email: str) -> User:
        """Register a new, active user; ``EmailAlreadyRegistered`` if the address is taken."""
        address = validation.normalize_email(email)
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
            address = validation.normalize_email(email)
        except validation.InvalidUserData:
            return None
        user_id = self._ids_by_email.get(address)
        return None if user_id is None else self._users[user_id]

    def deactivate(self, user_id: int) -> User:
        """Mark the user inactive (the account is kept) and return it."""
        user = self.get(user_id)
        user.active = False
        return user
