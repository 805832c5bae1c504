"""Deduplication in front of the webhook handler.

The provider delivers at-least-once: a delivery that times out or is not acknowledged is sent
again, with the same event id, for up to 15 minutes. The handler posts money movements to the
ledger, so each event must reach it once per retention window.
"""

from __future__ import annotations

import logging
import time

from events import Clock, Handler, WebhookEvent

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_SECONDS = 15 * 60
"""The provider stops retrying a delivery 15 minutes after the first attempt."""


class WebhookDeduplicator:
    """Passes each event to ``handler`` at most once per retention window.

    A delivery whose id was processed less than ``retention_seconds`` ago is a duplicate and is
    dropped. Once the window has passed, the same id is processed again: that is how support
    re-drives an event with the provider's "Resend" button.
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
        # ids grouped by the slice of time they were processed in; a whole slice is dropped
        # once everything in it is older than the retention window
        self._bucket_width = self._retention / 8
        self._buckets: dict[int, dict[str, float]] = {}
        self._current_key: int | None = None

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
        key = int(now // self._bucket_width)
        if key != self._current_key:
            self._current_key = key
            self._drop_old_buckets(now)
        for bucket in self._buckets.values():
            last = bucket.get(event.id)
            if last is not None and now - last < self._retention:
                logger.debug("dropping duplicate delivery of %s", event.id)
                return False

        self._handler(event)
        self._buckets.setdefault(key, {})[event.id] = now
        return True

    def _drop_old_buckets(self, now: float) -> None:
        """Drop the buckets whose whole time slice is a retention window or more ago."""
        horizon = now - self._retention
        width = self._bucket_width
        for key in [k for k in self._buckets if (k + 1) * width <= horizon]:
            del self._buckets[key]
