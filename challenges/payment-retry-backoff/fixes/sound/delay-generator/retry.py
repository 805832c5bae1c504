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
from collections.abc import Awaitable, Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

from gateway import RateLimited, ServiceUnavailable, Timeout

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

RETRY_ON: tuple[type[BaseException], ...] = (RateLimited, ServiceUnavailable, Timeout)


def backoff_delays(
    base_delay: float, max_delay: float, random: Callable[[], float]
) -> Iterator[float]:
    """Endless waits: doubling from ``base_delay``, capped at ``max_delay``, equal jitter."""
    ceiling = min(base_delay, max_delay)
    while True:
        yield ceiling * (1 + random()) / 2
        ceiling = min(ceiling * 2, max_delay)


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

    def waits() -> Iterator[float]:
        """The waits between this call's attempts: ``attempts - 1`` of them."""
        delays = backoff_delays(base_delay, max_delay, random)
        for _ in range(attempts - 1):
            yield next(delays)

    def wait_for(error: BaseException, backoff: float) -> float:
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, RateLimited) and retry_after is not None:
            if retry_after > max_delay:
                raise error  # too long to hold a checkout worker: the caller re-queues
            return max(backoff, retry_after)
        return backoff

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                for backoff in waits():
                    try:
                        return await func(*args, **kwargs)
                    except retry_on as error:
                        wait = wait_for(error, backoff)
                        logger.warning("%s failed: %r; retrying in %.2fs", func, error, wait)
                    await async_sleep(wait)
                return await func(*args, **kwargs)  # the last attempt: its error propagates

            return async_wrapper  # type: ignore[return-value]

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for backoff in waits():
                try:
                    return func(*args, **kwargs)
                except retry_on as error:
                    wait = wait_for(error, backoff)
                    logger.warning("%s failed: %r; retrying in %.2fs", func, error, wait)
                sleep(wait)
            return func(*args, **kwargs)  # the last attempt: its error propagates

        return wrapper  # type: ignore[return-value]

    return decorate
