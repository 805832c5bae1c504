"""Per-API-key rate limiting for the public API.

Every request to the public API goes through :meth:`RateLimiter.hit` (see ``api.py``) before it
reaches an endpoint. Our plans allow 100 requests per minute per API key; over that, the
client gets a ``429 Too Many Requests`` with a ``Retry-After`` header.

The window slides: a request counts against its key for ``window_seconds`` after it was
admitted, so no key gets more than ``limit`` requests in *any* window-long span, whatever the
alignment of the clock. Refused requests are not counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
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
    """Allows ``limit`` requests per sliding ``window_seconds`` for each API key.

    Keeps, per key, the times of the requests admitted in the last ``window_seconds`` (at most
    ``limit`` of them, oldest first). One limiter is shared by all request threads of a
    worker: the whole check-and-record step runs under one lock.
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
        # api key -> times of its requests that still count, oldest first
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, api_key: str) -> Decision:
        """Decide on one request for ``api_key``; an allowed request is counted."""
        with self._lock:
            now = self._clock()
            admitted = self._admitted.get(api_key)
            if admitted is None:
                admitted = self._admitted[api_key] = deque()
            # A request admitted at t stops counting at t + window_seconds.
            expired_before = now - 60.0
            while admitted and admitted[0] <= expired_before:
                admitted.popleft()

            if len(admitted) >= self.limit:
                # The next slot frees when the oldest counted request leaves the window.
                wait = admitted[0] + 60.0 - now
                return Decision(
                    allowed=False,
                    limit=self.limit,
                    remaining=0,
                    retry_after=max(1, math.ceil(wait)),
                )
            admitted.append(now)
            return Decision(allowed=True, limit=self.limit, remaining=self.limit - len(admitted))
