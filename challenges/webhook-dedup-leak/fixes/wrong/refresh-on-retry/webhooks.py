"""Deduplication in front of the webhook handler.

The provider delivers at-least-once: a delivery that times out or is not acknowledged is sent
again, with the same event id, for up to 15 minutes. The handler posts money movements to the
ledger, so each event must reach it once per retention window.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from events import Clock, Handler, WebhookEvent

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_SECONDS = 15 * 60
"""The provider stops retrying a delivery 15 minutes after the first attempt."""


class WebhookDeduplicator:
    """Passes each event to ``handler`` at most once per retention window.

    A delivery whose id was processed less than ``retention_seconds`` ago is a duplicate and is
    dropped. Once the window has passed, the same id is processed again: that is how support
    re-drives an event with the provider's "Resend" button.

    Memory is bounded by the number of events seen within one window: ids are kept in the order
    they were last seen, so the expired ones are always at the front and are dropped as time
    moves on, at O(1) amortised cost per delivery.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        if retention_seconds <= 0:
            raise ValueError("retention_seconds must be positive")
        self._handler = handler
        self._retention = float(retention_seconds)
        self._clock = clock
        # event id -> when it was last seen, oldest first (the clock never goes backwards)
        self._processed_at: OrderedDict[str, float] = OrderedDict()

    @property
    def retention_seconds(self) -> float:
        return self._retention

    def process(self, event: WebhookEvent) -> bool:
        """Run the handler for ``event`` unless it is a duplicate.

        Returns ``True`` when the handler ran and ``False`` when the delivery was dropped as a
        duplicate. If the handler raises, the event is not marked as processed (the provider
        will retry it) and the exception propagates.
        """
        now = self._clock()
        self._expire(now)
        if event.id in self._processed_at:
            logger.debug("dropping duplicate delivery of %s", event.id)
            # The provider is still retrying it: keep the id a full window from this delivery,
            # at the back of the queue so the front stays the oldest.
            self._processed_at[event.id] = now
            self._processed_at.move_to_end(event.id)
            return False

        self._handler(event)
        self._processed_at[event.id] = now
        return True

    def _expire(self, now: float) -> None:
        """Forget the ids last seen ``retention_seconds`` or more before ``now``."""
        entries = self._processed_at
        while entries:
            oldest_id = next(iter(entries))
            if now - entries[oldest_id] < self._retention:
                break
            del entries[oldest_id]
