"""Drives a host's WebhookDeduplicator from the judge: the clock and the handler are the judge's.

The handler is a one-way notifier, so every event the candidate hands to the business logic is
counted here, by id; the clock is a judge-owned value the host reads.
"""

from __future__ import annotations

from faultline_harness.judge import Call, HostClient, RemoteError

EVENT_TYPE = "charge.succeeded"
PAYLOAD = {"amount": 1250, "currency": "EUR"}
START = 10_000.0
PROVIDER_RETRY_SECONDS = 900.0  # the provider retries for 15 minutes: the default retention


def run_tag(variant) -> str:
    """A few hex digits that differ per run, put in every event id: no id is known ahead."""
    return f"{variant.getrandbits(24):06x}"


class Deduplicator:
    def __init__(self, host: HostClient, retention: float | None, handler=None) -> None:
        """``retention=None`` leaves ``retention_seconds`` to its default."""
        self.host = host
        self.handled: list[str] = []
        self.event_class = host.module("events").WebhookEvent.get()
        self.clock = host.cell(START)
        self.now = START
        if handler is None:
            handler = host.notifier(self.handled.append, extract="id")
        webhooks = host.module("webhooks")
        given = {} if retention is None else {"retention_seconds": retention}
        self.remote = webhooks.WebhookDeduplicator(handler, **given, clock=self.clock)

    def at(self, when: float) -> None:
        self.now = when
        self.clock.set(when)

    def process(self, event_id: str) -> bool | RemoteError:
        """One delivery now; the candidate's verdict, or the error it raised."""
        try:
            return self.remote.process(Call(self.event_class, event_id, EVENT_TYPE, PAYLOAD))
        except RemoteError as error:
            return error

    def stream(self, ids: list[str], step: float) -> list:
        """Deliver ``ids`` one per ``step`` seconds of judge time; one verdict per delivery."""
        results = self.host.map(
            self.remote.process,
            [(event_id, EVENT_TYPE, PAYLOAD) for event_id in ids],
            wrap=self.event_class,
            before=Call(self.clock.advance, step),
        )
        self.now += step * len(ids)
        return results
