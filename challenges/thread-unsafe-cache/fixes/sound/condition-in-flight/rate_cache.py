"""Exchange-rate cache shared by every request thread of the pricing service.

A rate is fetched from the rates provider the first time a pair is asked for and reused for
``ttl_seconds``. The corrections feed calls :meth:`RateCache.invalidate` when the provider
republishes a rate, so the next lookup fetches the corrected one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

FetchRate = Callable[[str], Decimal]
Clock = Callable[[], float]


@dataclass(frozen=True)
class CachedRate:
    rate: Decimal
    expires_at: float


class RateCache:
    """Get-or-fetch cache of exchange rates, keyed by currency pair (``"EUR/USD"``).

    A condition variable guards the cache and the set of pairs being fetched; a thread that
    misses a pair someone else is fetching waits for the fetch to end, then looks again.
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
        self._changed = threading.Condition()
        self._rates: dict[str, CachedRate] = {}
        self._fetching: set[str] = set()

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def get(self, pair: str) -> Decimal:
        with self._changed:
            while True:
                cached = self._rates.get(pair)
                if cached is not None and cached.expires_at > self._clock():
                    return cached.rate
                if pair not in self._fetching:
                    self._fetching.add(pair)
                    break
                self._changed.wait()
        try:
            rate = self._fetch(pair)
        except BaseException:
            with self._changed:
                self._fetching.discard(pair)
                self._changed.notify_all()
            raise
        with self._changed:
            self._rates[pair] = CachedRate(rate, self._clock() + self._ttl)
            self._fetching.discard(pair)
            self._changed.notify_all()
        return rate

    def invalidate(self, pair: str) -> None:
        with self._changed:
            self._rates.pop(pair, None)
