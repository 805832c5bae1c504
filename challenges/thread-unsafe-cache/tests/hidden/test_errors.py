"""A failing fetch: every caller waiting on it gets the error, and the failure is not cached."""

from __future__ import annotations

import time
from types import ModuleType

from hidden_support import (
    PAIRS,
    RATES,
    FakeProvider,
    RatesUnavailable,
    crowd_get,
    describe_wrong,
    new_cache,
    tiny_switch_interval,
    wait_until,
)

DOWN_PAIR, UP_PAIR = PAIRS[0], PAIRS[1]
THREADS_PER_PAIR = 8
SETTLE_SECONDS = 0.1


def _outage(module: ModuleType) -> list[str]:
    provider = FakeProvider(gated=True, failing={DOWN_PAIR})
    cache = new_cache(module, provider)
    total = 2 * THREADS_PER_PAIR

    def hold_then_open(arrived) -> None:
        wait_until(lambda: arrived() == total, 5.0)
        wait_until(lambda: provider.total_calls >= 1, 5.0)
        time.sleep(SETTLE_SECONDS)
        provider.gate.set()

    try:
        with tiny_switch_interval():
            crowd = crowd_get(cache.get, [DOWN_PAIR, UP_PAIR], THREADS_PER_PAIR, hold_then_open)
    finally:
        provider.gate.set()
    if crowd.stuck:
        return [f"{crowd.stuck} of {total} callers were still waiting 10 s after the fetch ended"]
    problems = describe_wrong(
        [o for o in crowd.outcomes if o.pair == DOWN_PAIR], expected_error=RatesUnavailable
    )
    problems += describe_wrong([o for o in crowd.outcomes if o.pair == UP_PAIR])

    # The provider recovers: the failure must not have been cached.
    provider.failing.clear()
    calls_before = provider.calls.get(DOWN_PAIR, 0)
    try:
        rate = cache.get(DOWN_PAIR)
    except Exception as exc:
        problems.append(
            f"after the provider recovered, get({DOWN_PAIR!r}) still raised "
            f"{type(exc).__name__}: {exc}"
        )
    else:
        if rate != RATES[DOWN_PAIR]:
            problems.append(f"after recovery get({DOWN_PAIR!r}) returned {rate!r}")
        if provider.calls.get(DOWN_PAIR, 0) != calls_before + 1:
            problems.append(f"after recovery get({DOWN_PAIR!r}) did not fetch the pair again")
    # The pair that succeeded during the outage stays cached.
    calls_before = provider.calls.get(UP_PAIR, 0)
    try:
        cache.get(UP_PAIR)
    except Exception as exc:
        problems.append(f"get({UP_PAIR!r}) raised {type(exc).__name__}: {exc}")
    if provider.calls.get(UP_PAIR, 0) != calls_before:
        problems.append(f"{UP_PAIR}, fetched successfully during the outage, was not cached")
    return problems


def test_fetch_errors_reach_every_waiter_and_are_not_cached(evidence, starter):
    starter_problems = _outage(starter.load("rate_cache"))

    import rate_cache

    problems = _outage(rate_cache)
    evidence.metric(
        "callers_wrong",
        len(problems),
        unit="problems",
        limit=0,
        starter=len(starter_problems),
        label=f"problems with {THREADS_PER_PAIR} callers of a failing pair and of a healthy one",
    )
    assert not problems, (
        f"while the provider failed for {DOWN_PAIR} ({THREADS_PER_PAIR} callers waiting on it, "
        f"{THREADS_PER_PAIR} on {UP_PAIR}): " + "; ".join(problems[:4])
    )
