"""Correctness checks: what the deduplicator promises must keep working after the fix."""

from __future__ import annotations

from dedup_driver import PROVIDER_RETRY_SECONDS, Deduplicator, run_tag
from faultline_harness.judge import RemoteError


def test_duplicates_inside_window_are_dropped(candidate, variant):
    """Retries from 0 s to 14 minutes later are dropped; each distinct event runs once."""
    tag = run_tag(variant)
    dedup = Deduplicator(candidate, retention=PROVIDER_RETRY_SECONDS)
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


LATE_RETRY_IDS = 8  # ids retried late in their window, then re-sent just after it


def test_id_is_processed_again_after_window(candidate, variant):
    """Once the window has passed since an id was *processed*, the id is new again (support's
    "Resend"), per id. A retry dropped as a duplicate, however late in the window, does not
    restart the window: the Resend that follows it just after the window is processed."""
    tag = run_tag(variant)
    retention = float(variant.randrange(300, 901, 30))  # 5 to 15 minutes, drawn per run
    dedup = Deduplicator(candidate, retention=retention)
    t0 = dedup.now
    resend, other, edge = f"evt_{tag}_resend", f"evt_{tag}_other", f"evt_{tag}_edge"
    # (when, event id, expected verdict, what the delivery is)
    schedule: list[tuple[float, str, bool, str]] = [
        (t0, resend, True, "first delivery"),
        (t0 + 0.5 * retention, resend, False, "a retry half a window after processing"),
        (t0 + 0.83 * retention, other, True, "first delivery"),
        (t0 + 1.6 * retention, resend, True, "a Resend 1.6 windows after processing"),
        (t0 + 1.6 * retention + 1.0, other, False, "a retry 0.77 windows after processing"),
        (t0 + 1.6 * retention + 10.0, resend, False, "a retry 10 s after the Resend ran"),
        # The edge: less than the window after processing is a duplicate; at the window, new.
        (t0 + 2.0, edge, True, "first delivery"),
        (t0 + 2.0 + retention - 0.25, edge, False, "a retry a quarter second inside the window"),
        (t0 + 2.0 + retention, edge, True, "a Resend exactly one window after processing"),
    ]
    late_ids = [f"evt_{tag}_late_{number:02d}" for number in range(LATE_RETRY_IDS)]
    for number, event_id in enumerate(late_ids):
        processed = t0 + 3.0 * number + variant.uniform(0.0, 2.0)
        late = processed + retention * variant.uniform(0.80, 0.98)
        again = processed + retention + variant.uniform(1.0, 0.1 * retention)
        after = again + variant.uniform(1.0, 0.5 * retention)
        schedule += [
            (processed, event_id, True, "first delivery"),
            (
                late,
                event_id,
                False,
                f"a retry {(late - processed) / retention:.2f} windows after processing",
            ),
            (
                again,
                event_id,
                True,
                f"a Resend {(again - processed) / retention:.2f} windows "
                f"after processing, {(again - late) / retention:.2f} after its last retry",
            ),
            (after, event_id, False, f"a retry {after - again:.0f} s after the Resend ran"),
        ]
    schedule.sort(key=lambda item: item[0])

    wrong: list[str] = []
    resends_dropped: list[str] = []  # Resends after a late retry: promise 3's order of events
    for at, event_id, expected, what in schedule:
        dedup.at(at)
        result = dedup.process(event_id)
        if result is not expected:
            wrong.append(f"{event_id}: {what} -> {result}")
            if expected and "after its last retry" in what:
                resends_dropped.append(wrong[-1])
    expected_handled = [event_id for _, event_id, expected, _ in schedule if expected]

    assert not resends_dropped, (
        f"{len(resends_dropped)} of {LATE_RETRY_IDS} Resends sent just after the window "
        f"({retention:.0f} s) since their event was processed were dropped as duplicates, each "
        "after a retry late in the window: the window runs from when the event was processed, "
        "not from its last retry; e.g. " + "; ".join(resends_dropped[:3])
    )
    assert not wrong, (
        f"process() returned the wrong verdict for {len(wrong)} of {len(schedule)} deliveries "
        f"(window {retention:.0f} s): " + "; ".join(wrong[:5])
    )
    assert dedup.handled == expected_handled, (
        f"the handler ran {len(dedup.handled)} times for {len(expected_handled)} deliveries "
        "that should be processed"
    )


def test_failed_delivery_is_retried(candidate, variant):
    """If the handler raises, the exception propagates and the provider's retry is processed."""
    calls: list[str] = []
    flaky_id = f"evt_{run_tag(variant)}_flaky"

    def flaky(event) -> None:
        calls.append(event.id.get())
        if len(calls) == 1:
            raise RuntimeError("ledger unavailable")

    dedup = Deduplicator(
        candidate, retention=PROVIDER_RETRY_SECONDS, handler=candidate.callback(flaky)
    )
    result = dedup.process(flaky_id)
    assert isinstance(result, RemoteError) and "ledger unavailable" in result.message, (
        "the handler's failure did not propagate out of process()"
    )
    dedup.at(dedup.now + 30.0)
    assert dedup.process(flaky_id) is True, "the retry of a failed delivery was dropped"
    dedup.at(dedup.now + 30.0)
    assert dedup.process(flaky_id) is False, "a retry after success ran again"
    assert calls == [flaky_id, flaky_id]


def test_default_retention_and_its_property(candidate, variant):
    """The default retention is the provider's 15 minutes, ``retention_seconds`` reads the
    retention back, and a retention that is not positive is refused with ValueError, as today,
    while any positive one, a second or less too, is accepted."""
    tag = run_tag(variant)
    problems: list[str] = []
    drawn = float(variant.randrange(60, 1801, 15))
    for retention, shown in ((None, "the default"), (drawn, f"retention_seconds={drawn:g}")):
        dedup = Deduplicator(candidate, retention=retention)
        window = PROVIDER_RETRY_SECONDS if retention is None else retention
        try:
            read = dedup.remote.retention_seconds.get()
        except RemoteError:
            problems.append(f"with {shown}, reading retention_seconds raised an error")
        else:
            if type(read) not in (int, float) or read != window:
                problems.append(f"with {shown}, retention_seconds is not {window:g}")
        t0, event_id = dedup.now, f"evt_{tag}_default_{window:g}"
        for at, expected, what in (
            (t0, True, "first delivery"),
            (t0 + window - 1.0, False, "a retry 1 s inside the window"),
            (t0 + window, True, "a Resend one window after processing"),
            # Support may press Resend hours later, the first delivery since.
            (2 * (t0 + window) + 1.0, True, "a Resend hours after processing"),
        ):
            dedup.at(at)
            if dedup.process(event_id) is not expected:
                verdict = "processed" if expected else "dropped"
                problems.append(f"with {shown} ({window:g} s): {what} was not {verdict}")
    webhooks = candidate.module("webhooks")
    for retention in (0, -5.0):
        try:
            webhooks.WebhookDeduplicator(
                candidate.module("builtins").print.get(), retention_seconds=retention
            )
        except RemoteError as error:
            if error.type_name != "ValueError":
                problems.append(f"retention_seconds={retention:g} raised another error")
        else:
            problems.append(f"retention_seconds={retention:g} was accepted; expected ValueError")
    for retention in (0.25, 1.0):  # short, but positive: kept as given
        try:
            webhooks.WebhookDeduplicator(
                candidate.module("builtins").print.get(), retention_seconds=retention
            )
        except RemoteError:
            problems.append(f"retention_seconds={retention:g} was refused; it is positive")
    assert not problems, "; ".join(problems)
