"""Per-API-key rate limiting for the public API.

Every request to the public API goes through :meth:`RateLimiter.hit` (see ``api.py``) before it
reaches an endpoint. Our plans allow 100 requests per minute per API key; over that, the
client gets a ``429 Too Many Requests`` with a ``Retry-After`` header.

Sliding-window log: the times of each key's admitted requests are kept sorted; a binary search
finds the first one still inside the window, and everything before it is dropped.
"""

from __future__ import annotations

import bisect
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
    """Allows ``limit`` requests per sliding ``window_seconds`` for each API key."""

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
        # api key -> times of its admitted requests still inside the window, sorted
        self._log: dict[str, list[float]] = {}
        self._lock = threading.RLock()

    def hit(self, api_key: str) -> Decision:
        """Decide on one request for ``api_key``; an allowed request is counted."""
        with self._lock:
            now = self._clock()
            log = self._log.setdefault(api_key, [])
            # Requests admitted at or before now - window no longer count: drop them.
            del log[: bisect.bisect_right(log, now - self.window_seconds)]
            if len(log) >= self.limit:
                wait = log[len(log) - self.limit] + self.window_seconds - now
                return Decision(
                    allowed=False,
                    limit=self.limit,
                    remaining=0,
                    retry_after=max(1, math.ceil(wait)),
                )
            bisect.insort(log, now)
            return Decision(allowed=True, limit=self.limit, remaining=self.limit - len(log))
