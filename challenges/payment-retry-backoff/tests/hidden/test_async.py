"""Check: async charges back off with an awaited sleep, so the event loop keeps serving."""

from __future__ import annotations

import asyncio
import functools

import pytest
from gateway import Charge, RateLimited, ServiceUnavailable
from hidden_support import AsyncProvider, AsyncSleeps, Sleeps, fixed, measure_loop_lag, ok_body

BASE_DELAY = 0.2  # seconds; real waits in the responsiveness part
# The loop may be late by at most this share of the base delay. Waiting with a blocking
# sleep stalls it for at least 0.3 s per charge (two jittered waits), all charges in a row.
LAG_RATIO = 0.5
CONCURRENT = 3
# Best of a few rounds: a blocking wait stalls the loop in every round, while a burst of load
# from outside the sandbox can only make one round look worse than it is.
ROUNDS = 3


def _awaited_sleep_problems(module) -> list[str]:
    """With both sleeps injected, an async function must only use the awaited one."""
    sync_sleep, async_sleep = Sleeps(), AsyncSleeps()
    provider = AsyncProvider([ServiceUnavailable(), RateLimited(), ok_body("ch_async")])
    post = module.retry(
        attempts=4, base_delay=0.5, sleep=sync_sleep, async_sleep=async_sleep, random=fixed(0.5)
    )(provider.post)
    body = asyncio.run(asyncio.wait_for(post("/v1/charges", {"amount": 4200}), 10))
    problems = []
    if body != ok_body("ch_async") or provider.count != 3:
        problems.append(f"returned {body!r} after {provider.count} calls (expected 3)")
    if sync_sleep.waits:
        problems.append(
            f"the blocking sleep was called {len(sync_sleep.waits)} times from a coroutine"
        )
    if len(async_sleep.waits) != 2:
        problems.append(f"the awaited sleep was used {len(async_sleep.waits)} times, expected 2")
    return problems


def _providers() -> list[AsyncProvider]:
    """One provider per charge: two 503s, then the charge goes through."""
    return [
        AsyncProvider([ServiceUnavailable(), ServiceUnavailable(), ok_body(f"ch_{n}")])
        for n in range(CONCURRENT)
    ]


def test_async_retries_do_not_block_the_event_loop(evidence, starter):
    import payments
    import retry

    original = starter.load("retry")
    sleep_problems = _awaited_sleep_problems(retry)
    evidence.metric(
        "blocking_sleep_problems",
        len(sleep_problems),
        limit=0,
        starter=len(_awaited_sleep_problems(original)),
        label="problems with how an async function waits between attempts",
    )

    # Real waits, default sleeps: three charges, each retried twice, with a heartbeat.
    options = {"attempts": 3, "base_delay": BASE_DELAY, "max_delay": 2 * BASE_DELAY}

    def starter_charges() -> list:
        # What the starter's AsyncPaymentClient does: the starter's retry around the transport.
        return [
            functools.partial(original.retry(**options)(p.post), "/v1/charges", {"amount": 4200})
            for p in _providers()
        ]

    def candidate_charges() -> list:
        return [
            functools.partial(payments.AsyncPaymentClient(p, **options).charge, 4200, "tok_visa")
            for p in _providers()
        ]

    before = asyncio.run(measure_loop_lag(starter_charges()))
    limit = LAG_RATIO * BASE_DELAY
    rounds = []
    for _ in range(ROUNDS):
        rounds.append(asyncio.run(measure_loop_lag(candidate_charges())))
        if rounds[-1].max_lag <= limit:
            break
    after = min(rounds, key=lambda run: run.max_lag)
    evidence.metric(
        "max_loop_lag_ms",
        after.max_lag * 1000,
        unit="ms",
        limit=limit * 1000,
        starter=before.max_lag * 1000,
        label=f"worst event-loop lag while {CONCURRENT} async charges backed off",
    )
    problems = list(sleep_problems)
    if after.max_lag > limit:
        problems.append(
            f"the event loop stalled {after.max_lag * 1000:.0f} ms while {CONCURRENT} charges "
            f"backed off (limit {limit * 1000:.0f} ms: {LAG_RATIO:.0%} of the "
            f"{BASE_DELAY * 1000:.0f} ms base delay; starter {before.max_lag * 1000:.0f} ms)"
        )
    failed = [r for r in after.results if not isinstance(r, Charge)]
    if failed:
        problems.append(f"{len(failed)} of {CONCURRENT} charges failed: {failed[0]!r:.200}")
    if problems:
        pytest.fail("; ".join(problems))
