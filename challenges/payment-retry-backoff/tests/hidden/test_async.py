"""Check: async charges back off with an awaited sleep, so the event loop keeps serving.

Both parts are measured from the judge. First, with both sleeps the judge's, which one the
candidate's async wrapper used. Then three async charges back off for real on the host's event
loop (the candidate's loop) with the judge's awaitable sleep, which answers only once the wait
has passed, while the judge sends no-op requests through that loop (``ping_loop``) and times
their round trips: a blocking wait holds up every one of them. The starter is measured the same
way in this run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
from faultline_harness.judge import HostFailure, HostTimeout, RemoteError
from retry_driver import Bench, Draws, Provider, Sleeps, fixed, ok_body

BASE_DELAY = 0.2  # seconds; real waits in the responsiveness part
# The loop may be late by at most this share of the base delay. Waiting with a blocking
# sleep stalls it for at least 0.3 s per charge (two jittered waits), all charges in a row.
LAG_RATIO = 0.5
CONCURRENT = 3
# Best of a few rounds: a blocking wait stalls the loop in every round, while a burst of load
# from outside the sandbox can only make one round look worse than it is.
ROUNDS = 3
PING_GAP = 0.004  # seconds between two requests through the loop
ROUND_SECONDS = 10.0  # a round whose charges are not done by then has hung
PING_SECONDS = 5.0


def _charge_async(bench: Bench, outcomes: list, attempts: int, sync_sleep: Sleeps):
    """An async charge through ``retry(attempts=...)`` with both sleeps the judge's: how it
    settled, the provider, and the awaited sleep."""
    async_sleep = Sleeps(bench.host, asynchronous=True)
    provider = Provider(bench, outcomes, asynchronous=True)
    post = bench.retry.retry(
        attempts=attempts,
        base_delay=0.5,
        sleep=sync_sleep.callback,
        async_sleep=async_sleep.callback,
        random=Draws(bench.host, fixed(0.5)).callback,
    )(provider.post)
    return bench.call_async(post, "/v1/charges", {"amount": 4200}), provider, async_sleep


def _awaited_sleep_problems(bench: Bench) -> list[str]:
    """With both sleeps injected, an async function must only use the awaited one, and give up
    after ``attempts`` calls as a plain one does."""
    sync_sleep = Sleeps(bench.host)
    outcomes = [bench.error("ServiceUnavailable"), bench.error("RateLimited"), ok_body("ch_async")]
    settled, provider, async_sleep = _charge_async(bench, outcomes, 4, sync_sleep)
    problems = []
    if settled.result != ok_body("ch_async") or provider.count != 3:
        ended = "returned the answer" if settled.result == ok_body("ch_async") else "did not"
        problems.append(f"{provider.count} calls (expected 3) and it {ended}")
    if sync_sleep.waits:
        problems.append(
            f"the blocking sleep was called {len(sync_sleep.waits)} times from a coroutine"
        )
    if len(async_sleep.waits) != 2:
        problems.append(f"the awaited sleep was used {len(async_sleep.waits)} times, expected 2")

    outcomes = [*(bench.error("ServiceUnavailable") for _ in range(3)), ok_body("ch_late")]
    settled, provider, _ = _charge_async(bench, outcomes, 3, sync_sleep)
    if provider.count != 3 or settled.result == ok_body("ch_late"):
        problems.append(
            f"with attempts=3 and three 503s, the async charge was called {provider.count} "
            "times (expected 3, then the last 503 raised)"
        )
    return problems


@dataclass
class LagRun:
    max_lag: float  # seconds: the slowest request through the loop
    charged: int = 0  # charges that came back as the provider's charge
    hung: bool = False
    lags: list[float] = field(default_factory=list)


def _ping(host) -> float:
    try:
        return host.ping_loop(timeout=PING_SECONDS)
    except HostTimeout:
        return PING_SECONDS


def _lag_round(bench: Bench, payments) -> LagRun:
    """Three concurrent charges, each two 503s then a success, with real waits; meanwhile
    requests through the host's loop, timed here."""
    host = bench.host
    sleep = Sleeps(host, asynchronous=True, real=True)
    draws = Draws(host, fixed(0.5))
    options = {"attempts": 3, "base_delay": BASE_DELAY, "max_delay": 2 * BASE_DELAY}
    clients = []
    for number in range(CONCURRENT):
        outage = [bench.error("ServiceUnavailable"), bench.error("ServiceUnavailable")]
        provider = Provider(bench, [*outage, ok_body(f"ch_{number}")], asynchronous=True)
        clients.append(
            payments.AsyncPaymentClient(
                bench.transport(provider.post),
                sleep=sleep.callback,
                random=draws.callback,
                **options,
            )
        )
    for _ in range(3):  # the loop is running and answering before the charges start
        _ping(host)
    charges = [client.charge.start(4200, "tok_visa") for client in clients]
    lags: list[float] = []
    deadline = time.perf_counter() + ROUND_SECONDS
    while not all(charge.done() for charge in charges):
        if time.perf_counter() > deadline:
            return LagRun(max(lags, default=0.0), hung=True, lags=lags)
        lags.append(_ping(host))
        time.sleep(PING_GAP)
    run = LagRun(max(lags, default=0.0), lags=lags)
    for number, charge in enumerate(charges):
        try:
            result = charge.result(PING_SECONDS)
        except (RemoteError, HostFailure):
            continue
        try:
            charged = result.id.get() == f"ch_{number}"
        except (AttributeError, RemoteError):
            charged = False
        run.charged += charged
    return run


def test_async_retries_do_not_block_the_event_loop(evidence, candidate, starter):
    bench_before, bench = Bench(starter), Bench(candidate)
    sleep_problems = _awaited_sleep_problems(bench)
    sleep_problems_before = _awaited_sleep_problems(bench_before)
    evidence.metric(
        "blocking_sleep_problems",
        len(sleep_problems),
        limit=0,
        starter=len(sleep_problems_before),
        label="problems with how an async function waits between attempts",
    )

    before = _lag_round(bench_before, starter.module("payments"))
    payments = candidate.module("payments")
    limit = LAG_RATIO * BASE_DELAY
    rounds = []
    for _ in range(ROUNDS):
        rounds.append(_lag_round(bench, payments))
        if rounds[-1].max_lag <= limit or rounds[-1].hung:
            break
    after = min(rounds, key=lambda run: run.max_lag)
    evidence.metric(
        "max_loop_lag_ms",
        after.max_lag * 1000,
        unit="ms",
        limit=limit * 1000,
        starter=before.max_lag * 1000,
        label=f"slowest request through the event loop while {CONCURRENT} async charges backed off",
    )
    if not sleep_problems_before or before.max_lag <= limit:
        evidence.suspect(
            "async-loop-not-blocked: the starter's async retries did not block its event loop "
            f"in this run (slowest request {before.max_lag * 1000:.0f} ms); the measurement is "
            "not trusted"
        )
    problems = [f"async function with both sleeps injected: {p}" for p in sleep_problems]
    if after.hung:
        problems.append(f"the {CONCURRENT} async charges were not done after {ROUND_SECONDS:g} s")
    if after.max_lag > limit:
        problems.append(
            f"the event loop stalled {after.max_lag * 1000:.0f} ms while {CONCURRENT} charges "
            f"backed off (limit {limit * 1000:.0f} ms: {LAG_RATIO:.0%} of the "
            f"{BASE_DELAY * 1000:.0f} ms base delay; starter {before.max_lag * 1000:.0f} ms)"
        )
    if not after.hung and after.charged != CONCURRENT:
        problems.append(
            f"{CONCURRENT - after.charged} of {CONCURRENT} charges did not return the charge"
        )
    if problems:
        pytest.fail("; ".join(problems))
