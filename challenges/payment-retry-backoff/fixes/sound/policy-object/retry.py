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
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway import RateLimited, ServiceUnavailable, Timeout

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

RETRY_ON: tuple[type[BaseException], ...] = (RateLimited, ServiceUnavailable, Timeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Decides, after each failed attempt, whether to try again and how long to wait."""

    attempts: int
    base_delay: float
    max_delay: float
    retry_on: tuple[type[BaseException], ...]
    random: Callable[[], float]

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def wait_after(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based), or None to raise ``error``."""
        if not isinstance(error, self.retry_on) or attempt >= self.attempts:
            return None
        exponent = min(attempt - 1, 64)  # 2**64 * any sane base is far past any cap
        ceiling = min(self.max_delay, self.base_delay * 2**exponent)
        wait = ceiling / 2 + self.random() * ceiling / 2
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self.max_delay:
                return None  # the caller re-queues the payment rather than block this long
            wait = max(wait, error.retry_after)
        return wait


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
    policy = RetryPolicy(attempts, base_delay, max_delay, retry_on, random)

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                for attempt in range(1, policy.attempts + 1):
                    try:
                        return await func(*args, **kwargs)
                    except Exception as error:
                        wait = policy.wait_after(attempt, error)
                        if wait is None:
                            raise
                        _log(func, attempt, error, wait)
                    await async_sleep(wait)
                raise AssertionError("unreachable: the last attempt returns or raises")

            return functools.wraps(func)(run_async)  # type: ignore[return-value]

        def run(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, policy.attempts + 1):
                try:
                    return func(*args, **kwargs)
                except Exception as error:
                    wait = policy.wait_after(attempt, error)
                    if wait is None:
                        raise
                    _log(func, attempt, error, wait)
                sleep(wait)
            raise AssertionError("unreachable: the last attempt returns or raises")

        return functools.wraps(func)(run)  # type: ignore[return-value]

    return decorate


def _log(func: Callable[..., Any], attempt: int, error: BaseException, wait: float) -> None:
    name = getattr(func, "__qualname__", func)
    logger.warning("%s attempt %d failed (%r); retrying in %.2fs", name, attempt, error, wait)
