"""Per-API-key rate limiting for the public API.

Every request to the public API goes through :meth:`RateLimiter.hit` (see ``api.py``) before it
reaches an endpoint. Our plans allow 100 requests per minute per API key; over that, the
client gets a ``429 Too Many Requests`` with a ``Retry-After`` header.

Each key keeps the times of its last ``limit`` admitted requests in a ring buffer. A request is
admitted when the oldest of them (the slot it would overwrite) is at least ``window_seconds``
old: then fewer than ``limit`` requests remain inside the window. One lock per key.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class _KeyState:
    slots: list[float]  # admission times, oldest at ``next``; -inf for unused slots
    next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


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
        self._keys: dict[str, _KeyState] = {}

    def _state(self, api_key: str) -> _KeyState:
        # Each key has its own lock, so keys never wait for each other.
        state = self._keys.get(api_key)
        if state is None:
            state = _KeyState([-math.inf] * self.limit)
            self._keys[api_key] = state
        return state

    def hit(self, api_key: str) -> Decision:
        """Decide on one request for ``api_key``; an allowed request is counted."""
        state = self._state(api_key)
        with state.lock:
            now = self._clock()
            expired_before = now - self.window_seconds
            oldest = state.slots[state.next]
            if oldest > expired_before:
                return Decision(
                    allowed=False,
                    limit=self.limit,
                    remaining=0,
                    retry_after=max(1, math.ceil(oldest + self.window_seconds - now)),
                )
            state.slots[state.next] = now
            state.next = (state.next + 1) % self.limit
            # The slots in ring order are sorted by time: count those still inside the window.
            ordered = state.slots[state.next :] + state.slots[: state.next]
            used = self.limit - bisect.bisect_right(ordered, expired_before)
            return Decision(allowed=True, limit=self.limit, remaining=self.limit - used)
