"""The cache's rules, one call at a time: reuse within the TTL, refetch after, invalidate."""

from __future__ import annotations

import pytest
from faultline_harness.judge import RemoteError
from rates_driver import JOIN_SECONDS, PAIRS, Rates, error_name, expected


def test_ttl_and_invalidation_rules(candidate):
    rates = Rates(candidate, ttl_seconds=60.0)
    provider, clock, now = rates.provider, rates.clock, 5_000.0
    clock.set(now)
    eur, gbp, jpy = PAIRS[0], PAIRS[1], PAIRS[2]

    def get(pair: str) -> str:
        try:
            rate = rates.get(pair)
        except RemoteError as error:
            pytest.fail(f"get({pair!r}) raised {error_name(error)}")
        if rate != expected(pair):  # not an assert: the candidate's value stays out of the report
            pytest.fail(f"get({pair!r}) did not return the Decimal the provider sent")
        return rate

    def invalidate(pair: str) -> None:
        try:
            rates.cache.invalidate.start(pair).result(JOIN_SECONDS)
        except RemoteError as error:
            pytest.fail(f"invalidate({pair!r}) raised {error_name(error)}")

    def calls() -> dict[str, int]:
        return {pair: count for pair, count in provider.calls.items() if count}

    try:
        ttl = rates.cache.ttl_seconds.get()
    except RemoteError as error:
        pytest.fail(f"reading ttl_seconds raised {error_name(error)}")
    if ttl != 60.0:
        pytest.fail("ttl_seconds is not the TTL the cache was built with (60.0)")

    get(eur)
    get(gbp)
    clock.set(now + 30.0)
    get(eur)
    assert calls() == {eur: 1, gbp: 1}, f"rates inside their TTL were fetched again: {calls()}"

    clock.set(now + 70.0)  # 70 s after the first fetches
    get(eur)
    assert provider.calls[eur] == 2, "a rate fetched 70 s ago (TTL 60 s) was not fetched again"
    clock.set(now + 100.0)  # 30 s after the refetch
    get(eur)
    assert provider.calls[eur] == 2, "the TTL did not restart when the rate was fetched again"
    get(gbp)
    assert provider.calls[gbp] == 2, "a rate fetched 100 s ago (TTL 60 s) was not fetched again"

    invalidate(eur)
    invalidate(jpy)  # never cached: ignored
    get(eur)
    assert provider.calls[eur] == 3, "get() after invalidate() did not fetch the pair again"
    get(eur)
    get(gbp)
    assert calls() == {eur: 3, gbp: 2}, (
        f"invalidate() of one pair changed what else is cached: {calls()}"
    )


def test_ttl_rules_hold_for_any_ttl_and_the_default(candidate):
    """The default TTL is the brief's 60 s, a TTL under a second is a TTL like any other, and a
    TTL that is not positive is refused with ValueError, as today."""
    for ttl, reused_at, fetched_at in ((None, 59.5, 60.5), (0.5, 0.25, 0.75)):
        rates = Rates(candidate, ttl_seconds=ttl)
        shown = "the default TTL (60 s)" if ttl is None else f"ttl_seconds={ttl:g}"
        now = 9_000.0
        rates.clock.set(now)
        for at, calls in ((now, 1), (now + reused_at, 1), (now + fetched_at, 2)):
            rates.clock.set(at)
            try:
                rate = rates.get(PAIRS[0])
            except RemoteError as error:
                pytest.fail(f"with {shown}, get() raised {error_name(error)}")
            if rate != expected(PAIRS[0]):
                pytest.fail(f"with {shown}, get() did not return the Decimal the provider sent")
            if rates.provider.calls[PAIRS[0]] != calls:
                pytest.fail(
                    f"with {shown}, a rate fetched {at - now:g} s earlier was "
                    + ("fetched again" if calls == 1 else "not fetched again")
                )
    module = candidate.module("rate_cache")
    for ttl in (0, -5.0):
        try:
            module.RateCache(candidate.module("decimal").Decimal.get(), ttl_seconds=ttl)
        except RemoteError as error:
            if error_name(error) != "ValueError":
                pytest.fail(f"RateCache(fetch, ttl_seconds={ttl:g}) raised {error_name(error)}")
        else:
            pytest.fail(f"RateCache(fetch, ttl_seconds={ttl:g}) was built; expected ValueError")
