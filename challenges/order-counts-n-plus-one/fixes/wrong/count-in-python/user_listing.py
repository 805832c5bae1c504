"""Admin API: the users table on the back-office dashboard (``GET /admin/users``).

The HTTP layer opens a ``Session`` per request, calls :func:`list_users_with_order_counts` and
serialises the returned list as JSON.
"""

from __future__ import annotations

import logging
from typing import TypedDict

from models import Order, User
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class UserRow(TypedDict):
    """One row of the dashboard's users table."""

    id: int
    name: str
    order_count: int


def list_users_with_order_counts(session: Session) -> list[UserRow]:
    """List every user with the number of orders they have placed.

    Two statements, whatever the number of users: every user, and the user id of every order.
    The counting is done here, so the database only streams rows.
    """
    order_user_ids = session.scalars(select(Order.user_id)).all()
    users = session.execute(select(User.id, User.name).order_by(User.id)).all()
    rows: list[UserRow] = [
        {
            "id": user_id,
            "name": name,
            "order_count": sum(1 for owner in order_user_ids if owner == user_id),
        }
        for user_id, name in users
    ]
    log.debug("listed %d users", len(rows))
    return rows
