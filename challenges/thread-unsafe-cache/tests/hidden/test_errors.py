"""A failing fetch: every caller waiting on it gets the error, and the failure is not cached.

The judge's provider holds both pairs' fetches at a gate until every caller is inside ``get``,
then fails one pair with ``ConnectionError`` (raised in the candidate's code as the builtin)
and answers the other.
"""

from __future__ import annotations

from faultline_harness.judge import HostClient
from rates_driver import PAIRS, Rates, describe_wrong, done_with, error_name, expected, wait_until

DOWN_PAIR, UP_PAIR = PAIRS[0], PAIRS[1]
THREADS_PER_PAIR = 8
SETTLE_SECONDS = 0.1


def _outage(host: HostClient) -> list[str]:
    rates = Rates(host, held=[DOWN_PAIR, UP_PAIR], failing=[DOWN_PAIR])
    provider = rates.provider
    total = 2 * THREADS_PER_PAIR

    def hold_then_open() -> None:
        wait_until(lambda: rates.arrived() == total, 5.0)
        wait_until(lambda: provider.total_calls >= 1, 5.0)
        wait_until(lambda: provider.total_calls >= total, SETTLE_SECONDS)

    outcomes = rates.crowd([DOWN_PAIR, UP_PAIR], THREADS_PER_PAIR, hold_then_open)
    problems = describe_wrong([o for o in outcomes if o.pair == DOWN_PAIR], failing=True)
    problems += describe_wrong([o for o in outcomes if o.pair == UP_PAIR])
    if any(outcome.stuck for outcome in outcomes):
        return problems

    # The provider recovers: the failure must not have been cached.
    provider.failing.clear()
    calls_before = provider.calls_of(DOWN_PAIR)
    after = rates.lookup(DOWN_PAIR)
    if after.error is not None:
        raised = error_name(after.error)
        problems.append(f"after the provider recovered, get({DOWN_PAIR!r}) still raised {raised}")
    else:
        if after.value != expected(DOWN_PAIR):
            problems.append(
                f"after recovery get({DOWN_PAIR!r}) returned something other than the rate"
            )
        if provider.calls_of(DOWN_PAIR) != calls_before + 1:
            problems.append(f"after recovery get({DOWN_PAIR!r}) did not fetch the pair again")
    # The pair that succeeded during the outage stays cached.
    calls_before = provider.calls_of(UP_PAIR)
    problems += describe_wrong([rates.lookup(UP_PAIR)])
    if provider.calls_of(UP_PAIR) != calls_before:
        problems.append(f"{UP_PAIR}, fetched successfully during the outage, was not cached")
    return problems


def test_fetch_errors_reach_every_waiter_and_are_not_cached(evidence, candidate, starter):
    starter_problems = _outage(starter)
    done_with(starter)
    problems = _outage(candidate)
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
