"""Per-API-key rate limiting for the public API.

Every request to the public API goes through :meth:`RateLimiter.hit` (see ``api.py``) before it
reaches an endpoint. Our plans allow 100 requests per minute per API key; over that, the
client gets a ``429 Too Many Requests`` with a ``Retry-After`` header.

Token bucket: each key has a bucket of ``limit`` tokens that refills continuously at
``limit / window_seconds`` tokens a second; a request takes one token. No minute boundaries,
so no burst at the turn of a minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""Returns the current time in seconds and never goes backwards."""

DEFAULT_LIMIT = 100
DEFAULT_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Decision:
    """The limiter's verdict on one request, as the API reports it in its headers."""

    allowed: bool
    limit: int
    remaining: int
    """Requests the key can still make right now (``X-RateLimit-Remaining``)."""
    retry_after: int = 0
    """Whole seconds to wait before retrying (``Retry-After``); 0 when allowed."""


class RateLimiter:
    """Allows ``limit`` requests per ``window_seconds`` for each API key, as a token bucket."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self.limit = limit
        self.window_seconds = float(window_seconds)
        self._clock = clock
        self._rate = limit / self.window_seconds  # tokens per second
        # api key -> (tokens left, when they were counted)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, api_key: str) -> Decision:
        """Decide on one request for ``api_key``; an allowed request takes a token."""
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.get(api_key, (float(self.limit), now))
            tokens = min(float(self.limit), tokens + (now - updated) * self._rate)
            if tokens < 1.0:
                self._buckets[api_key] = (tokens, now)
                return Decision(
                    allowed=False,
                    limit=self.limit,
                    remaining=0,
                    retry_after=max(1, math.ceil((1.0 - tokens) / self._rate)),
                )
            tokens -= 1.0
            self._buckets[api_key] = (tokens, now)
            return Decision(allowed=True, limit=self.limit, remaining=int(tokens))
