"""Shared pieces of the hidden checks: a fake rates provider and a way to pile threads up.

Races are made reproducible, not left to luck:

- the fake provider can hold every fetch at a gate until the test opens it, so all the
  threads that are going to miss a pair are inside ``get`` together, as at the top of each
  minute in production when a popular rate expires;
- the injected clock gives up the GIL (``time.sleep(0)``) on every call, and the checks run
  with a tiny switch interval, so other threads get to run wherever the cache reads the clock.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any

PAIRS = [
    "EUR/USD",
    "GBP/USD",
    "USD/JPY",
    "EUR/CHF",
    "USD/CAD",
    "AUD/USD",
    "EUR/GBP",
    "USD/SEK",
    "NZD/USD",
    "USD/PLN",
    "EUR/NOK",
    "USD/MXN",
]
RATES = {
    pair: Decimal("1.0000") + Decimal(index) * Decimal("0.1234") for index, pair in enumerate(PAIRS)
}
JOIN_SECONDS = 10.0  # a caller still inside get() after this is stuck


class RatesUnavailable(Exception):
    """What the fake provider raises while it is down."""


def yielding_clock() -> float:
    """A fixed time that lets other threads run on every read, like a clock behind a syscall."""
    time.sleep(0)
    return 1_000.0


@contextlib.contextmanager
def tiny_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@dataclass
class FakeProvider:
    """The fetch callable: counts calls per pair; optionally held at a gate or failing."""

    gated: bool = False
    delay: float = 0.0
    failing: set[str] = field(default_factory=set)
    gate: threading.Event = field(default_factory=threading.Event)
    calls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, pair: str) -> Decimal:
        with self.lock:
            self.calls[pair] = self.calls.get(pair, 0) + 1
        if self.gated:
            self.gate.wait(JOIN_SECONDS)
        if self.delay:
            time.sleep(self.delay)
        if pair in self.failing:
            raise RatesUnavailable(f"rates provider returned HTTP 503 for {pair}")
        return RATES[pair]

    @property
    def total_calls(self) -> int:
        with self.lock:
            return sum(self.calls.values())


@dataclass
class Outcome:
    pair: str
    value: Any = None
    error: BaseException | None = None
    finished_at: float = 0.0


@dataclass
class Crowd:
    """Threads that each call ``get(pair)`` once, all released together."""

    outcomes: list[Outcome]
    threads: list[threading.Thread]
    started_at: float
    arrived: int

    @property
    def stuck(self) -> int:
        return sum(1 for thread in self.threads if thread.is_alive())


def crowd_get(
    get: Callable[[str], Any],
    pairs: list[str],
    per_pair: int,
    while_inside: Callable[[Callable[[], int]], None] | None = None,
) -> Crowd:
    """Start ``per_pair`` threads for each pair, release them at once, and wait for them.

    ``while_inside(arrived)`` runs in the calling thread once all the threads are released;
    it is where a test opens the provider's gate.
    """
    total = len(pairs) * per_pair
    outcomes = [Outcome(pair) for pair in pairs for _ in range(per_pair)]
    start = threading.Barrier(total + 1)
    counter_lock = threading.Lock()
    arrived = 0

    def arrived_count() -> int:
        with counter_lock:
            return arrived

    def caller(outcome: Outcome) -> None:
        nonlocal arrived
        try:
            start.wait(JOIN_SECONDS)
        except threading.BrokenBarrierError:
            return
        with counter_lock:
            arrived += 1
        try:
            outcome.value = get(outcome.pair)
        except BaseException as exc:
            outcome.error = exc
        outcome.finished_at = time.perf_counter()

    threads = [threading.Thread(target=caller, args=(o,), daemon=True) for o in outcomes]
    for thread in threads:
        thread.start()
    start.wait(JOIN_SECONDS)
    started_at = time.perf_counter()
    if while_inside is not None:
        while_inside(arrived_count)
    deadline = time.monotonic() + JOIN_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return Crowd(outcomes, threads, started_at, arrived_count())


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


def new_cache(module: ModuleType, fetch: Callable[[str], Decimal], **kwargs: Any) -> Any:
    kwargs.setdefault("ttl_seconds", 3_600.0)
    kwargs.setdefault("clock", yielding_clock)
    return module.RateCache(fetch, **kwargs)


def describe_wrong(outcomes: list[Outcome], expected_error: type | None = None) -> list[str]:
    """One line per caller that did not get what it should have."""
    problems: list[str] = []
    for outcome in outcomes:
        if expected_error is not None:
            if not isinstance(outcome.error, expected_error):
                got = (
                    f"{type(outcome.error).__name__}: {outcome.error}"
                    if outcome.error is not None
                    else f"returned {outcome.value!r}"
                )
                problems.append(f"{outcome.pair}: {got} instead of {expected_error.__name__}")
        elif outcome.error is not None:
            problems.append(f"{outcome.pair}: {type(outcome.error).__name__}: {outcome.error}")
        elif outcome.value != RATES[outcome.pair]:
            problems.append(
                f"{outcome.pair}: returned {outcome.value!r}, expected {RATES[outcome.pair]}"
            )
    return problems
