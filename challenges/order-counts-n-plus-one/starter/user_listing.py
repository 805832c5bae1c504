"""Admin API: the users table on the back-office dashboard (``GET /admin/users``).

The HTTP layer opens a ``Session`` per request, calls :func:`list_users_with_order_counts` and
serialises the returned list as JSON.
"""

from __future__ import annotations

import logging
from typing import TypedDict

from models import Order, User
from sqlalchemy import func, select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class UserRow(TypedDict):
    """One row of the dashboard's users table."""

    id: int
    name: str
    order_count: int


def count_orders(session: Session, user: User) -> int:
    """Return how many orders ``user`` has placed (0 when none)."""
    stmt = select(func.count()).select_from(Order).where(Order.user_id == user.id)
    return session.scalar(stmt) or 0


def to_row(user: User, order_count: int) -> UserRow:
    """Shape one user for the JSON response."""
    return {"id": user.id, "name": user.name, "order_count": order_count}


def list_users_with_order_counts(session: Session) -> list[UserRow]:
    """List every user with the number of orders they have placed.

    Every user appears exactly once, including users who have not ordered anything yet
    (``order_count == 0``). Rows are ordered by user id, ascending.
    """
    users = session.scalars(select(User).order_by(User.id)).all()
    rows = [to_row(user, count_orders(session, user)) for user in users]
    log.debug("listed %d users", len(rows))
    return rows
