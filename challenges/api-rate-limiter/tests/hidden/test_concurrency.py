"""Concurrent requests: one limiter is shared by all request threads of a worker.

The clock stands still throughout. Twelve request threads of the host first each send the very
first request of every key (new keys, so whatever per-key state the limiter creates is created
while all twelve ask for it at once); then every key is brought to within ``HEADROOM`` requests
of its limit, one request at a time; then the twelve threads each send one more request for
every key, so each key's last admissions are contested by all twelve at once. In both contested
rounds the threads meet at a barrier in the host before each key. Every key must end with
exactly its limit admitted: an admission lost while the key's state was being created shows as
requests over the limit at the end. The host runs as a loaded server does while contested:
threads switch every microsecond, and request threads give up the interpreter at every return
from a built-in call (a profile hook the host sets again for every request, so module code
cannot switch it off). A decision taken in two steps, check then record (or get-or-create the
key's state, then use it), is then interleaved on every key instead of once in a blue moon; a
correct limiter is unaffected, as its answers do not depend on the interleaving. The judge
counts the admitted requests from the answers.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from faultline_harness.judge import Call, HostClient, RemoteError
from hidden_support import EPOCH, LIMIT, WINDOW, error_name, run_tag

THREADS = 12
KEYS = 30
HEADROOM = 2  # admissions a key has left when the threads arrive together the second time
# For the uncontested filling in between: CPython's switch interval, and no forced preemption.
QUIET_SWITCH_INTERVAL = 0.005
QUIET_PREEMPT_EVERY = 0
JOIN_TIMEOUT = 30.0


def _answers_or_raise(answers: list | None, expected: int) -> list:
    # Explicit raises: an assert would print the answers, and with them the candidate's text.
    if answers is None or len(answers) != expected:
        raise AssertionError("a request thread got no answers")
    failed = next((a for a in answers if isinstance(a, RemoteError)), None)
    if failed is not None:
        raise AssertionError(f"RateLimiter.hit raised {error_name(failed)}")
    return answers


def _contest(host: HostClient, limiter: Any, keys: list[str]) -> list[list]:
    """``THREADS`` host request threads each send one request for every key, in step: before
    each key they all wait at a barrier in the host, then ask for it at the same moment. The
    answers (``allowed``) of each thread, in key order."""
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
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, (
        f"{stuck} of {THREADS} request threads were still running after {JOIN_TIMEOUT:g} s "
        "(deadlock?)"
    )
    if errors:
        raise AssertionError(f"a request thread failed: {type(errors[0]).__name__}")
    answered: list[list] = []
    for answers in results:
        if any(isinstance(a, RemoteError) and "Barrier" in a.type_name for a in answers or []):
            raise AssertionError("the request threads fell out of step in the host")
        answered.append(_answers_or_raise(answers, len(keys)))
    return answered


def _hammer(host: HostClient, tag: str) -> tuple[dict[str, int], float]:
    """Admitted requests per key, and the seconds the contested rounds took."""
    try:
        limiter = host.module("ratelimit").RateLimiter(
            limit=LIMIT, window_seconds=WINDOW, clock=host.cell(EPOCH)
        )
    except RemoteError as error:
        raise AssertionError(f"RateLimiter(...) raised {error_name(error)}") from None
    allowed = host.module("builtins").getattr
    keys = [f"key-{number:02d}{tag}" for number in range(KEYS)]
    counts = dict.fromkeys(keys, 0)

    def tally(answered: list[list]) -> None:
        for answers in answered:
            for key, answer in zip(keys, answers, strict=True):
                counts[key] += answer is True

    # Round 1: the first request of every key, contested by all threads (new keys).
    host.busy_server(preempt_every=1)
    began = time.perf_counter()
    tally(_contest(host, limiter, keys))
    elapsed = time.perf_counter() - began

    # Every key to within HEADROOM of its limit, one request at a time (no contention).
    host.busy_server(switch_interval=QUIET_SWITCH_INTERVAL, preempt_every=QUIET_PREEMPT_EVERY)
    filling = [key for key in keys for _ in range(LIMIT - HEADROOM - THREADS)]
    answers = host.batch(
        [Call(allowed, Call(limiter.hit, key), "allowed") for key in filling], chunk=4000
    )
    for key, answer in zip(filling, _answers_or_raise(answers, len(filling)), strict=True):
        counts[key] += answer is True

    # Round 2: each key's last admissions, contested by all threads.
    host.busy_server(preempt_every=1)
    began = time.perf_counter()
    tally(_contest(host, limiter, keys))
    return counts, elapsed + time.perf_counter() - began


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
        f"request for each key at the same instant (its first request, and again "
        f"{HEADROOM} short of its limit), {len(over)} of {KEYS} keys had more than {LIMIT} "
        f"admitted (worst {max(over.values())})"
    )
    under = {key: count for key, count in counts.items() if count < LIMIT}
    assert len(under) == 0, (
        f"{len(under)} of {KEYS} keys had fewer than {LIMIT} of "
        f"{LIMIT - HEADROOM + THREADS} requests admitted (lowest "
        f"{min(under.values())})"
    )
