"""The production symptom in miniature: memory under a long stream of unique events."""

from __future__ import annotations

import gc
import tracemalloc

import webhooks
from events import WebhookEvent


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_memory_stays_flat_over_many_unique_events():
    clock = FakeClock()
    dedup = webhooks.WebhookDeduplicator(lambda event: None, retention_seconds=60, clock=clock)

    def feed(start: int, count: int) -> None:
        for number in range(start, start + count):
            clock.now += 0.5  # two deliveries a second: about 120 inside the window
            dedup.process(WebhookEvent(f"evt_{number:024x}", "charge.succeeded", {}))

    tracemalloc.start()
    try:
        feed(0, 5_000)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        feed(5_000, 50_000)  # about 7 hours of traffic
        gc.collect()
        grown_mb = (tracemalloc.get_traced_memory()[0] - before) / (1024 * 1024)
    finally:
        tracemalloc.stop()
    assert grown_mb < 1.0, f"memory grew {grown_mb:.1f} MB over 50,000 unique events"
