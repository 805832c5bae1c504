"""Memory per key: a key that keeps using its quota must not make the limiter grow."""

from __future__ import annotations

import gc
import tracemalloc

import ratelimit
from hidden_support import EPOCH, LIMIT, new_limiter

KEY = "key-steady"
STEP = 0.625  # 96 requests a minute, just under the limit: every one is admitted
WARMUP = 200  # fills the window (125 s of traffic)
REQUESTS = 24_000  # about four hours of traffic
LIMIT_MB = 0.1


class _Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now + 0.0  # a new float object per call, as time.monotonic() returns


def _growth_mb(module) -> tuple[float, int]:
    """Traced memory growth over ``REQUESTS`` requests after a warm-up, and requests admitted."""
    clock = _Clock()
    limiter = new_limiter(module, clock)

    def feed(requests: int) -> int:
        admitted = 0
        for _ in range(requests):
            clock.now += STEP
            admitted += limiter.hit(KEY).allowed
        return admitted

    admitted = feed(WARMUP)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        admitted += feed(REQUESTS)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / (1024 * 1024), admitted


def test_memory_per_key_stays_bounded(evidence, starter):
    starter_mb, _ = _growth_mb(starter.load("ratelimit"))
    gc.collect()
    growth_mb, admitted = _growth_mb(ratelimit)
    total = WARMUP + REQUESTS
    evidence.metric(
        "memory_growth",
        growth_mb,
        unit="MB",
        limit=LIMIT_MB,
        starter=starter_mb,
        label=f"memory growth over {REQUESTS:,} requests from one key",
    )
    assert admitted == total, (
        f"{total - admitted:,} of {total:,} requests were refused although the key sent "
        f"{60 / STEP:.0f} a minute (limit {LIMIT})"
    )
    assert growth_mb <= LIMIT_MB, (
        f"memory grew {growth_mb:.2f} MB over {REQUESTS:,} requests from one key, about "
        f"{REQUESTS * STEP / 3600:.0f} hours of traffic (limit {LIMIT_MB:g} MB; starter "
        f"{starter_mb:.2f} MB): only the {LIMIT} most recent requests can still count"
    )
