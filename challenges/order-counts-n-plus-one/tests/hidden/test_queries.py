"""Behaviour: the listing runs a bounded number of SQL statements, whatever the number of users."""

from __future__ import annotations

SMALL_USERS = 20
LARGE_USERS = 400
STATEMENT_LIMIT = 3


def _check_describes(db, rows, label: str) -> None:
    """The listing must describe the database it was given (not stale or cached data)."""
    assert isinstance(rows, list), f"{label}: expected a list, got {type(rows).__name__}"
    assert all(isinstance(row, dict) and "id" in row for row in rows), (
        f"{label}: expected rows as dicts with an id"
    )
    ids = {row["id"] for row in rows}
    stray = ids - db.ids
    assert not stray, f"{label}: listed {len(stray)} user ids that are not in this database"
    missing = db.ids_with_orders - ids
    assert not missing, f"{label}: {len(missing)} users who placed orders are missing"


def test_statement_count_is_constant(make_db, evidence, candidate, starter):
    small = make_db(SMALL_USERS, first_id=1000, seed=11)
    large = make_db(LARGE_USERS, first_id=5000, seed=12)

    _, starter_small = small.call(starter)
    _, starter_large = large.call(starter)
    rows_small, statements_small = small.call(candidate)
    rows_large, statements_large = large.call(candidate)

    evidence.metric(
        "statements_large",
        statements_large,
        unit="queries",
        limit=STATEMENT_LIMIT,
        starter=starter_large,
        label=f"SQL statements to list {LARGE_USERS} users",
    )
    evidence.metric(
        "statements_small",
        statements_small,
        unit="queries",
        starter=starter_small,
        label=f"SQL statements to list {SMALL_USERS} users",
    )

    if starter_large <= STATEMENT_LIMIT:
        evidence.suspect(
            f"statements-constant: the starter ran only {starter_large} statements for "
            f"{LARGE_USERS} users in this run; the count is not trusted"
        )
    _check_describes(small, rows_small, f"{SMALL_USERS} users")
    _check_describes(large, rows_large, f"{LARGE_USERS} users")
    assert statements_large <= STATEMENT_LIMIT, (
        f"listing {LARGE_USERS} users ran {statements_large} SQL statements "
        f"({statements_small} for {SMALL_USERS} users); limit {STATEMENT_LIMIT} whatever the "
        f"number of users (starter: {starter_large})"
    )
