"""Correctness checks: what the deduplicator promises must keep working after the fix."""

from __future__ import annotations

from dedup_driver import Deduplicator, run_tag
from faultline_harness.judge import RemoteError


def test_duplicates_inside_window_are_dropped(candidate, variant):
    """Retries from 0 s to 14 minutes later are dropped; each distinct event runs once."""
    tag = run_tag(variant)
    dedup = Deduplicator(candidate, retention=900.0)
    start = dedup.now
    schedule: list[tuple[float, int, str]] = []
    for number in range(60):
        event_id = f"evt_{tag}_dup_{number:04d}"
        first = start + number * 7.0
        schedule.append((first, 0, event_id))
        for attempt, delay in enumerate((0.0, 1.0, 30.0, 300.0, 840.0), start=1):
            schedule.append((first + delay, attempt, event_id))
    schedule.sort()

    unexpected: list[str] = []
    for at, attempt, event_id in schedule:
        dedup.at(at)
        result = dedup.process(event_id)
        if result is not (attempt == 0):
            unexpected.append(f"{event_id} attempt {attempt} at +{at - start:.0f}s -> {result}")

    expected = [f"evt_{tag}_dup_{number:04d}" for number in range(60)]
    assert dedup.handled == expected, (
        f"handler ran {len(dedup.handled)} times for {len(expected)} distinct events "
        f"({len(set(dedup.handled))} distinct ids handled)"
    )
    assert not unexpected, "process() returned the wrong verdict: " + "; ".join(unexpected[:5])


def test_id_is_processed_again_after_window(candidate, variant):
    """After the retention window an id is new again (support's "Resend"), per id."""
    resend, other = f"evt_{run_tag(variant)}_resend", f"evt_{run_tag(variant)}_other"
    dedup = Deduplicator(candidate, retention=600.0)
    t0 = dedup.now
    assert dedup.process(resend) is True
    dedup.at(t0 + 300.0)
    assert dedup.process(resend) is False, "a retry inside the window was processed"
    dedup.at(t0 + 500.0)
    assert dedup.process(other) is True

    dedup.at(t0 + 960.0)  # 1.6 windows after processing, 1.1 after the last retry
    assert dedup.process(resend) is True, (
        "an id processed 1.6 retention windows ago was dropped as a duplicate"
    )
    assert dedup.process(other) is False, (
        "an id processed 460 s ago (window 600 s) was processed again"
    )
    dedup.at(t0 + 970.0)
    assert dedup.process(resend) is False, "a retry right after a resend ran again"
    assert dedup.handled == [resend, other, resend]


def test_failed_delivery_is_retried(candidate, variant):
    """If the handler raises, the exception propagates and the provider's retry is processed."""
    calls: list[str] = []
    flaky_id = f"evt_{run_tag(variant)}_flaky"

    def flaky(event) -> None:
        calls.append(event.id.get())
        if len(calls) == 1:
            raise RuntimeError("ledger unavailable")

    dedup = Deduplicator(candidate, retention=900.0, handler=candidate.callback(flaky))
    result = dedup.process(flaky_id)
    assert isinstance(result, RemoteError) and "ledger unavailable" in result.message, (
        "the handler's failure did not propagate out of process()"
    )
    dedup.at(dedup.now + 30.0)
    assert dedup.process(flaky_id) is True, "the retry of a failed delivery was dropped"
    dedup.at(dedup.now + 30.0)
    assert dedup.process(flaky_id) is False, "a retry after success ran again"
    assert calls == [flaky_id, flaky_id]
