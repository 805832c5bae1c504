"""Hidden-check fixtures: one event loop for the whole run, fresh database files per test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


@pytest.fixture(scope="session")
def run() -> Iterator[Callable[[Coroutine[Any, Any, T]], T]]:
    """``run(coro)`` runs a coroutine on the suite's event loop.

    A production process has one event loop for its whole life; sharing one loop across the
    checks keeps fixes that create asyncio primitives at import time working.
    """
    with asyncio.Runner() as runner:
        yield runner.run
