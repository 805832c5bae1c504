"""Thundering herd: many threads miss the same pairs at once; each pair must be fetched once."""

from __future__ import annotations

import time
from types import ModuleType

from hidden_support import (
    PAIRS,
    FakeProvider,
    crowd_get,
    describe_wrong,
    new_cache,
    tiny_switch_interval,
    wait_until,
)

HERD_PAIRS = PAIRS[:4]
THREADS_PER_PAIR = 8  # 32 request threads, as in one pod
SETTLE_SECONDS = 0.15  # after the first fetches start, time for every thread to pile up


def _herd(module: ModuleType) -> tuple[FakeProvider, list[str], int]:
    """32 threads ask for 4 uncached pairs while the provider is slow; returns fetch calls."""
    provider = FakeProvider(gated=True)
    cache = new_cache(module, provider)
    total = len(HERD_PAIRS) * THREADS_PER_PAIR

    def hold_then_open(arrived) -> None:
        # Hold the provider until every thread is inside get() and a fetch has started, then
        # give the other threads time to pile up behind it (or to start fetches of their own).
        wait_until(lambda: arrived() == total, 5.0)
        wait_until(lambda: provider.total_calls >= 1, 5.0)
        time.sleep(SETTLE_SECONDS)
        provider.gate.set()

    try:
        with tiny_switch_interval():
            crowd = crowd_get(cache.get, HERD_PAIRS, THREADS_PER_PAIR, hold_then_open)
    finally:
        provider.gate.set()
    problems = describe_wrong(crowd.outcomes)
    if crowd.stuck:
        problems.insert(0, f"{crowd.stuck} of {total} callers were still waiting after 10 s")
    return provider, problems, total


def test_each_pair_fetched_once_under_a_herd(evidence, starter):
    starter_provider, _, _ = _herd(starter.load("rate_cache"))

    import rate_cache

    provider, problems, total = _herd(rate_cache)
    calls = provider.total_calls
    evidence.metric(
        "provider_fetches",
        calls,
        unit="fetches",
        limit=len(HERD_PAIRS),
        starter=starter_provider.total_calls,
        label=f"provider fetches for {total} concurrent lookups of {len(HERD_PAIRS)} missing pairs",
    )
    wrong = "; ".join(problems[:4])
    assert not problems, f"{len(problems)} of {total} concurrent lookups went wrong: {wrong}"
    per_pair = ", ".join(f"{pair} x{provider.calls.get(pair, 0)}" for pair in HERD_PAIRS)
    assert calls <= len(HERD_PAIRS), (
        f"the provider was called {calls} times for {total} concurrent lookups of "
        f"{len(HERD_PAIRS)} uncached pairs ({per_pair}); each pair should be fetched once "
        f"and shared (limit {len(HERD_PAIRS)}, starter {starter_provider.total_calls})"
    )
    assert calls == len(HERD_PAIRS), (
        f"only {calls} fetches for {len(HERD_PAIRS)} pairs ({per_pair})"
    )
