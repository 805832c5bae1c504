"""Different pairs must be fetched side by side: a slow fetch of one pair holds up no other."""

from __future__ import annotations

import time
from types import ModuleType

from hidden_support import PAIRS, FakeProvider, crowd_get, describe_wrong, new_cache

FETCH_SECONDS = 0.05
SPREAD_PAIRS = PAIRS[:10]
THREADS_PER_PAIR = 3
LIMIT_RATIO = 0.5  # of the time the fetches would take one after another


def _single_fetch_seconds(module: ModuleType) -> float:
    """One uncached lookup with the slow provider: the cost of one fetch, as measured here."""
    best = float("inf")
    for pair in SPREAD_PAIRS[:3]:
        cache = new_cache(module, FakeProvider(delay=FETCH_SECONDS))
        began = time.perf_counter()
        cache.get(pair)
        best = min(best, time.perf_counter() - began)
    return best


def _spread(module: ModuleType) -> tuple[float, list[str], int]:
    """30 threads ask for 10 different uncached pairs at once; returns the wall time."""
    provider = FakeProvider(delay=FETCH_SECONDS)
    cache = new_cache(module, provider)
    crowd = crowd_get(cache.get, SPREAD_PAIRS, THREADS_PER_PAIR)
    problems = describe_wrong(crowd.outcomes)
    if crowd.stuck:
        problems.insert(0, f"{crowd.stuck} callers were still waiting after 10 s")
    finished = max(outcome.finished_at for outcome in crowd.outcomes)
    return max(0.0, finished - crowd.started_at), problems, provider.total_calls


def test_different_pairs_are_fetched_concurrently(evidence, starter):
    starter_module = starter.load("rate_cache")
    one_fetch = _single_fetch_seconds(starter_module)
    starter_wall, _, _ = _spread(starter_module)
    serial = len(SPREAD_PAIRS) * one_fetch
    limit = LIMIT_RATIO * serial

    import rate_cache

    wall, problems, calls = _spread(rate_cache)
    evidence.metric(
        "wall_time",
        wall * 1000,
        unit="ms",
        limit=limit * 1000,
        starter=starter_wall * 1000,
        label=(
            f"wall time for {len(SPREAD_PAIRS)} different uncached pairs requested together, "
            f"each fetch {one_fetch * 1000:.0f} ms"
        ),
    )
    assert not problems, "concurrent lookups went wrong: " + "; ".join(problems[:4])
    assert wall <= limit, (
        f"{len(SPREAD_PAIRS)} different pairs requested together took {wall * 1000:.0f} ms, "
        f"{wall / one_fetch:.1f}x one {one_fetch * 1000:.0f} ms fetch (limit "
        f"{limit * 1000:.0f} ms, half of fetching them one after another; starter "
        f"{starter_wall * 1000:.0f} ms): "
        "a slow fetch of one pair holds up lookups of other pairs"
    )
    assert calls >= len(SPREAD_PAIRS), f"only {calls} fetches for {len(SPREAD_PAIRS)} pairs"
