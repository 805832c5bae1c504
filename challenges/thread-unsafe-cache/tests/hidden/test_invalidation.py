"""Lookups racing with the corrections feed: no caller may see an error or a wrong rate.

Readers look up hot pairs in host threads of their own while the judge invalidates the same
pairs, a burst of corrections every couple of milliseconds. Each burst also corrects a pair
nobody is quoting (the provider republishes every pair it has), which must do nothing. The
cache's clock is the judge's and each read of it is a round trip (a clock behind a system
call), so a reader that reads the clock between looking a pair up and reading it again gives
the corrections feed its chance, as in production.
"""

from __future__ import annotations

import threading
import time

from faultline_harness.judge import HostClient, HostFailure, RemoteError
from rates_driver import JOIN_SECONDS, NOW, PAIRS, Rates, done_with, error_name, expected

HOT_PAIRS = PAIRS[:4]
COLD_PAIR = PAIRS[4]  # corrected in every burst, never looked up: never cached
READERS = 4
LOOKUPS_PER_READER = 100
INVALIDATORS = 1
CORRECTIONS_PAUSE = 0.002  # seconds between two bursts of corrections: rates live a little


def _race(host: HostClient) -> tuple[int, list[str], int]:
    """Returns (failed lookups, first problems, lookups attempted)."""
    rates = Rates(host, clock=host.callback(lambda: NOW))
    problems: list[str] = []
    failed = 0
    lock = threading.Lock()
    readers_done = threading.Event()

    def note(problem: str, count: int = 1) -> None:
        nonlocal failed
        with lock:
            failed += count
            if len(problems) < 5:
                problems.append(problem)

    def reader(offset: int) -> None:
        pairs = [HOT_PAIRS[(n + offset) % len(HOT_PAIRS)] for n in range(LOOKUPS_PER_READER)]
        try:
            results = rates.get_many(pairs)
        except HostFailure:
            note(f"a reader's {LOOKUPS_PER_READER} lookups got no answer", LOOKUPS_PER_READER)
            return
        for pair, result in zip(pairs, results, strict=True):
            if isinstance(result, RemoteError):
                note(f"get({pair!r}) raised {error_name(result)}")
            elif result != expected(pair):
                note(f"get({pair!r}) returned something other than the provider's rate")

    def invalidator(offset: int) -> None:
        order = [*HOT_PAIRS[offset:], *HOT_PAIRS[:offset], COLD_PAIR]
        while True:  # at least one burst, however fast the readers are
            try:
                results = rates.invalidate_many(order)  # a burst of corrections
            except HostFailure:
                return
            for pair, result in zip(order, results, strict=True):
                if isinstance(result, RemoteError):
                    note(f"invalidate({pair!r}) raised {error_name(result)}")
            if readers_done.wait(CORRECTIONS_PAUSE):
                return

    readers = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(READERS)]
    invalidators = [
        threading.Thread(target=invalidator, args=(n,), daemon=True) for n in range(INVALIDATORS)
    ]
    for thread in readers + invalidators:
        thread.start()
    deadline = time.monotonic() + JOIN_SECONDS
    for thread in readers:
        thread.join(max(0.0, deadline - time.monotonic()))
    readers_done.set()
    for thread in invalidators:
        thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
    stuck = sum(thread.is_alive() for thread in readers + invalidators)
    if stuck:
        problems.insert(0, f"{stuck} callers were still waiting after {JOIN_SECONDS:.0f} s")
        failed += stuck
    return failed, problems, READERS * LOOKUPS_PER_READER


def test_lookups_never_fail_while_rates_are_invalidated(evidence, candidate, starter):
    starter_failed, _, _ = _race(starter)
    done_with(starter)
    failed, problems, lookups = _race(candidate)
    evidence.metric(
        "failed_lookups",
        failed,
        unit="lookups",
        limit=0,
        starter=starter_failed,
        label=(
            f"lookups that raised or returned a wrong rate, of {lookups:,} during invalidations, "
            "and corrections that raised"
        ),
    )
    if starter_failed == 0:
        evidence.suspect(
            f"no-errors-during-invalidation: none of the starter's {lookups:,} lookups failed "
            "in this run (its race shows failures); the measurement is not trusted"
        )
    assert failed == 0, (
        f"{failed} calls failed while the corrections feed invalidated the pairs {lookups:,} "
        f"lookups read (starter {starter_failed}): " + "; ".join(problems)
    )
