"""Different pairs must be fetched side by side: a slow fetch of one pair holds up no other.

Counted, not timed: the judge's provider holds every fetch at a gate, and counts how many
different pairs are being fetched at the same time while 80 callers want 40 uncached pairs (the
brief's "about 40 pairs").
Meanwhile a pair that is already cached is looked up: it must be answered while the fetches of
the other pairs are still held.
"""

from __future__ import annotations

from faultline_harness.judge import HostClient
from rates_driver import (
    JOIN_SECONDS,
    PAIRS,
    Outcome,
    Rates,
    collect,
    describe_wrong,
    done_with,
    wait_until,
)

SPREAD_PAIRS = PAIRS[:40]  # every pair the service quotes, uncached at once
THREADS_PER_PAIR = 2
CACHED_PAIR = PAIRS[40]
CACHED_LOOKUPS = 3
GRACE_SECONDS = 2.0  # after every caller is inside get(), for the fetches to reach the provider


def _spread(host: HostClient) -> tuple[int, int, list[str], int]:
    """Returns (most pairs fetched at once, cached lookups answered while fetches were held,
    problems, fetches)."""
    rates = Rates(host, held=SPREAD_PAIRS)
    problems = describe_wrong([rates.lookup(CACHED_PAIR)])
    total = len(SPREAD_PAIRS) * THREADS_PER_PAIR
    cached: list[Outcome] = []
    answered_while_held = 0

    def while_fetches_are_held() -> None:
        nonlocal answered_while_held
        wait_until(lambda: rates.arrived() == total, 5.0)
        answers = [rates.start_get(CACHED_PAIR) for _ in range(CACHED_LOOKUPS)]
        wait_until(
            lambda: (
                rates.provider.most_pairs_at_once >= len(SPREAD_PAIRS)
                and all(answer.done() for answer in answers)
            ),
            GRACE_SECONDS,
        )
        answered_while_held = sum(answer.done() for answer in answers)
        cached.extend(Outcome(CACHED_PAIR) for _ in answers)
        cached_answers.extend(answers)

    cached_answers: list = []
    outcomes = rates.crowd(SPREAD_PAIRS, THREADS_PER_PAIR, while_fetches_are_held)
    stuck = any(outcome.stuck for outcome in outcomes)
    collect(cached, cached_answers, seconds=1.0 if stuck else JOIN_SECONDS)
    problems += describe_wrong(outcomes + cached)
    return (
        rates.provider.most_pairs_at_once,
        answered_while_held,
        problems,
        rates.provider.total_calls,
    )


def test_different_pairs_are_fetched_concurrently(evidence, candidate, starter):
    starter_at_once, starter_answered, _, _ = _spread(starter)
    done_with(starter)
    at_once, answered, problems, calls = _spread(candidate)
    evidence.metric(
        "pairs_fetched_at_once",
        at_once,
        unit="pairs",
        limit=len(SPREAD_PAIRS),
        starter=starter_at_once,
        better="higher",
        label=(
            f"different pairs being fetched at the same time, of {len(SPREAD_PAIRS)} uncached "
            f"pairs requested together while the provider is slow"
        ),
    )
    evidence.metric(
        "cached_lookups_answered",
        answered,
        unit="lookups",
        limit=CACHED_LOOKUPS,
        starter=starter_answered,
        better="higher",
        label="lookups of an already cached pair answered while other pairs were being fetched",
    )
    assert not problems, "concurrent lookups went wrong: " + "; ".join(problems[:4])
    assert at_once >= len(SPREAD_PAIRS), (
        f"of {len(SPREAD_PAIRS)} different uncached pairs requested together by "
        f"{len(SPREAD_PAIRS) * THREADS_PER_PAIR} callers, at most {at_once} were being fetched "
        f"at the same time while the provider was slow (starter {starter_at_once}): "
        "a slow fetch of one pair holds up lookups of other pairs"
    )
    assert answered == CACHED_LOOKUPS, (
        f"only {answered} of {CACHED_LOOKUPS} lookups of an already cached pair were answered "
        f"while fetches of other pairs were in progress (starter {starter_answered}): "
        "a slow fetch holds up lookups of other pairs"
    )
    assert calls >= len(SPREAD_PAIRS), f"only {calls} fetches for {len(SPREAD_PAIRS)} pairs"
