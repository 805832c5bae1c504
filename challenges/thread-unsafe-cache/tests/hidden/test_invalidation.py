"""Lookups racing with the corrections feed: no caller may see an error or a wrong rate.

Readers look up hot pairs in host threads of their own while the judge invalidates the same
pairs, a burst of corrections every couple of milliseconds; the readers start once the feed
is running and read until several bursts have landed during their lookups. Each burst also
corrects a pair nobody is quoting (the provider republishes every pair it has), which must do
nothing. The cache's clock is the judge's and each read of it is a round trip (a clock behind
a system call), so a reader that reads the clock between looking a pair up and reading it
again gives the corrections feed its chance, as in production.
"""

from __future__ import annotations

import threading
import time

from faultline_harness.judge import HostClient, HostFailure, RemoteError
from rates_driver import JOIN_SECONDS, NOW, PAIRS, Rates, done_with, error_name, expected

HOT_PAIRS = PAIRS[:4]
COLD_PAIR = PAIRS[4]  # corrected in every burst, never looked up: never cached
READERS = 4
LOOKUPS_PER_ROUND = 100
OVERLAPPING_BURSTS = 3  # a reader keeps reading until this many bursts landed during its rounds
MAX_ROUNDS = 20
INVALIDATORS = 1
CORRECTIONS_PAUSE = 0.002  # seconds between two bursts of corrections: rates live a little


def _race(host: HostClient) -> tuple[int, list[str], int]:
    """Returns (failed lookups, first problems, lookups attempted).

    The readers start once the corrections feed has sent its first burst, and each keeps
    reading, a round of lookups at a time, until several bursts have landed while it read: a
    busy machine that starts the feed's thread late cannot let the lookups finish unraced.
    """
    rates = Rates(host, clock=host.callback(lambda: NOW))
    problems: list[str] = []
    failed = 0
    attempted = 0
    bursts = 0
    lock = threading.Lock()
    feed_running = threading.Event()
    readers_done = threading.Event()

    def note(problem: str, count: int = 1) -> None:
        nonlocal failed
        with lock:
            failed += count
            if len(problems) < 5:
                problems.append(problem)

    def bursts_so_far() -> int:
        with lock:
            return bursts

    def reader(offset: int) -> None:
        nonlocal attempted
        pairs = [HOT_PAIRS[(n + offset) % len(HOT_PAIRS)] for n in range(LOOKUPS_PER_ROUND)]
        if not feed_running.wait(JOIN_SECONDS):
            return
        first_burst = bursts_so_far()
        for _ in range(MAX_ROUNDS):
            try:
                results = rates.get_many(pairs)
            except HostFailure:
                note(f"a reader's {LOOKUPS_PER_ROUND} lookups got no answer", LOOKUPS_PER_ROUND)
                return
            with lock:
                attempted += len(pairs)
            for pair, result in zip(pairs, results, strict=True):
                if isinstance(result, RemoteError):
                    note(f"get({pair!r}) raised {error_name(result)}")
                elif result != expected(pair):
                    note(f"get({pair!r}) returned something other than the provider's rate")
            if bursts_so_far() - first_burst >= OVERLAPPING_BURSTS:
                return

    def invalidator(offset: int) -> None:
        nonlocal bursts
        order = [*HOT_PAIRS[offset:], *HOT_PAIRS[:offset], COLD_PAIR]
        while True:
            try:
                results = rates.invalidate_many(order)  # a burst of corrections
            except HostFailure:
                feed_running.set()
                return
            with lock:
                bursts += 1
            feed_running.set()
            for pair, result in zip(order, results, strict=True):
                if isinstance(result, RemoteError):
                    note(f"invalidate({pair!r}) raised {error_name(result)}")
            if readers_done.wait(CORRECTIONS_PAUSE):
                return

    readers = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(READERS)]
    invalidators = [
        threading.Thread(target=invalidator, args=(n,), daemon=True) for n in range(INVALIDATORS)
    ]
    for thread in invalidators + readers:
        thread.start()
    deadline = time.monotonic() + JOIN_SECONDS * 2
    for thread in readers:
        thread.join(max(0.0, deadline - time.monotonic()))
    readers_done.set()
    for thread in invalidators:
        thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
    stuck = sum(thread.is_alive() for thread in readers + invalidators)
    if stuck:
        problems.insert(0, f"{stuck} callers were still waiting after {JOIN_SECONDS * 2:.0f} s")
        failed += stuck
    if not feed_running.is_set():
        problems.insert(0, "the corrections feed's first burst never finished")
        failed += 1
    return failed, problems, attempted


def test_lookups_never_fail_while_rates_are_invalidated(evidence, candidate, starter):
    starter_failed, _, starter_lookups = _race(starter)
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
            "no-errors-during-invalidation: none of the starter's "
            f"{starter_lookups:,} lookups failed in this run (its race shows failures); "
            "the measurement is not trusted"
        )
    assert failed == 0, (
        f"{failed} calls failed while the corrections feed invalidated the pairs {lookups:,} "
        f"lookups read (starter {starter_failed}): " + "; ".join(problems)
    )
