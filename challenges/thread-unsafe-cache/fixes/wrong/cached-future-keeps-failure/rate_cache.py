"""Exchange-rate cache shared by every request thread of the pricing service.

A rate is fetched from the rates provider the first time a pair is asked for and reused for
``ttl_seconds``. The corrections feed calls :meth:`RateCache.invalidate` when the provider
republishes a rate, so the next lookup fetches the corrected one.
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


@dataclass(frozen=True)
class CachedRate:
    rate: Future[Decimal]
    expires_at: float


class RateCache:
    """Get-or-fetch cache of exchange rates, keyed by currency pair (``"EUR/USD"``).

    The cache holds a future per pair: the first caller fetches and completes it, every other
    caller waits on the same future.
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
        self._lock = threading.Lock()
        self._rates: dict[str, CachedRate] = {}

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def get(self, pair: str) -> Decimal:
        with self._lock:
            cached = self._rates.get(pair)
            if cached is not None and cached.expires_at > self._clock():
                future, fetcher = cached.rate, False
            else:
                future, fetcher = Future(), True
                self._rates[pair] = CachedRate(future, self._clock() + self._ttl)
        if fetcher:
            try:
                future.set_result(self._fetch(pair))
            except Exception as exc:
                future.set_exception(exc)
        return future.result()

    def invalidate(self, pair: str) -> None:
        with self._lock:
            self._rates.pop(pair, None)
