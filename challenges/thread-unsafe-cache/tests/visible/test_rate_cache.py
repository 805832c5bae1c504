"""Quick checks you can run while you work. The graded suite measures more than this."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from pricing import quote
from rate_cache import RateCache

RATES = {"EUR/USD": Decimal("1.0842"), "GBP/USD": Decimal("1.2710")}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class CountingFetch:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, pair: str) -> Decimal:
        with self._lock:
            self.calls.append(pair)
        time.sleep(self.delay)
        return RATES[pair]


def test_rate_is_reused_until_its_ttl_has_passed():
    fetch, clock = CountingFetch(), FakeClock()
    cache = RateCache(fetch, ttl_seconds=60.0, clock=clock)
    assert cache.get("EUR/USD") == Decimal("1.0842")
    clock.now += 59.0
    assert cache.get("EUR/USD") == Decimal("1.0842")
    assert fetch.calls == ["EUR/USD"]
    clock.now += 2.0
    assert cache.get("EUR/USD") == Decimal("1.0842")
    assert fetch.calls == ["EUR/USD", "EUR/USD"]


def test_invalidate_makes_the_next_lookup_fetch_again():
    fetch = CountingFetch()
    cache = RateCache(fetch, ttl_seconds=60.0, clock=FakeClock())
    cache.get("EUR/USD")
    cache.get("GBP/USD")
    cache.invalidate("EUR/USD")
    cache.invalidate("USD/JPY")  # not cached: ignored
    cache.get("EUR/USD")
    cache.get("GBP/USD")
    assert fetch.calls == ["EUR/USD", "GBP/USD", "EUR/USD"]


def test_quote_converts_and_rounds_to_cents():
    cache = RateCache(CountingFetch(), ttl_seconds=60.0, clock=FakeClock())
    assert quote(cache, Decimal("19.99"), "EUR", "USD") == Decimal("21.67")
    assert quote(cache, Decimal("5"), "GBP", "GBP") == Decimal("5.00")
    with pytest.raises(KeyError):
        quote(cache, Decimal("1"), "CHF", "JPY")  # the fake provider knows two pairs only


def test_concurrent_lookups_of_one_pair_share_one_fetch():
    """The incident in miniature: 8 request threads want EUR/USD while it is not cached."""
    fetch = CountingFetch(delay=0.3)  # the provider takes a few hundred ms
    cache = RateCache(fetch, ttl_seconds=60.0)
    start = threading.Barrier(8)
    results: list[Decimal] = []

    def request() -> None:
        start.wait()
        results.append(cache.get("EUR/USD"))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10.0)
    assert results == [Decimal("1.0842")] * 8
    assert len(fetch.calls) == 1, f"8 concurrent lookups fetched EUR/USD {len(fetch.calls)} times"
