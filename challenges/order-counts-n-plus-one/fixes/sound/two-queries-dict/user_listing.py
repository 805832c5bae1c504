"""Admin API: the users table on the back-office dashboard (``GET /admin/users``)."""

from __future__ import annotations

from typing import TypedDict

from models import Order, User
from sqlalchemy import func, select
from sqlalchemy.orm import Session


class UserRow(TypedDict):
    id: int
    name: str
    order_count: int


def list_users_with_order_counts(session: Session) -> list[UserRow]:
    """List every user with their order count, ordered by user id (two statements)."""
    per_user = select(Order.user_id, func.count(Order.id)).group_by(Order.user_id)
    counts: dict[int, int] = {user_id: count for user_id, count in session.execute(per_user)}
    users = session.execute(select(User.id, User.name).order_by(User.id))
    return [
        {"id": user_id, "name": name, "order_count": counts.get(user_id, 0)}
        for user_id, name in users
    ]
