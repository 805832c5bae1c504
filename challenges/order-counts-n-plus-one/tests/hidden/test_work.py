"""Behaviour: the listing's own work grows in proportion to the tenant, not faster.

The brief: the time per request must no longer grow with the number of users in the way it did.
A listing that runs one statement but then counts in Python by scanning every order for every
user does work in proportion to users times orders, four times as much for twice the users.
The check lists a tenant of LARGE users once and tenants of an eighth of that size eight times,
in the same host, and compares the CPU seconds of the host's processes (the harness's figures):
linear work costs about the same for both (a ratio near 1, less where each call's own set-up
counts), work that grows with the square of the size costs up to eight times as much for the
large tenant. The database is the judge's, so its work is not in the figure.
"""

from __future__ import annotations

STATEMENT_LIMIT = 3  # test_queries.STATEMENT_LIMIT
LARGE = 10_000  # users: the brief's biggest tenant
PARTS = 8  # the small tenant is LARGE / PARTS users, listed PARTS times
# A listing that runs a statement per user (it fails statements-constant) costs about a
# millisecond a user here: it is measured on tenants a tenth of the size, to stay cheap.
PER_USER_LARGE = 1_000
PROBE_USERS = 30
RATIO_LIMIT = 2.5  # linear work: 0.7 to 1.6 here; users x orders work: 3.4 to 5.5
MIN_CPU_SECONDS = 0.05  # below this the harness's clock ticks (10 ms) decide the ratio


def _cpu(host) -> float:
    return host.memory()["cpu"]


def _work(make_db, host, variant) -> tuple[float, float, int]:
    """CPU seconds of the host for one large listing and for PARTS small ones, and the size."""
    probe = make_db(PROBE_USERS, first_id=variant.randrange(1, 1_000), seed=variant.getrandbits(32))
    _, statements = probe.call(host)
    large = PER_USER_LARGE if statements > STATEMENT_LIMIT else LARGE
    big = make_db(large, first_id=variant.randrange(1, 1_000), seed=variant.getrandbits(32))
    small = [
        make_db(large // PARTS, first_id=variant.randrange(1, 1_000), seed=variant.getrandbits(32))
        for _ in range(PARTS)
    ]
    before = _cpu(host)
    for db in small:
        db.call(host)
    between = _cpu(host)
    big.call(host)
    after = _cpu(host)
    return after - between, between - before, large


def test_listing_work_grows_in_proportion_to_the_tenant(make_db, evidence, candidate, variant):
    large_cpu, small_cpu, users = _work(make_db, candidate, variant)
    ratio = large_cpu / max(small_cpu, MIN_CPU_SECONDS)
    evidence.metric(
        "work_growth",
        ratio,
        unit="x",
        limit=RATIO_LIMIT,
        label=(
            f"CPU seconds to list {users:,} users once, over those to list {users // PARTS:,} "
            f"users {PARTS} times ({large_cpu:.2f} s / {small_cpu:.2f} s)"
        ),
    )
    assert ratio <= RATIO_LIMIT, (
        f"listing {users:,} users took {large_cpu:.2f} CPU seconds, {ratio:.1f}x the "
        f"{small_cpu:.2f} s of listing {users // PARTS:,} users {PARTS} times (limit "
        f"{RATIO_LIMIT:g}x): the listing's work grows faster than the number of users, e.g. "
        "by scanning every order for every user"
    )
