"""Checks at production volume: 250 deliveries a second, retries up to 15 minutes later.

Deduplication must still hold with hundreds of thousands of ids inside the window, and a delivery
must stay cheap there: at peak a new delivery arrives every 4 ms.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field
from types import ModuleType

from events import WebhookEvent

PAYLOAD = {"amount": 1250, "currency": "EUR"}
STEP = 0.004  # 250 deliveries a second, the month-end peak
CHUNK = 250  # deliveries timed together: one second of peak traffic
COST_LIMIT_RATIO = 1_000.0  # candidate time per delivery / starter time per delivery
GROWTH_IDS = 20_000  # runaway guard: the chunk limit grows by COST_LIMIT_RATIO per 20k ids
TOTAL_LIMIT_RATIO = 400.0  # runaway guard: whole run / the starter's whole run


class FakeClock:
    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _event(event_id: str) -> WebhookEvent:
    return WebhookEvent(event_id, "charge.succeeded", PAYLOAD)


def _stream(
    head: int, unique: int, retry_every: int, retry_distance: int
) -> tuple[list[WebhookEvent], list[bool]]:
    """Deliveries and, for each, whether it is new (True) or a retry inside the window (False).

    ``head`` events come first and are all retried at the very end; in between, ``unique``
    fresh events, and every ``retry_every``-th one is followed by a retry of the event that
    arrived ``retry_distance`` fresh events earlier.
    """
    events: list[WebhookEvent] = []
    fresh: list[bool] = []
    heads = [f"evt_head_{number:06d}" for number in range(head)]
    for event_id in heads:
        events.append(_event(event_id))
        fresh.append(True)
    ids = [f"evt_{number:024x}" for number in range(unique)]
    for number, event_id in enumerate(ids):
        events.append(_event(event_id))
        fresh.append(True)
        if number % retry_every == 0 and number >= retry_distance:
            events.append(_event(ids[number - retry_distance]))
            fresh.append(False)
    for event_id in heads:
        events.append(_event(event_id))
        fresh.append(False)
    return events, fresh


@dataclass
class _Run:
    chunk_seconds: list[float] = field(default_factory=list)
    wrong: list[tuple[str, bool]] = field(default_factory=list)  # (event id, expected verdict)
    handled: int = 0
    gave_up_at: int | None = None
    gave_up_because: str = ""

    @property
    def seconds(self) -> float:
        return sum(self.chunk_seconds)


def _run(
    module: ModuleType,
    events: list[WebhookEvent],
    fresh: list[bool],
    retention: float,
    baseline: _Run | None = None,
) -> _Run:
    """Feed the stream one delivery per ``STEP`` of fake time, timing each chunk.

    With a ``baseline`` (the starter on the same stream) it gives up on a runaway: two chunks in
    a row over ``COST_LIMIT_RATIO`` times the starter's typical chunk, per ``GROWTH_IDS`` ids
    delivered so far, or a total over ``TOTAL_LIMIT_RATIO`` times the starter's whole run.
    """
    run = _Run()

    def handler(event: WebhookEvent) -> None:
        run.handled += 1

    clock = FakeClock()
    process = module.WebhookDeduplicator(handler, retention_seconds=retention, clock=clock).process
    if baseline is not None:
        chunk_limit = COST_LIMIT_RATIO * statistics.median(baseline.chunk_seconds)
        total_limit = TOTAL_LIMIT_RATIO * baseline.seconds
    slow_chunks = 0
    total = 0.0
    gc.collect()
    gc.freeze()  # the pre-built stream is not the code under test: keep it out of GC passes
    try:
        for start in range(0, len(events), CHUNK):
            stop = min(start + CHUNK, len(events))
            began = time.perf_counter()
            for index in range(start, stop):
                clock.now += STEP
                if process(events[index]) is not fresh[index]:
                    run.wrong.append((events[index].id, fresh[index]))
            elapsed = time.perf_counter() - began
            run.chunk_seconds.append(elapsed)
            if baseline is None:
                continue
            total += elapsed
            allowed = chunk_limit * max(1.0, stop / GROWTH_IDS)
            slow_chunks = slow_chunks + 1 if elapsed > allowed else 0
            if slow_chunks >= 2:
                run.gave_up_at = stop
                run.gave_up_because = (
                    f"a delivery took {elapsed / (stop - start) * 1e6:,.0f} us, over "
                    f"{allowed / chunk_limit * COST_LIMIT_RATIO:,.0f}x the starter's "
                    f"{chunk_limit / COST_LIMIT_RATIO / CHUNK * 1e6:.2f} us: the cost of a "
                    "delivery grows with the number of ids inside the window"
                )
                break
            if total > total_limit:
                run.gave_up_at = stop
                run.gave_up_because = (
                    f"{total:.1f} s for {stop:,} deliveries, over {TOTAL_LIMIT_RATIO:g}x the "
                    f"starter's {baseline.seconds:.2f} s for the whole stream"
                )
                break
    finally:
        gc.unfreeze()
    return run


def _gave_up_message(run: _Run, total: int) -> str:
    return f"gave up after {run.gave_up_at:,} of {total:,} deliveries: {run.gave_up_because}"


# --- duplicates under load ----------------------------------------------------------------

LOAD_RETENTION = 900.0  # the provider retries for 15 minutes
LOAD_HEAD = 500  # retried after everything else, about 480 s later
LOAD_UNIQUE = 120_000
LOAD_RETRY_EVERY = 200
LOAD_RETRY_DISTANCE = 90_000  # retries of the event seen 90k deliveries (360 s) earlier


def test_duplicates_dropped_under_load(evidence, starter):
    events, fresh = _stream(LOAD_HEAD, LOAD_UNIQUE, LOAD_RETRY_EVERY, LOAD_RETRY_DISTANCE)
    assert len(events) * STEP < LOAD_RETENTION
    retries = fresh.count(False)
    baseline = _run(starter.load("webhooks"), events, fresh, LOAD_RETENTION)

    import webhooks

    run = _run(webhooks, events, fresh, LOAD_RETENTION, baseline)
    processed_again = [event_id for event_id, expected in run.wrong if not expected]
    dropped = [event_id for event_id, expected in run.wrong if expected]
    evidence.metric(
        "retries_processed_again",
        len(processed_again),
        unit="events",
        limit=0,
        starter=sum(1 for _, expected in baseline.wrong if not expected),
        label=f"retries handled again, of {retries:,} arriving inside the window",
    )
    assert run.gave_up_at is None, _gave_up_message(run, len(events))
    assert not processed_again, (
        f"{len(processed_again):,} of {retries:,} retries arriving inside the 15-minute window "
        f"were handled again, with {len(events):,} deliveries at 250/s "
        f"(e.g. {', '.join(processed_again[:3])})"
    )
    assert not dropped, (
        f"{len(dropped):,} new events were dropped as duplicates (e.g. {', '.join(dropped[:3])})"
    )
    assert run.handled == len(events) - retries, (
        f"the handler ran {run.handled:,} times for {len(events) - retries:,} distinct events"
    )


# --- cost of a delivery at peak -------------------------------------------------------------

PEAK_RETENTION = 200.0  # 50,000 ids inside the window at 250 deliveries a second
PEAK_UNIQUE = 100_000  # the second half runs with the window full and ids expiring
PEAK_RETRY_EVERY = 100
PEAK_RETRY_DISTANCE = 10_000  # retries 40 s after the original


def test_delivery_cost_at_peak(evidence, starter):
    events, fresh = _stream(0, PEAK_UNIQUE, PEAK_RETRY_EVERY, PEAK_RETRY_DISTANCE)
    steady = len(events) // 2 // CHUNK  # chunks from here on run with a full window
    baseline = _run(starter.load("webhooks"), events, fresh, PEAK_RETENTION)
    starter_chunk = statistics.median(baseline.chunk_seconds[steady:])
    limit_chunk = COST_LIMIT_RATIO * starter_chunk

    import webhooks

    run = _run(webhooks, events, fresh, PEAK_RETENTION, baseline)
    # amortised: a periodic clean-up counts, spread over the deliveries between two runs of it
    measured = run.chunk_seconds[steady:] if run.gave_up_at is None else run.chunk_seconds[-2:]
    chunk = statistics.fmean(measured)
    evidence.metric(
        "time_per_delivery",
        chunk / CHUNK * 1e6,
        unit="us",
        limit=limit_chunk / CHUNK * 1e6,
        starter=starter_chunk / CHUNK * 1e6,
        label="amortised time per delivery with 50,000 ids inside the window",
    )
    assert run.gave_up_at is None, _gave_up_message(run, len(events))
    assert chunk <= limit_chunk, (
        f"a delivery costs {chunk / CHUNK * 1e6:,.1f} us with 50,000 ids inside the window, "
        f"{chunk / starter_chunk:,.0f}x the starter's {starter_chunk / CHUNK * 1e6:.2f} us "
        f"(limit {COST_LIMIT_RATIO:,.0f}x)"
    )
    dropped = [event_id for event_id, expected in run.wrong if expected]
    assert not dropped, (
        f"{len(dropped):,} new events were dropped as duplicates (e.g. {', '.join(dropped[:3])})"
    )
