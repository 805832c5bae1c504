"""Checks at production volume: deduplication must hold, and stay cheap, at peak traffic."""

from __future__ import annotations

import gc
import time
from types import ModuleType

from events import WebhookEvent

PAYLOAD = {"amount": 1250, "currency": "EUR"}


class FakeClock:
    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _event(event_id: str) -> WebhookEvent:
    return WebhookEvent(event_id, "charge.succeeded", PAYLOAD)


# --- duplicates under load ----------------------------------------------------------------

LOAD_RETENTION = 900.0  # the provider retries for 15 minutes
LOAD_STEP = 0.004  # 250 deliveries a second, the month-end peak
EARLY_EVENTS = 500
FILLER_EVENTS = 200_000
RETRY_EVERY = 400  # a retry of the event seen 100k deliveries (400 s) earlier
RETRY_DISTANCE = 100_000
BUDGET_RATIO = 20.0  # give up once the candidate is this much slower than the starter


def _load_stream() -> tuple[list[WebhookEvent], list[bool]]:
    """Deliveries and, for each, whether it is new (True) or a retry inside the window."""
    events: list[WebhookEvent] = []
    fresh: list[bool] = []
    for number in range(EARLY_EVENTS):
        events.append(_event(f"evt_early_{number:05d}"))
        fresh.append(True)
    fillers = [f"evt_{number:024x}" for number in range(FILLER_EVENTS)]
    for number, event_id in enumerate(fillers):
        events.append(_event(event_id))
        fresh.append(True)
        if number % RETRY_EVERY == 0 and number >= RETRY_DISTANCE:
            events.append(_event(fillers[number - RETRY_DISTANCE]))
            fresh.append(False)
    for number in range(EARLY_EVENTS):
        events.append(_event(f"evt_early_{number:05d}"))
        fresh.append(False)
    assert len(events) * LOAD_STEP < LOAD_RETENTION
    return events, fresh


def _run_load(
    module: ModuleType, events: list[WebhookEvent], fresh: list[bool], budget: float | None
) -> tuple[float, list[tuple[str, bool]], int, int | None]:
    """Elapsed seconds, wrong verdicts (id, expected), handler calls, where it gave up."""
    handled = 0

    def handler(event: WebhookEvent) -> None:
        nonlocal handled
        handled += 1

    clock = FakeClock()
    dedup = module.WebhookDeduplicator(handler, retention_seconds=LOAD_RETENTION, clock=clock)
    wrong: list[tuple[str, bool]] = []
    process = dedup.process
    started = time.perf_counter()
    for index, (event, expected) in enumerate(zip(events, fresh, strict=True)):
        clock.now += LOAD_STEP
        if process(event) is not expected:
            wrong.append((event.id, expected))
        if budget is not None and index % 1000 == 0 and time.perf_counter() - started > budget:
            return time.perf_counter() - started, wrong, handled, index
    return time.perf_counter() - started, wrong, handled, None


def test_duplicates_dropped_under_load(evidence, starter):
    events, fresh = _load_stream()
    retries = fresh.count(False)
    starter_seconds, starter_wrong, _, _ = _run_load(starter.load("webhooks"), events, fresh, None)
    gc.collect()
    budget = max(BUDGET_RATIO * starter_seconds, 1.0)

    import webhooks

    seconds, wrong, handled, gave_up_at = _run_load(webhooks, events, fresh, budget)
    evidence.metric(
        "time_vs_starter",
        seconds / starter_seconds,
        unit="x",
        limit=BUDGET_RATIO,
        starter=1.0,
        label="time for the whole stream relative to the starter (lower bound if it gave up)",
    )
    assert gave_up_at is None, (
        f"gave up after {gave_up_at:,} of {len(events):,} deliveries: {seconds:.1f} s, over "
        f"{BUDGET_RATIO:g}x the starter's {starter_seconds:.2f} s for the whole stream; the cost "
        "of a delivery grows with the number of ids inside the window"
    )
    processed_again = [event_id for event_id, expected in wrong if not expected]
    dropped = [event_id for event_id, expected in wrong if expected]
    evidence.metric(
        "retries_processed_again",
        len(processed_again),
        unit="events",
        limit=0,
        starter=sum(1 for _, expected in starter_wrong if not expected),
        label=f"retries handled again, of {retries:,} inside the window at 250 deliveries/s",
    )
    assert not processed_again, (
        f"{len(processed_again):,} of {retries:,} retries arriving inside the 15-minute window "
        f"were handled again, with {len(events):,} deliveries at 250/s "
        f"(e.g. {', '.join(processed_again[:3])})"
    )
    assert not dropped, (
        f"{len(dropped):,} new events were dropped as duplicates (e.g. {', '.join(dropped[:3])})"
    )
    assert handled == len(events) - retries, (
        f"the handler ran {handled:,} times for {len(events) - retries:,} distinct events"
    )


# --- steady-state throughput ------------------------------------------------------------------

STEADY_RETENTION = 30.0
STEADY_STEP = 0.01  # about 3,000 ids inside the window
STEADY_WARMUP = 6_000
CHUNK_EVENTS = 5_000
ROUNDS = 5
THROUGHPUT_LIMIT = 8.0  # candidate time per delivery / starter time per delivery


class _Feeder:
    """One deduplicator fed a steady stream of unique events, a chunk at a time."""

    def __init__(self, module: ModuleType, prefix: str) -> None:
        self.handled = 0
        self.fed = 0
        self.prefix = prefix
        self.clock = FakeClock()
        self.dedup = module.WebhookDeduplicator(
            self._handle, retention_seconds=STEADY_RETENTION, clock=self.clock
        )

    def _handle(self, event: WebhookEvent) -> None:
        self.handled += 1

    def chunk(self, count: int) -> list[WebhookEvent]:
        events = [_event(f"{self.prefix}{self.fed + n:020x}") for n in range(count)]
        self.fed += count
        return events

    def run(self, events: list[WebhookEvent]) -> float:
        clock = self.clock
        process = self.dedup.process
        started = time.perf_counter()
        for event in events:
            clock.now += STEADY_STEP
            process(event)
        return time.perf_counter() - started


def test_steady_state_throughput(evidence, starter):
    import webhooks

    baseline = _Feeder(starter.load("webhooks"), "evs_")
    candidate = _Feeder(webhooks, "evc_")
    baseline.run(baseline.chunk(STEADY_WARMUP))
    candidate.run(candidate.chunk(STEADY_WARMUP))

    starter_times: list[float] = []
    candidate_times: list[float] = []
    for _ in range(ROUNDS):
        starter_times.append(baseline.run(baseline.chunk(CHUNK_EVENTS)))
        candidate_times.append(candidate.run(candidate.chunk(CHUNK_EVENTS)))
        if min(candidate_times) > 5 * THROUGHPUT_LIMIT * min(starter_times):
            break  # far over the limit already: no need to measure more precisely

    ratio = min(candidate_times) / min(starter_times)
    per_event_us = min(candidate_times) / CHUNK_EVENTS * 1e6
    starter_us = min(starter_times) / CHUNK_EVENTS * 1e6
    evidence.metric(
        "time_per_delivery_vs_starter",
        ratio,
        unit="x",
        limit=THROUGHPUT_LIMIT,
        starter=1.0,
        label="time per delivery relative to the starter (3,000 ids in the window)",
    )
    assert candidate.handled == candidate.fed, (
        f"the handler ran {candidate.handled:,} times for {candidate.fed:,} distinct events"
    )
    assert ratio <= THROUGHPUT_LIMIT, (
        f"a delivery costs {per_event_us:.1f} us with 3,000 ids inside the window, "
        f"{ratio:.1f}x the starter's {starter_us:.2f} us (limit {THROUGHPUT_LIMIT:g}x)"
    )
