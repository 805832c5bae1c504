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
    """Get-or-fetch cache of exchange rates, keyed by currency pair (``"EUR/USD"``)."""

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
        self._lock = threading.Lock()
        self._rates: dict[str, CachedRate] = {}

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def _fresh(self, pair: str) -> Decimal | None:
        cached = self._rates.get(pair)  # one atomic read, no check-then-read
        if cached is not None and cached.expires_at > self._clock():
            return cached.rate
        return None

    def get(self, pair: str) -> Decimal:
        rate = self._fresh(pair)
        if rate is not None:
            return rate
        # Fetch outside the lock so a slow provider never blocks other pairs ...
        fetched = self._fetch(pair)
        with self._lock:
            # ... and check again before writing, so the first result wins.
            rate = self._fresh(pair)
            if rate is not None:
                return rate
            self._rates[pair] = CachedRate(fetched, self._clock() + self._ttl)
            return fetched

    def invalidate(self, pair: str) -> None:
        with self._lock:
            self._rates.pop(pair, None)
