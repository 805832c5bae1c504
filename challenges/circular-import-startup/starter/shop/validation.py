"""Input validation shared by the user model and the services.

This module is a leaf: it imports nothing from the ``shop`` package.
"""

from __future__ import annotations

MAX_NAME_LENGTH = 100


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
