"""Per-API-key rate limiting for the public API.

Every request to the public API goes through :meth:`RateLimiter.hit` (see ``api.py``) before it
reaches an endpoint. Our plans allow 100 requests per minute per API key; over that, the
client gets a ``429 Too Many Requests`` with a ``Retry-After`` header.

Sliding-window counter: the count of the previous minute is weighted by how much of it still
overlaps the last 60 seconds and added to the current minute's count. Two integers per key,
and no burst at the turn of a minute.
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
    """Allows ``limit`` requests per sliding ``window_seconds`` for each API key (estimated)."""

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
        # api key -> (index of its current window, count in the previous one, count in it)
        self._counts: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, api_key: str) -> Decision:
        """Decide on one request for ``api_key``; an allowed request is counted."""
        with self._lock:
            now = self._clock()
            index = int(now // self.window_seconds)
            elapsed = now - index * self.window_seconds
            window, previous, current = self._counts.get(api_key, (index, 0, 0))
            if window != index:
                previous = current if window == index - 1 else 0
                current = 0
            overlap = 1.0 - elapsed / self.window_seconds  # share of the previous window
            estimate = previous * overlap + current
            if estimate + 1 > self.limit:
                self._counts[api_key] = (index, previous, current)
                if current + 1 > self.limit or previous == 0:
                    wait = self.window_seconds - elapsed
                else:
                    # the weighted previous count must shrink by (estimate + 1 - limit)
                    wait = (estimate + 1 - self.limit) / previous * self.window_seconds
                return Decision(
                    allowed=False,
                    limit=self.limit,
                    remaining=0,
                    retry_after=max(1, math.ceil(wait)),
                )
            current += 1
            self._counts[api_key] = (index, previous, current)
            remaining = int(self.limit - (previous * overlap + current))
            return Decision(allowed=True, limit=self.limit, remaining=max(0, remaining))
