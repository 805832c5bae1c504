"""Concurrent requests: one limiter is shared by all request threads of a worker.

Every key is first brought to within ``HEADROOM`` requests of its limit, one request at a time.
Then twelve request threads of the host each send one more request for every key while the clock
stands still, meeting at a barrier in the host before each key, so each key's last admissions
are contested by all twelve at once and every key must end with exactly its limit admitted. The
host runs as a loaded server does: threads switch every microsecond, and request threads give up
the interpreter at every return from a built-in call (a profile hook the host sets again for
every request, so module code cannot switch it off). A decision taken in two steps, check then
record, is then interleaved at the limit of every key instead of once in a blue moon; a correct
limiter is unaffected, as its answers do not depend on the interleaving. The judge counts the
admitted requests from the answers.
"""

from __future__ import annotations

import threading
import time

from faultline_harness.judge import Call, HostClient, RemoteError
from hidden_support import EPOCH, LIMIT, WINDOW, error_name, run_tag

THREADS = 12
KEYS = 30
HEADROOM = 2  # admissions a key has left when the threads arrive together
JOIN_TIMEOUT = 30.0


def _answers_or_raise(answers: list | None, expected: int) -> list:
    # Explicit raises: an assert would print the answers, and with them the candidate's text.
    if answers is None or len(answers) != expected:
        raise AssertionError("a request thread got no answers")
    failed = next((a for a in answers if isinstance(a, RemoteError)), None)
    if failed is not None:
        raise AssertionError(f"RateLimiter.hit raised {error_name(failed)}")
    return answers


def _hammer(host: HostClient, tag: str) -> tuple[dict[str, int], float]:
    """Admitted requests per key, and the seconds the contested part took."""
    try:
        limiter = host.module("ratelimit").RateLimiter(
            limit=LIMIT, window_seconds=WINDOW, clock=host.cell(EPOCH)
        )
    except RemoteError as error:
        raise AssertionError(f"RateLimiter(...) raised {error_name(error)}") from None
    allowed = host.module("builtins").getattr
    keys = [f"key-{number:02d}{tag}" for number in range(KEYS)]
    counts = dict.fromkeys(keys, 0)

    filling = [key for key in keys for _ in range(LIMIT - HEADROOM)]
    answers = host.batch(
        [Call(allowed, Call(limiter.hit, key), "allowed") for key in filling], chunk=4000
    )
    for key, answer in zip(filling, _answers_or_raise(answers, len(filling)), strict=True):
        counts[key] += answer is True

    host.busy_server(preempt_every=1)
    # Before each key, every thread waits at a barrier in the host: all twelve then ask for the
    # same key at the same moment, so its last admissions are contested every time.
    in_step = host.barrier(THREADS)
    allowed_of = host.module("operator").attrgetter("allowed")
    hit = limiter.hit.get()
    results: list[list | None] = [None] * THREADS
    errors: list[BaseException] = []
    together = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        """One host request thread: one request for every key, in step with the others."""
        try:
            together.wait(timeout=JOIN_TIMEOUT)
            results[index] = host.map(
                allowed_of,
                [(key,) for key in keys],
                wrap=hit,
                before=Call(in_step.wait, JOIN_TIMEOUT),
                chunk=len(keys),
            )
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
    if errors:
        raise AssertionError(f"a request thread failed: {type(errors[0]).__name__}")
    for answers in results:
        if any(isinstance(a, RemoteError) and "Barrier" in a.type_name for a in answers or []):
            raise AssertionError("the request threads fell out of step in the host")
        for key, answer in zip(keys, _answers_or_raise(answers, len(keys)), strict=True):
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
        f"{excess} requests over the limit got through: with {THREADS} threads sending a "
        f"request for each key at the same instant, {HEADROOM} short of its limit, "
        f"{len(over)} of {KEYS} keys had more than {LIMIT} admitted (worst "
        f"{max(over.values())})"
    )
    under = {key: count for key, count in counts.items() if count < LIMIT}
    assert len(under) == 0, (
        f"{len(under)} of {KEYS} keys had fewer than {LIMIT} of "
        f"{LIMIT - HEADROOM + THREADS} requests admitted (lowest "
        f"{min(under.values())})"
    )
