"""Leak check: memory must track the retention window, not every event ever seen."""

from __future__ import annotations

import gc
import tracemalloc
from types import ModuleType

from events import WebhookEvent

RETENTION_SECONDS = 60.0
SECONDS_PER_EVENT = 1.0  # about 60 ids are inside the window at any time
WARMUP_EVENTS = 10_000
STREAM_EVENTS = 100_000
LIMIT_MB = 2.0
PAYLOAD = {"amount": 1250, "currency": "EUR"}


class FakeClock:
    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _feed(dedup, clock: FakeClock, start: int, count: int) -> int:
    processed = 0
    for number in range(start, start + count):
        clock.now += SECONDS_PER_EVENT
        if dedup.process(WebhookEvent(f"evt_{number:024x}", "charge.succeeded", PAYLOAD)):
            processed += 1
    return processed


def _growth_mb(module: ModuleType) -> tuple[float, int]:
    """Net traced memory growth over the stream, after a warm-up, and events processed."""
    handled = 0

    def handler(event: WebhookEvent) -> None:
        nonlocal handled
        handled += 1

    clock = FakeClock()
    dedup = module.WebhookDeduplicator(handler, retention_seconds=RETENTION_SECONDS, clock=clock)
    gc.collect()
    tracemalloc.start()
    try:
        _feed(dedup, clock, 0, WARMUP_EVENTS)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        processed = _feed(dedup, clock, WARMUP_EVENTS, STREAM_EVENTS)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert handled == WARMUP_EVENTS + STREAM_EVENTS == processed + WARMUP_EVENTS, (
        f"the handler ran {handled} times for {WARMUP_EVENTS + STREAM_EVENTS} distinct events"
    )
    return (after - before) / (1024 * 1024), processed


def test_memory_growth_is_bounded(evidence, starter):
    starter_mb, _ = _growth_mb(starter.load("webhooks"))
    gc.collect()

    import webhooks

    growth_mb, _ = _growth_mb(webhooks)
    evidence.metric(
        "memory_growth",
        growth_mb,
        unit="MB",
        limit=LIMIT_MB,
        starter=starter_mb,
        label=f"memory growth over {STREAM_EVENTS:,} unique events",
    )
    assert growth_mb <= LIMIT_MB, (
        f"memory grew {growth_mb:.1f} MB over {STREAM_EVENTS:,} unique events "
        f"(limit {LIMIT_MB:g} MB; starter {starter_mb:.1f} MB); only about "
        f"{RETENTION_SECONDS / SECONDS_PER_EVENT:.0f} of them were inside the retention window"
    )
