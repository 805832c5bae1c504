"""HTTP entry point of the webhook consumer (read-only in this exercise).

The web framework calls :func:`receive` for every ``POST /webhooks/paystream``. The process is
long-running: one deduplicator lives as long as the worker does (days, between deploys).
"""

from __future__ import annotations

import logging

from events import WebhookEvent
from webhooks import WebhookDeduplicator

logger = logging.getLogger("consumer")


def post_to_ledger(event: WebhookEvent) -> None:
    """Stand-in for the real business logic (ledger write, receipt e-mail, ...)."""
    logger.info("handled %s %s", event.type, event.id)


deduplicator = WebhookDeduplicator(post_to_ledger)


def receive(body: bytes) -> tuple[int, str]:
    """Handle one delivery; the provider retries anything that is not a 2xx."""
    try:
        event = WebhookEvent.from_json(body)
    except ValueError:
        return 400, "malformed event"
    if deduplicator.process(event):
        return 200, "processed"
    return 200, "duplicate"
