"""The cache's rules, one thread at a time: reuse within the TTL, refetch after, invalidate."""

from __future__ import annotations

from decimal import Decimal

from hidden_support import PAIRS, RATES, FakeProvider


class FakeClock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


def test_ttl_and_invalidation_rules():
    import rate_cache

    provider = FakeProvider()
    clock = FakeClock()
    cache = rate_cache.RateCache(provider, ttl_seconds=60.0, clock=clock)
    assert cache.ttl_seconds == 60.0
    eur, gbp, jpy = PAIRS[0], PAIRS[1], PAIRS[2]

    rate = cache.get(eur)
    assert isinstance(rate, Decimal) and rate == RATES[eur], f"get({eur!r}) returned {rate!r}"
    assert cache.get(gbp) == RATES[gbp]
    clock.now += 30.0
    assert cache.get(eur) == RATES[eur]
    assert provider.calls == {eur: 1, gbp: 1}, (
        f"rates inside their TTL were fetched again: {provider.calls}"
    )

    clock.now += 40.0  # 70 s after the first fetches
    assert cache.get(eur) == RATES[eur]
    assert provider.calls[eur] == 2, "a rate fetched 70 s ago (TTL 60 s) was not fetched again"
    clock.now += 30.0  # 30 s after the refetch
    assert cache.get(eur) == RATES[eur]
    assert provider.calls[eur] == 2, "the TTL did not restart when the rate was fetched again"
    assert cache.get(gbp) == RATES[gbp]
    assert provider.calls[gbp] == 2, "a rate fetched 100 s ago (TTL 60 s) was not fetched again"

    cache.invalidate(eur)
    cache.invalidate(jpy)  # never cached: ignored
    assert cache.get(eur) == RATES[eur]
    assert provider.calls[eur] == 3, "get() after invalidate() did not fetch the pair again"
    assert cache.get(eur) == RATES[eur]
    assert cache.get(gbp) == RATES[gbp]
    assert provider.calls == {eur: 3, gbp: 2}, (
        f"invalidate() of one pair changed what else is cached: {provider.calls}"
    )
