"""Lookups racing with the corrections feed: no caller may see an error or a wrong rate."""

from __future__ import annotations

import threading
import time
from types import ModuleType

from hidden_support import (
    JOIN_SECONDS,
    PAIRS,
    RATES,
    FakeProvider,
    new_cache,
    tiny_switch_interval,
)

HOT_PAIRS = PAIRS[:4]
READERS = 4
LOOKUPS_PER_READER = 500
INVALIDATORS = 2


def _race(module: ModuleType) -> tuple[int, list[str], int]:
    """Readers look up hot pairs while two threads keep invalidating them.

    Returns (failed lookups, first problems, lookups attempted).
    """
    provider = FakeProvider()
    cache = new_cache(module, provider)
    problems: list[str] = []
    failed = 0
    lock = threading.Lock()
    readers_done = threading.Event()
    start = threading.Barrier(READERS + INVALIDATORS)

    def note(problem: str) -> None:
        nonlocal failed
        with lock:
            failed += 1
            if len(problems) < 5:
                problems.append(problem)

    def reader(offset: int) -> None:
        start.wait(JOIN_SECONDS)
        for number in range(LOOKUPS_PER_READER):
            pair = HOT_PAIRS[(number + offset) % len(HOT_PAIRS)]
            try:
                rate = cache.get(pair)
            except Exception as exc:
                note(f"get({pair!r}) raised {type(exc).__name__}: {exc}")
                continue
            if rate != RATES[pair]:
                note(f"get({pair!r}) returned {rate!r}, expected {RATES[pair]}")

    def invalidator(offset: int) -> None:
        start.wait(JOIN_SECONDS)
        order = HOT_PAIRS[offset:] + HOT_PAIRS[:offset]
        while not readers_done.is_set():
            for pair in order:  # a burst of corrections, then let the readers run
                try:
                    cache.invalidate(pair)
                except Exception as exc:
                    note(f"invalidate({pair!r}) raised {type(exc).__name__}: {exc}")
            time.sleep(0)

    readers = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(READERS)]
    invalidators = [
        threading.Thread(target=invalidator, args=(n,), daemon=True) for n in range(INVALIDATORS)
    ]
    with tiny_switch_interval():
        for thread in readers + invalidators:
            thread.start()
        for thread in readers:
            thread.join(JOIN_SECONDS)
        readers_done.set()
        for thread in invalidators:
            thread.join(JOIN_SECONDS)
    stuck = sum(thread.is_alive() for thread in readers + invalidators)
    if stuck:
        problems.insert(0, f"{stuck} threads were still running after {JOIN_SECONDS:.0f} s")
        failed += stuck
    return failed, problems, READERS * LOOKUPS_PER_READER


def test_lookups_never_fail_while_rates_are_invalidated(evidence, starter):
    starter_failed, _, _ = _race(starter.load("rate_cache"))

    import rate_cache

    failed, problems, lookups = _race(rate_cache)
    evidence.metric(
        "failed_lookups",
        failed,
        unit="lookups",
        limit=0,
        starter=starter_failed,
        label=f"lookups that raised or returned a wrong rate, of {lookups:,} during invalidations",
    )
    assert failed == 0, (
        f"{failed} of {lookups:,} lookups failed while the corrections feed invalidated the same "
        f"pairs (starter {starter_failed}): " + "; ".join(problems)
    )
