"""Quick checks you can run from the editor. The graded suite is larger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from models import Base, Order, User
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool
from user_listing import list_users_with_order_counts


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def add_users(engine: Engine, orders_per_user: list[int], first_id: int = 1) -> None:
    """Add one user per entry of ``orders_per_user``, with that many orders each."""
    with Session(engine) as session:
        for index, n_orders in enumerate(orders_per_user, start=first_id):
            user = User(id=index, name=f"User {index}", email=f"user{index}@example.test")
            user.orders = [Order(total_cents=100 * (k + 1)) for k in range(n_orders)]
            session.add(user)
        session.commit()


def count_statements(engine: Engine) -> int:
    """Run the listing once and return how many SQL statements it sent to the database."""
    statements: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        with Session(engine) as session:
            list_users_with_order_counts(session)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return len(statements)


def test_lists_every_user_with_their_order_count(engine: Engine) -> None:
    add_users(engine, [2, 0, 5])

    with Session(engine) as session:
        rows = list_users_with_order_counts(session)

    assert rows == [
        {"id": 1, "name": "User 1", "order_count": 2},
        {"id": 2, "name": "User 2", "order_count": 0},
        {"id": 3, "name": "User 3", "order_count": 5},
    ]


def test_empty_database_gives_empty_list(engine: Engine) -> None:
    with Session(engine) as session:
        assert list_users_with_order_counts(session) == []


def test_statement_count_does_not_grow_with_users(engine: Engine) -> None:
    add_users(engine, [1, 0, 3, 2, 1])
    few = count_statements(engine)

    add_users(engine, [0, 1, 2] * 15, first_id=6)  # 45 more users
    many = count_statements(engine)

    assert many == few, f"{few} SQL statements for 5 users, but {many} for 50 users"
