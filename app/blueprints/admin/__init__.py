"""The admins' pages: the challenge library, users, the grading queue, regrades."""

from __future__ import annotations

from app.blueprints.admin import library, people, queue, regrade  # noqa: F401  (their routes)
from app.blueprints.admin.blueprint import bp

__all__ = ["bp"]
