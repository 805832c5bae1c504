"""Exchange-rate cache shared by every request thread of the pricing service.

A rate is fetched from the rates provider the first time a pair is asked for and reused for
``ttl_seconds``. The corrections feed calls :meth:`RateCache.invalidate` when the provider
republishes a rate, so the next lookup fetches the corrected one.

Thread safety: one short lock guards the two dicts (cached rates and fetches in flight) and is
never held while fetching. The first thread to miss a pair becomes its fetcher and publishes
the outcome through a ``Future``; every other thread that misses the same pair meanwhile waits
on that future instead of fetching again. Different pairs are fetched concurrently, at most
``MAX_CONCURRENT_FETCHES`` at a time so that a burst of misses does not hammer the provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal

FetchRate = Callable[[str], Decimal]
Clock = Callable[[], float]

MAX_CONCURRENT_FETCHES = 16


@dataclass(frozen=True)
class CachedRate:
    rate: Decimal
    expires_at: float


class RateCache:
    """Get-or-fetch cache of exchange rates, keyed by currency pair (``"EUR/USD"``).

    ``fetch`` asks the rates provider for one pair (a network call, a few hundred ms) and
    ``clock`` returns seconds (``time.monotonic`` in production). One instance is created at
    start-up and shared by all worker threads.
    """

    def __init__(
        self,
        fetch: FetchRate,
        *,
        ttl_seconds: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._fetch = fetch
        self._ttl = float(ttl_seconds)
        self._clock = clock
        self._lock = threading.Lock()  # guards _rates and _in_flight; never held during a fetch
        self._rates: dict[str, CachedRate] = {}
        self._in_flight: dict[str, Future[Decimal]] = {}
        self._provider_slots = threading.BoundedSemaphore(MAX_CONCURRENT_FETCHES)

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def get(self, pair: str) -> Decimal:
        """Return the rate for ``pair``, fetching it if it is not cached or has expired.

        Concurrent misses on one pair share a single fetch. If the fetch raises, every caller
        waiting for it gets the exception and nothing is cached.
        """
        with self._lock:
            cached = self._rates.get(pair)
            if cached is not None and cached.expires_at > self._clock():
                return cached.rate
            future = self._in_flight.get(pair)
            if future is None:
                future = Future()
                self._in_flight[pair] = future
                fetcher = True
            else:
                fetcher = False
        if not fetcher:
            return future.result()

        try:
            with self._provider_slots:
                rate = self._fetch(pair)
        except BaseException as exc:
            with self._lock:
                del self._in_flight[pair]
            future.set_exception(exc)
            raise
        with self._lock:
            self._rates[pair] = CachedRate(rate, self._clock() + self._ttl)
            del self._in_flight[pair]
        future.set_result(rate)
        return rate

    def invalidate(self, pair: str) -> None:
        """Forget ``pair`` so that the next :meth:`get` fetches it again.

        Pairs that are not cached are ignored.
        """
        with self._lock:
            self._rates.pop(pair, None)
