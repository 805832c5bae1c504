"""Domain models for user accounts."""

from __future__ import annotations

from dataclasses import dataclass

from shop.validation import validate_name


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
        # Email normalisation happens in UserService.create (SHOP-1482 reverted: it made
        # shop.models and shop.services import each other).

    @property
    def email_domain(self) -> str:
        """The part of the address after the ``@``, e.g. for per-domain rate limits."""
        return self.email.rpartition("@")[2]
