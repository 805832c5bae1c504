"""Thundering herd: many threads miss the same pairs at once; each pair must be fetched once.

The provider is the judge's: it counts every fetch and holds them all at a gate until every
caller is inside ``get`` and the others have had time to pile up behind the first fetch.
"""

from __future__ import annotations

from faultline_harness.judge import HostClient
from rates_driver import PAIRS, Rates, describe_wrong, done_with, wait_until

HERD_PAIRS = PAIRS[:4]
THREADS_PER_PAIR = 5  # 20 request threads at once (MAX_CALLERS: the pids limit)
SETTLE_SECONDS = 0.15  # after the first fetch starts, time for every caller to pile up


def _herd(host: HostClient) -> tuple[Rates, list[str], int]:
    """20 concurrent lookups of 4 uncached pairs while the provider is slow."""
    rates = Rates(host, held=HERD_PAIRS)
    total = len(HERD_PAIRS) * THREADS_PER_PAIR

    def hold_then_open() -> None:
        # Hold the provider until every caller is inside get() and a fetch has started, then
        # give the others time to pile up behind it (or to start fetches of their own).
        wait_until(lambda: rates.arrived() == total, 5.0)
        wait_until(lambda: rates.provider.total_calls >= 1, 5.0)
        wait_until(lambda: rates.provider.total_calls >= total, SETTLE_SECONDS)

    outcomes = rates.crowd(HERD_PAIRS, THREADS_PER_PAIR, hold_then_open)
    return rates, describe_wrong(outcomes), total


def test_each_pair_fetched_once_under_a_herd(evidence, candidate, starter):
    starter_rates, _, _ = _herd(starter)
    starter_calls = starter_rates.provider.total_calls
    done_with(starter)
    rates, problems, total = _herd(candidate)
    calls = rates.provider.total_calls
    evidence.metric(
        "provider_fetches",
        calls,
        unit="fetches",
        limit=len(HERD_PAIRS),
        starter=starter_calls,
        label=f"provider fetches for {total} concurrent lookups of {len(HERD_PAIRS)} missing pairs",
    )
    if starter_calls <= len(HERD_PAIRS):
        evidence.suspect(
            f"fetched-once-per-pair: the starter fetched only {starter_calls} times for "
            f"{total} concurrent lookups in this run (its stampede shows more than "
            f"{len(HERD_PAIRS)}); the measurement is not trusted"
        )
    wrong = "; ".join(problems[:4])
    assert not problems, f"{len(problems)} of {total} concurrent lookups went wrong: {wrong}"
    per_pair = ", ".join(f"{pair} x{rates.provider.calls_of(pair)}" for pair in HERD_PAIRS)
    assert calls <= len(HERD_PAIRS), (
        f"the provider was called {calls} times for {total} concurrent lookups of "
        f"{len(HERD_PAIRS)} uncached pairs ({per_pair}); each pair should be fetched once "
        f"and shared (limit {len(HERD_PAIRS)}, starter {starter_calls})"
    )
    assert calls == len(HERD_PAIRS), (
        f"only {calls} fetches for {len(HERD_PAIRS)} pairs ({per_pair})"
    )
