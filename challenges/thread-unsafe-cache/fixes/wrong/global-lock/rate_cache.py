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
        self._lock = threading.RLock()
        self._rates: dict[str, CachedRate] = {}

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def get(self, pair: str) -> Decimal:
        with self._lock:
            if pair in self._rates and not self._is_expired(pair):
                return self._rates[pair].rate
            rate = self._fetch(pair)
            self._rates[pair] = CachedRate(rate, self._clock() + self._ttl)
            return self._rates[pair].rate

    def invalidate(self, pair: str) -> None:
        with self._lock:
            if pair in self._rates:
                del self._rates[pair]

    def _is_expired(self, pair: str) -> bool:
        return self._rates[pair].expires_at <= self._clock()
