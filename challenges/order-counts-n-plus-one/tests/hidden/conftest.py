"""Hidden-check fixtures: seeded databases the judge owns, and listings run against them.

The database lives in the judge; the candidate's SQLAlchemy session reaches it through a
forwarding connection, so every statement is executed, and counted, on the judge's side.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from faultline_harness.judge import HostClient
from faultline_harness.judge_db import JudgeDatabase

# The accounts schema as the platform team's migrations create it (models.py describes it).
SCHEMA = """
CREATE TABLE users (
    id INTEGER NOT NULL PRIMARY KEY,
    name VARCHAR(120) NOT NULL,
    email VARCHAR(254) NOT NULL UNIQUE,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL
);
CREATE TABLE orders (
    id INTEGER NOT NULL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    total_cents INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL
);
CREATE INDEX ix_orders_user_id ON orders (user_id);
"""

# A small pool so several users share a name (grouping by name instead of id merges them).
NAMES = [
    "Ana Souza",
    "Bram de Vries",
    "Chen Wei",
    "Dara Okafor",
    "Émile Laurent",
    "Farah Haddad",
    "Giulia Rossi",
    "Hiro Tanaka",
]


@dataclass
class SeededDb:
    """A seeded database and what the listing of it must return."""

    database: JudgeDatabase
    expected: list[dict[str, Any]]

    @property
    def ids(self) -> set[int]:
        return {row["id"] for row in self.expected}

    @property
    def ids_with_orders(self) -> set[int]:
        return {row["id"] for row in self.expected if row["order_count"] > 0}

    def call(self, host: HostClient) -> tuple[Any, int]:
        """Run the host's listing with a fresh session; its result and the statements it ran."""
        engine = self.database.engine_in(host)
        engine.connect().close()  # the dialect's first-connect set-up is not the listing's work
        Session = host.module("sqlalchemy.orm").Session.get()
        listing = host.module("user_listing")
        session = Session(engine)
        try:
            with self.database.counting() as statements:
                result = listing.list_users_with_order_counts(session)
        finally:
            session.close()
            engine.dispose()
        return result, len(statements)

    def add_orders(self, user_id: int, count: int) -> None:
        self.database.insert_many(
            "INSERT INTO orders (user_id, total_cents, status) VALUES (?, ?, 'placed')",
            [(user_id, 1000 + i) for i in range(count)],
        )
        for row in self.expected:
            if row["id"] == user_id:
                row["order_count"] += count

    def add_user(self, user_id: int, name: str) -> None:
        self.database.insert_many(
            "INSERT INTO users (id, name, email) VALUES (?, ?, ?)",
            [(user_id, name, f"user{user_id}@example.test")],
        )
        self.expected.append({"id": user_id, "name": name, "order_count": 0})
        self.expected.sort(key=lambda row: row["id"])


def _seed(database: JudgeDatabase, n_users: int, first_id: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    ids = [first_id + 3 * i for i in range(n_users)]  # gaps between ids
    counts: dict[int, int] = {}
    for position, user_id in enumerate(ids):
        if position % 4 == 1:
            counts[user_id] = 0  # a quarter of the users never ordered
        elif position == 2:
            counts[user_id] = 40  # one heavy buyer
        else:
            counts[user_id] = rng.randint(1, 6)
    users = [(user_id, rng.choice(NAMES), f"user{user_id}@example.test") for user_id in ids]
    orders = [
        (user_id, rng.randint(100, 50_000))
        for user_id, count in counts.items()
        for _ in range(count)
    ]
    rng.shuffle(users)  # insertion order differs from id order
    rng.shuffle(orders)
    database.insert_many("INSERT INTO users (id, name, email) VALUES (?, ?, ?)", users)
    database.insert_many(
        "INSERT INTO orders (user_id, total_cents, status) VALUES (?, ?, 'placed')", orders
    )
    names = {user_id: name for user_id, name, _ in users}
    return [{"id": i, "name": names[i], "order_count": counts[i]} for i in sorted(ids)]


@pytest.fixture
def make_db() -> Iterator[Callable[..., SeededDb]]:
    """Factory: ``make_db(n_users, first_id=..., seed=...)`` builds a fresh seeded database."""
    databases: list[JudgeDatabase] = []

    def factory(n_users: int, *, first_id: int = 1, seed: int = 0) -> SeededDb:
        database = JudgeDatabase()
        databases.append(database)
        database.run_script(SCHEMA)
        return SeededDb(database=database, expected=_seed(database, n_users, first_id, seed))

    yield factory
    for database in databases:
        database.close()


def describe_difference(actual: Any, expected: list[dict[str, Any]]) -> tuple[int, str]:
    """Count the rows that differ from ``expected`` and describe the first problem found."""
    if not isinstance(actual, list):
        return len(expected) or 1, f"expected a list of dicts, got {type(actual).__name__}"
    problems: list[str] = []
    bad_rows = 0
    for index, row in enumerate(actual):
        if not isinstance(row, dict):
            bad_rows += 1
            problems.append(f"row {index} is a {type(row).__name__}, not a dict")
            continue
        if set(row) != {"id", "name", "order_count"}:
            bad_rows += 1
            problems.append(f"row {index} has keys {sorted(row)}, expected id, name, order_count")
            continue
        for key, kind in (("id", int), ("name", str), ("order_count", int)):
            if type(row[key]) is not kind:
                bad_rows += 1
                problems.append(
                    f"row {index}: {key} is {type(row[key]).__name__} {row[key]!r}, "
                    f"expected {kind.__name__}"
                )
                break
    if problems:
        return bad_rows, problems[0]

    by_id = {row["id"]: row for row in expected}
    seen: dict[Any, dict[str, Any]] = {}
    for row in actual:
        if row["id"] in seen:
            bad_rows += 1
            problems.append(f"user {row['id']} is listed more than once")
        seen[row["id"]] = row
    for user_id, want in by_id.items():
        got = seen.get(user_id)
        if got is None:
            bad_rows += 1
            note = " (a user with no orders)" if want["order_count"] == 0 else ""
            problems.append(f"user {user_id}{note} is missing from the listing")
        elif got != want:
            bad_rows += 1
            problems.append(
                f"user {user_id}: got name={got['name']!r} order_count={got['order_count']!r}, "
                f"expected name={want['name']!r} order_count={want['order_count']!r}"
            )
    for user_id in seen.keys() - by_id.keys():
        bad_rows += 1
        problems.append(f"user {user_id} is not in the database")
    if not problems and actual != expected:
        return len(expected), "rows are not ordered by user id"
    return bad_rows, problems[0] if problems else ""


@pytest.fixture
def diff() -> Callable[[Any, list[dict[str, Any]]], tuple[int, str]]:
    """``diff(actual, expected)`` -> (number of wrong rows, first problem or "")."""
    return describe_difference
