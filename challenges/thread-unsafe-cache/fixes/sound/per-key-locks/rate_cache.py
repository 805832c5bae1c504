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

    A short lock guards the dicts; a lock per pair serialises fetches of that pair only.
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
        self._guard = threading.Lock()
        self._rates: dict[str, CachedRate] = {}
        self._pair_locks: dict[str, threading.Lock] = {}

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def _fresh(self, pair: str) -> Decimal | None:
        """The cached rate if it has not expired. Call with ``_guard`` held."""
        cached = self._rates.get(pair)
        if cached is not None and cached.expires_at > self._clock():
            return cached.rate
        return None

    def get(self, pair: str) -> Decimal:
        with self._guard:
            rate = self._fresh(pair)
            if rate is not None:
                return rate
            pair_lock = self._pair_locks.setdefault(pair, threading.Lock())
        with pair_lock:
            # Another thread may have fetched the pair while we waited for its lock.
            with self._guard:
                rate = self._fresh(pair)
            if rate is not None:
                return rate
            rate = self._fetch(pair)
            with self._guard:
                self._rates[pair] = CachedRate(rate, self._clock() + self._ttl)
            return rate

    def invalidate(self, pair: str) -> None:
        with self._guard:
            self._rates.pop(pair, None)
