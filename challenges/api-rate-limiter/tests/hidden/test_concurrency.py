"""Concurrent requests: one limiter is shared by all request threads of a worker.

Twelve request threads of the host, started together, send requests for the same keys while
the clock stands still, so every key must end with exactly its limit admitted. The host runs as
a loaded server does: threads switch every microsecond, and request threads give up the
interpreter at every return from a built-in call (a profile hook the host sets again for every
request, so module code cannot switch it off). A decision taken in two steps, check then
record, is then interleaved on many requests instead of once in a blue moon; a correct limiter
is unaffected, as its answers do not depend on the interleaving. The judge counts the admitted
requests from the answers.
"""

from __future__ import annotations

import threading
import time

from faultline_harness.judge import Call, HostClient, RemoteError
from hidden_support import EPOCH, LIMIT, WINDOW, error_name, run_tag

THREADS = 12
KEYS = 30
REQUESTS_PER_KEY_PER_THREAD = 11  # 132 requests per key, all in the same instant
JOIN_TIMEOUT = 30.0


def _hammer(host: HostClient, tag: str) -> tuple[dict[str, int], float]:
    """Admitted requests per key, and the seconds it took."""
    host.busy_server(preempt_every=1)
    try:
        limiter = host.module("ratelimit").RateLimiter(
            limit=LIMIT, window_seconds=WINDOW, clock=host.cell(EPOCH)
        )
    except RemoteError as error:
        raise AssertionError(f"RateLimiter(...) raised {error_name(error)}") from None
    allowed = host.module("builtins").getattr
    keys = [f"key-{number:02d}{tag}" for number in range(KEYS)]
    order = [key for key in keys for _ in range(REQUESTS_PER_KEY_PER_THREAD)]
    calls = [Call(allowed, Call(limiter.hit, key), "allowed") for key in order]
    results: list[list | None] = [None] * THREADS
    errors: list[BaseException] = []
    together = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        """One host request thread: a batch of this thread's requests, evaluated in order."""
        try:
            together.wait(timeout=JOIN_TIMEOUT)
            results[index] = host.batch(calls, chunk=len(calls))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(index,), daemon=True) for index in range(THREADS)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.perf_counter() - began
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, (
        f"{stuck} of {THREADS} request threads were still running after {JOIN_TIMEOUT:g} s "
        "(deadlock?)"
    )
    # Explicit raises: an assert would print the answers, and with them the candidate's text.
    if errors:
        raise AssertionError(f"a request thread failed: {type(errors[0]).__name__}")
    counts = dict.fromkeys(keys, 0)
    for answers in results:
        if answers is None or len(answers) != len(calls):
            raise AssertionError("a request thread got no answers")
        failed = next((a for a in answers if isinstance(a, RemoteError)), None)
        if failed is not None:
            raise AssertionError(f"RateLimiter.hit raised {error_name(failed)}")
        for key, answer in zip(order, answers, strict=True):
            counts[key] += answer is True
    return counts, elapsed


def test_concurrent_requests_never_exceed_limit(evidence, candidate, starter, variant):
    tag = run_tag(variant)
    starter_counts, _ = _hammer(starter, tag)
    # Done with the baseline: its threads (and the judge's that answered its clock) go before
    # the candidate's start, well inside the sandbox's process limit.
    starter.close()
    counts, _ = _hammer(candidate, tag)
    excess = sum(max(0, count - LIMIT) for count in counts.values())
    starter_excess = sum(max(0, count - LIMIT) for count in starter_counts.values())
    evidence.metric(
        "admitted_over_limit",
        excess,
        unit="requests",
        limit=0,
        starter=starter_excess,
        label=f"requests over the limit, {THREADS} threads on {KEYS} keys",
    )
    if starter_excess == 0:
        evidence.suspect(
            "concurrent-limit: the starter's check-then-record race let no request over the "
            "limit in this run; the interleaving is not trusted"
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
