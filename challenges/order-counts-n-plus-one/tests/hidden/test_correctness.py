"""Behaviour the dashboard relies on: exact counts, every user, ordered by id, plain types."""

from __future__ import annotations

# Tenant sizes, drawn per run: the brief's biggest tenant has 10,000 users, every one listed.
USERS = (10_000, 12_000)
# A listing that runs a statement per user (it fails statements-constant) costs about a
# millisecond a user here: it is checked on a tenant of this size instead, to stay cheap.
PER_USER_USERS = (1_000, 2_000)
PROBE_USERS = 30  # a first listing that tells the two apart
STATEMENT_LIMIT = 3  # test_queries.STATEMENT_LIMIT


def test_counts_are_exact(make_db, diff, evidence, candidate, variant):
    probe = make_db(PROBE_USERS, first_id=variant.randrange(1, 1_000), seed=variant.getrandbits(32))
    _, probe_statements = probe.call(candidate)
    sizes = PER_USER_USERS if probe_statements > STATEMENT_LIMIT else USERS
    n_users = variant.randint(*sizes)
    db = make_db(n_users, first_id=variant.randrange(1, 1_000), seed=variant.getrandbits(32))
    rows, _ = db.call(candidate)

    bad_rows, problem = diff(rows, db.expected)
    evidence.metric(
        "wrong_rows",
        bad_rows,
        unit="rows",
        limit=0,
        label=f"rows differing from the expected listing of {len(db.expected):,} users",
    )
    listed = f"{len(rows):,} rows" if isinstance(rows, list) else "no list"
    assert bad_rows == 0 and not problem, (
        f"{bad_rows:,} of {len(db.expected):,} rows are wrong ({listed} returned for "
        f"{len(db.expected):,} users); first problem: {problem}"
    )


def test_empty_database_gives_empty_list(make_db, candidate):
    db = make_db(0)
    rows, _ = db.call(candidate)

    assert isinstance(rows, list), f"expected a list, got {type(rows).__name__}"
    assert rows == [], f"expected [] for a database without users, got {rows[:3]!r}"


def test_listing_follows_new_orders(make_db, evidence, candidate):
    """A later request sees orders and users added since an earlier one (no stale cache)."""
    db = make_db(12, first_id=700, seed=3)
    db.call(candidate)  # an earlier request

    idle_user = next(row["id"] for row in db.expected if row["order_count"] == 0)
    new_user = 10_000
    db.add_orders(idle_user, 3)
    db.add_user(new_user, "Zoe Newcomer")
    db.add_orders(new_user, 2)
    rows, _ = db.call(candidate)

    by_id = {row["id"]: row for row in rows}
    stale = []
    for user_id, want in ((idle_user, 3), (new_user, 2)):
        got = by_id.get(user_id, {}).get("order_count")
        if got != want:
            stale.append(f"user {user_id}: order_count {got!r}, expected {want}")
    evidence.metric(
        "stale_rows",
        len(stale),
        unit="rows",
        limit=0,
        label="users whose new orders the next request does not show",
    )
    assert not stale, "the next request does not show the new orders: " + "; ".join(stale)
