"""Concurrent requests: one limiter is shared by all request threads of a worker.

Twelve threads released together by a barrier send requests for the same keys while the clock
stands still, so every key must end with exactly its limit admitted. To make thread switches
as frequent as on a busy server, each worker thread yields the interpreter (``time.sleep(0)``)
at every other return from a built-in call, with the switch interval at its minimum: an
unsynchronised read-then-write is then interleaved on almost every request instead of once in
a blue moon. A correct limiter is unaffected: its answers do not depend on the interleaving.
"""

from __future__ import annotations

import sys
import threading
import time
from types import ModuleType

import ratelimit
from hidden_support import EPOCH, LIMIT, new_limiter

THREADS = 12
KEYS = 20
REQUESTS_PER_KEY_PER_THREAD = 11  # 132 requests per key, all in the same instant
JOIN_TIMEOUT = 20.0


def _hammer(module: ModuleType) -> tuple[dict[str, int], float]:
    """Admitted requests per key, and the seconds it took."""
    limiter = new_limiter(module, lambda: EPOCH)
    keys = [f"key-{number:02d}" for number in range(KEYS)]
    barrier = threading.Barrier(THREADS)
    results: list[list[bool] | None] = [None] * THREADS
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        returns = 0

        def preempt(frame, event, arg) -> None:
            nonlocal returns
            if event == "c_return":
                returns += 1
                if returns % 2 == 0:
                    time.sleep(0)

        admitted: list[bool] = []
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            sys.setprofile(preempt)
            try:
                for key in keys:
                    for _ in range(REQUESTS_PER_KEY_PER_THREAD):
                        admitted.append(limiter.hit(key).allowed)
            finally:
                sys.setprofile(None)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        results[index] = admitted

    threads = [
        threading.Thread(target=worker, args=(index,), daemon=True) for index in range(THREADS)
    ]
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    began = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        sys.setswitchinterval(previous_interval)
    elapsed = time.perf_counter() - began
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, (
        f"{stuck} of {THREADS} request threads were still running after {JOIN_TIMEOUT:g} s "
        "(deadlock?)"
    )
    assert not errors, f"a request thread raised {errors[0]!r}"
    counts = dict.fromkeys(keys, 0)
    for admitted in results:
        assert admitted is not None
        for position, allowed in enumerate(admitted):
            counts[keys[position // REQUESTS_PER_KEY_PER_THREAD]] += allowed
    return counts, elapsed


def test_concurrent_requests_never_exceed_limit(evidence, starter):
    starter_counts, _ = _hammer(starter.load("ratelimit"))
    counts, _ = _hammer(ratelimit)
    excess = sum(max(0, count - LIMIT) for count in counts.values())
    evidence.metric(
        "admitted_over_limit",
        excess,
        unit="requests",
        limit=0,
        starter=sum(max(0, count - LIMIT) for count in starter_counts.values()),
        label=f"requests over the limit, {THREADS} threads on {KEYS} keys",
    )
    over = {key: count for key, count in counts.items() if count > LIMIT}
    assert len(over) == 0, (
        f"{excess} requests over the limit got through: with {THREADS} threads sending "
        f"{THREADS * REQUESTS_PER_KEY_PER_THREAD} requests per key at the same instant, "
        f"{len(over)} of {KEYS} keys had more than {LIMIT} admitted (worst "
        f"{max(over.values())})"
    )
    under = {key: count for key, count in counts.items() if count < LIMIT}
    assert len(under) == 0, (
        f"{len(under)} of {KEYS} keys had fewer than {LIMIT} of "
        f"{THREADS * REQUESTS_PER_KEY_PER_THREAD} requests admitted (lowest "
        f"{min(under.values())})"
    )
