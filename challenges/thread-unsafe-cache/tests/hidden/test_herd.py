"""Thundering herd: many threads miss the same pairs at once; each pair must be fetched once.

The provider is the judge's: it counts every fetch and holds them all at a gate until every
caller is inside ``get`` and the others have had time to pile up behind the first fetch. The herd
comes twice: first for pairs never cached (a deploy), then for the same pairs once their TTL has
passed (the top of every minute), by which time the provider has republished them: the callers
that waited must get the rate that fetch brought, not the expired one.
"""

from __future__ import annotations

from faultline_harness.judge import HostClient
from rates_driver import (
    CORRECTED,
    NOW,
    PAIRS,
    Outcome,
    Rates,
    describe_wrong,
    done_with,
    wait_until,
)

HERD_PAIRS = PAIRS[:4]
THREADS_PER_PAIR = 5  # 20 request threads at once (MAX_CALLERS: the pids limit)
SETTLE_SECONDS = 0.15  # after the first fetch starts, time for every caller to pile up
TTL_SECONDS = 60.0
HERDS = 2  # uncached, then expired


def _crowd(rates: Rates) -> list[Outcome]:
    """20 concurrent lookups of the herd's pairs while the provider is slow."""
    total = len(HERD_PAIRS) * THREADS_PER_PAIR
    arrived, calls = rates.arrived(), rates.provider.total_calls
    rates.provider.gate.clear()

    def hold_then_open() -> None:
        # Hold the provider until every caller is inside get() and a fetch has started, then
        # give the others time to pile up behind it (or to start fetches of their own).
        wait_until(lambda: rates.arrived() - arrived == total, 5.0)
        wait_until(lambda: rates.provider.total_calls - calls >= 1, 5.0)
        wait_until(lambda: rates.provider.total_calls - calls >= total, SETTLE_SECONDS)

    return rates.crowd(HERD_PAIRS, THREADS_PER_PAIR, hold_then_open)


def _herd(host: HostClient) -> tuple[Rates, list[str], list[int], int]:
    """The two herds; returns the cache, what went wrong, the fetches of each herd, and the
    lookups of one herd."""
    rates = Rates(host, held=HERD_PAIRS, ttl_seconds=TTL_SECONDS)
    problems = describe_wrong(_crowd(rates))
    fetches = [rates.provider.total_calls]
    if not any("still waiting" in problem for problem in problems):
        # The TTL passes, and the provider has republished the rates meanwhile.
        rates.clock.set(NOW + TTL_SECONDS + 1.0)
        rates.provider.rates = CORRECTED
        expired = _crowd(rates)
        problems += [
            f"once the rates expired: {problem}"
            for problem in describe_wrong(expired, rates=CORRECTED)
        ]
        fetches.append(rates.provider.total_calls - fetches[0])
    return rates, problems, fetches, len(HERD_PAIRS) * THREADS_PER_PAIR


def test_each_pair_fetched_once_under_a_herd(evidence, candidate, starter):
    _, _, starter_fetches, _ = _herd(starter)
    starter_calls = sum(starter_fetches)
    done_with(starter)
    rates, problems, fetches, total = _herd(candidate)
    calls = sum(fetches)
    limit = HERDS * len(HERD_PAIRS)
    evidence.metric(
        "provider_fetches",
        calls,
        unit="fetches",
        limit=limit,
        starter=starter_calls,
        label=(
            f"provider fetches for {total} concurrent lookups of {len(HERD_PAIRS)} pairs, "
            "missing and then expired"
        ),
    )
    if starter_calls <= limit:
        evidence.suspect(
            f"fetched-once-per-pair: the starter fetched only {starter_calls} times for "
            f"{HERDS} herds of {total} concurrent lookups in this run (its stampede shows more "
            f"than {limit}); the measurement is not trusted"
        )
    wrong = "; ".join(problems[:4])
    assert not problems, (
        f"{len(problems)} of {HERDS * total} concurrent lookups went wrong: {wrong}"
    )
    per_pair = ", ".join(f"{pair} x{rates.provider.calls_of(pair)}" for pair in HERD_PAIRS)
    assert calls <= limit, (
        f"the provider was called {fetches[0]} times for {total} concurrent lookups of "
        f"{len(HERD_PAIRS)} uncached pairs and {fetches[-1]} times once they had expired "
        f"({per_pair} in all); each pair should be fetched once per herd and shared (limit "
        f"{len(HERD_PAIRS)} a herd, starter {starter_calls} in all)"
    )
    assert fetches == [len(HERD_PAIRS)] * HERDS, (
        f"only {fetches[0]} and {fetches[-1]} fetches for {len(HERD_PAIRS)} pairs, missing and "
        f"then expired ({per_pair})"
    )
