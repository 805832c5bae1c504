"""Quick checks of the deduplicator's promises. Run them with the "Run tests" button."""

from __future__ import annotations

import webhooks
from events import WebhookEvent


class FakeClock:
    """A clock the test moves by hand, so no test has to sleep."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(retention: float = 900.0) -> tuple[webhooks.WebhookDeduplicator, FakeClock, list[str]]:
    clock = FakeClock()
    handled: list[str] = []
    dedup = webhooks.WebhookDeduplicator(
        lambda event: handled.append(event.id), retention_seconds=retention, clock=clock
    )
    return dedup, clock, handled


def event(event_id: str) -> WebhookEvent:
    return WebhookEvent(event_id, "charge.succeeded", {"amount": 1250, "currency": "EUR"})


def test_retry_inside_window_is_dropped():
    dedup, clock, handled = make()
    assert dedup.process(event("evt_1")) is True
    clock.advance(60)
    assert dedup.process(event("evt_1")) is False
    clock.advance(600)
    assert dedup.process(event("evt_1")) is False
    assert handled == ["evt_1"]


def test_distinct_events_are_all_processed():
    dedup, clock, handled = make()
    for number in range(100):
        clock.advance(1)
        assert dedup.process(event(f"evt_{number}")) is True
    assert handled == [f"evt_{number}" for number in range(100)]


def test_resend_after_window_is_processed():
    dedup, clock, handled = make(retention=900)
    assert dedup.process(event("evt_1")) is True
    clock.advance(901)
    assert dedup.process(event("evt_1")) is True
    clock.advance(5)
    assert dedup.process(event("evt_1")) is False
    assert handled == ["evt_1", "evt_1"]
