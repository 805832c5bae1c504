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
import inspect
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway import PaymentError

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# The provider's errors are nearly always transient: another attempt usually gets through.
RETRY_ON: tuple[type[BaseException], ...] = (PaymentError,)


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
    returns a float in [0, 1) for the jitter.
    """

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                for attempt in range(1, attempts + 1):
                    delay = base_delay
                    try:
                        return await func(*args, **kwargs)
                    except retry_on as exc:
                        logger.warning(
                            "%s failed (attempt %d of %d): %r; retrying in %.2fs",
                            func.__name__,
                            attempt,
                            attempts,
                            exc,
                            delay,
                        )
                        sleep(delay)
                        delay = min(delay * 2, max_delay)
                logger.error("%s failed %d times, giving up", func.__name__, attempts)
                return None

            return async_wrapper  # type: ignore[return-value]

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, attempts + 1):
                delay = base_delay
                try:
                    return func(*args, **kwargs)
                except retry_on as exc:
                    logger.warning(
                        "%s failed (attempt %d of %d): %r; retrying in %.2fs",
                        func.__name__,
                        attempt,
                        attempts,
                        exc,
                        delay,
                    )
                    sleep(delay)
                    delay = min(delay * 2, max_delay)
            logger.error("%s failed %d times, giving up", func.__name__, attempts)
            return None

        return wrapper  # type: ignore[return-value]

    return decorate
