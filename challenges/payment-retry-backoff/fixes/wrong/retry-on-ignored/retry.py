"""Retries for calls to the payment provider.

Wrap a call to the provider and it is tried again, after a growing pause, when the
provider has a bad moment::

    @retry(attempts=5, base_delay=0.5)
    def fetch_balance(account: str) -> dict: ...

Plain functions wait with ``sleep``, ``async def`` functions with ``async_sleep``. Both,
and ``random``, can be swapped out so that tests never really wait.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway import RateLimited, ServiceUnavailable, Timeout

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# Only failures where the very same request can succeed a moment later. A declined card or
# a bad request fails the same way every time; retrying them only hammers the issuer.
RETRY_ON: tuple[type[BaseException], ...] = (RateLimited, ServiceUnavailable, Timeout)


def backoff(
    retry_number: int, base_delay: float, max_delay: float, random: Callable[[], float]
) -> float:
    """Seconds to wait before retry ``retry_number`` (1 for the first retry).

    The backoff doubles from ``base_delay`` and is capped at ``max_delay``; the wait is drawn
    uniformly from the upper half of it ("equal jitter"), so it never exceeds the cap.
    """
    ceiling = min(max_delay, base_delay * 2.0 ** (retry_number - 1))
    return ceiling * (0.5 + 0.5 * random())


def retry(
    *,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    retry_on: tuple[type[BaseException], ...] = RETRY_ON,
    sleep: Callable[[float], object] = time.sleep,
    async_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    random: Callable[[], float] = _random.random,
) -> Callable[[F], F]:
    """Call the decorated function again when it raises one of ``retry_on``.

    ``attempts`` counts every call, the first one included. ``base_delay`` is the pause
    before the first retry, ``max_delay`` the longest pause, both in seconds. ``random``
    returns a float in [0, 1) for the jitter. When the last attempt fails, or the provider
    asks (Retry-After) for a longer pause than ``max_delay``, its error is raised as is.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def pause_after(exc: BaseException, attempt: int) -> float | None:
        """Seconds to wait after failed ``attempt``, or None to give up and raise ``exc``."""
        if attempt >= attempts:
            return None
        delay = backoff(attempt, base_delay, max_delay, random)
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        if retry_after is not None:
            if retry_after > max_delay:
                return None
            delay = max(delay, retry_after)
        return delay

    def decorate(func: F) -> F:
        name = getattr(func, "__qualname__", repr(func))

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                attempt = 1
                while True:
                    try:
                        return await func(*args, **kwargs)
                    except RETRY_ON as exc:
                        delay = pause_after(exc, attempt)
                        if delay is None:
                            raise
                        logger.warning("%s attempt %d failed: %r", name, attempt, exc)
                    await async_sleep(delay)
                    attempt += 1

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            attempt = 1
            while True:
                try:
                    return func(*args, **kwargs)
                except RETRY_ON as exc:
                    delay = pause_after(exc, attempt)
                    if delay is None:
                        raise
                    logger.warning("%s attempt %d failed: %r", name, attempt, exc)
                sleep(delay)
                attempt += 1

        return wrapper  # type: ignore[return-value]

    return decorate
