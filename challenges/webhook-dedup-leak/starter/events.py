"""Webhook event model shared by the consumer (read-only in this exercise)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One delivery from the payment provider.

    ``id`` identifies the *event*, not the delivery: when the provider retries a delivery it
    sends the same ``id`` again.
    """

    id: str
    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: bytes | str) -> WebhookEvent:
        """Parse the provider's JSON envelope: ``{"id": ..., "type": ..., "data": {...}}``."""
        document = json.loads(body)
        event_id = document.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("webhook body has no event id")
        return cls(
            id=event_id, type=str(document.get("type", "")), payload=document.get("data", {})
        )


Handler = Callable[[WebhookEvent], None]
"""Business logic run once per event: posts to the ledger, sends receipts, ..."""

Clock = Callable[[], float]
"""Returns the current time in seconds; never goes backwards (``time.monotonic``)."""
