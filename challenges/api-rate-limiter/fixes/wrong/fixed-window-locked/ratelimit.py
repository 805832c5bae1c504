"""Per-API-key rate limiting for the public API.

Every request to the public API goes through :meth:`RateLimiter.hit` (see ``api.py``) before it
reaches an endpoint. Our plans allow 100 requests per minute per API key; over that, the
client gets a ``429 Too Many Requests`` with a ``Retry-After`` header.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""Returns the current time in seconds."""

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
    """Allows ``limit`` requests per ``window_seconds`` for each API key.

    Each key's window starts with its first request and lasts ``window_seconds``; the count
    starts over in the next window. The check and the increment run under one lock.
    """

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
        # api key -> (start of its current window, requests counted in that window)
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, api_key: str) -> Decision:
        """Decide on one request for ``api_key``; an allowed request is counted."""
        with self._lock:
            now = self._clock()
            start, count = self._windows.get(api_key, (now, 0))
            if now - start >= self.window_seconds:
                start, count = now, 0
            if count >= self.limit:
                return Decision(
                    allowed=False,
                    limit=self.limit,
                    remaining=0,
                    retry_after=max(1, math.ceil(start + self.window_seconds - now)),
                )
            count += 1
            self._windows[api_key] = (start, count)
            return Decision(allowed=True, limit=self.limit, remaining=self.limit - count)
