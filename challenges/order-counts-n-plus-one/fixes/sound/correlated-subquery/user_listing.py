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
    """List every user with their order count, ordered by user id (one statement)."""
    order_count = (
        select(func.count(Order.id))
        .where(Order.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
        .label("order_count")
    )
    stmt = select(User.id, User.name, order_count).order_by(User.id)
    return [
        {"id": user_id, "name": name, "order_count": count}
        for user_id, name, count in session.execute(stmt)
    ]
