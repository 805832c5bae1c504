"""Correctness checks: what the deduplicator promises must keep working after the fix."""

from __future__ import annotations

import pytest
import webhooks
from events import WebhookEvent


class FakeClock:
    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _event(event_id: str) -> WebhookEvent:
    return WebhookEvent(event_id, "charge.succeeded", {"amount": 100})


def test_duplicates_inside_window_are_dropped():
    """Retries from 0 s to 14 minutes later are dropped; each distinct event runs once."""
    retention = 900.0
    clock = FakeClock()
    handled: list[str] = []
    dedup = webhooks.WebhookDeduplicator(
        lambda event: handled.append(event.id), retention_seconds=retention, clock=clock
    )
    start = clock.now
    schedule: list[tuple[float, int, str]] = []
    for number in range(60):
        event_id = f"evt_dup_{number:04d}"
        first = start + number * 7.0
        schedule.append((first, 0, event_id))
        for attempt, delay in enumerate((0.0, 1.0, 30.0, 300.0, 840.0), start=1):
            schedule.append((first + delay, attempt, event_id))
    schedule.sort()

    unexpected: list[str] = []
    for at, attempt, event_id in schedule:
        clock.now = at
        result = dedup.process(_event(event_id))
        if result is not (attempt == 0):
            unexpected.append(f"{event_id} attempt {attempt} at +{at - start:.0f}s -> {result}")

    expected = [f"evt_dup_{number:04d}" for number in range(60)]
    assert handled == expected, (
        f"handler ran {len(handled)} times for {len(expected)} distinct events "
        f"({len(set(handled))} distinct ids handled)"
    )
    assert not unexpected, "process() returned the wrong verdict: " + "; ".join(unexpected[:5])


def test_id_is_processed_again_after_window():
    """After the retention window an id is new again (support's "Resend"), per id."""
    retention = 600.0
    clock = FakeClock()
    handled: list[str] = []
    dedup = webhooks.WebhookDeduplicator(
        lambda event: handled.append(event.id), retention_seconds=retention, clock=clock
    )
    t0 = clock.now
    assert dedup.process(_event("evt_resend")) is True
    clock.now = t0 + 300.0
    assert dedup.process(_event("evt_resend")) is False, "a retry inside the window was processed"
    clock.now = t0 + 500.0
    assert dedup.process(_event("evt_other")) is True

    clock.now = t0 + 960.0  # 1.6 windows after processing, 1.1 after the last retry
    assert dedup.process(_event("evt_resend")) is True, (
        "an id processed 1.6 retention windows ago was dropped as a duplicate"
    )
    assert dedup.process(_event("evt_other")) is False, (
        "an id processed 460 s ago (window 600 s) was processed again"
    )
    clock.now = t0 + 970.0
    assert dedup.process(_event("evt_resend")) is False, "a retry right after a resend ran again"
    assert handled == ["evt_resend", "evt_other", "evt_resend"]


def test_failed_delivery_is_retried():
    """If the handler raises, the exception propagates and the provider's retry is processed."""
    clock = FakeClock()
    calls: list[str] = []

    def flaky(event: WebhookEvent) -> None:
        calls.append(event.id)
        if len(calls) == 1:
            raise RuntimeError("ledger unavailable")

    dedup = webhooks.WebhookDeduplicator(flaky, retention_seconds=900.0, clock=clock)
    with pytest.raises(RuntimeError, match="ledger unavailable"):
        dedup.process(_event("evt_flaky"))
    clock.now += 30.0
    assert dedup.process(_event("evt_flaky")) is True, "the retry of a failed delivery was dropped"
    clock.now += 30.0
    assert dedup.process(_event("evt_flaky")) is False, "a retry after success ran again"
    assert calls == ["evt_flaky", "evt_flaky"]
