"""Admin API: the users table on the back-office dashboard (``GET /admin/users``)."""

from __future__ import annotations

from typing import TypedDict

from models import Order, User
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload


class UserRow(TypedDict):
    id: int
    name: str
    order_count: int


def list_users_with_order_counts(session: Session) -> list[UserRow]:
    """List every user with their order count, eager-loading the orders."""
    # Wrong: the orders are eager-loaded, but the count is still one query per user.
    stmt = select(User).options(joinedload(User.orders)).order_by(User.id)
    users = session.scalars(stmt).unique().all()
    rows: list[UserRow] = []
    for user in users:
        count = session.scalar(select(func.count(Order.id)).where(Order.user_id == user.id))
        rows.append({"id": user.id, "name": user.name, "order_count": count or 0})
    return rows
