"""Input validation shared by the user model and the services.

This module is a leaf: it imports nothing from the ``shop`` package, so both ``shop.models`` and
``shop.services`` can import from it at the top without creating an import cycle.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 100

_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


class InvalidUserData(ValueError):
    """A field of a user failed validation; the message says which one and why."""


def validate_name(raw: str) -> str:
    """Return the display name without surrounding whitespace; reject empty or long names."""
    name = raw.strip()
    if not name:
        raise InvalidUserData("name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidUserData(f"name is longer than {MAX_NAME_LENGTH} characters")
    return name


def normalize_email(raw: str) -> str:
    """The canonical form of an email address: trimmed and lower-cased.

    Lookups and the uniqueness check compare canonical forms, so ``" Ana@Example.com"`` and
    ``"ana@example.com"`` are the same account. Raises ``InvalidUserData`` if malformed.
    """
    email = raw.strip().lower()
    if not _EMAIL_PATTERN.fullmatch(email):
        raise InvalidUserData(f"{raw!r} is not a valid email address")
    return email
