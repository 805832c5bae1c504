"""Check: generating thumbnails must not stall the event loop for the other requests."""

from __future__ import annotations

import asyncio

import pytest
from hidden_support import measure_loop_lag, sync_seconds

# The loop may be late by at most this fraction of the CPU work of one thumbnail (measured
# in this run, on this machine), with a small absolute floor for scheduler noise.
LAG_RATIO = 0.2
LAG_FLOOR = 0.010  # seconds


def test_event_loop_not_blocked_by_thumbnails(
    evidence, starter, photo_jpeg, screenshot_png, small_jpeg
):
    import thumbnails

    original = starter.load("thumbnails")
    uploads = [photo_jpeg, screenshot_png, photo_jpeg, screenshot_png]

    reference_service = original.ThumbnailService()
    one_thumbnail = sync_seconds(reference_service.create_thumbnail, uploads) / len(uploads)
    limit = max(LAG_RATIO * one_thumbnail, LAG_FLOOR)

    before = asyncio.run(measure_loop_lag(original.ThumbnailService, uploads, small_jpeg))
    after = asyncio.run(measure_loop_lag(thumbnails.ThumbnailService, uploads, small_jpeg))
    print(
        f"DEBUG one={one_thumbnail * 1000:.1f} limit={limit * 1000:.1f} "
        f"starter={before.max_lag * 1000:.1f} cand={after.max_lag * 1000:.1f} "
        f"elapsed={after.elapsed * 1000:.0f}"
    )

    evidence.metric(
        "thumbnail_cpu_ms",
        one_thumbnail * 1000,
        unit="ms",
        label="CPU work of one thumbnail (synchronous, this run)",
    )
    evidence.metric(
        "max_loop_lag_ms",
        after.max_lag * 1000,
        unit="ms",
        limit=limit * 1000,
        starter=before.max_lag * 1000,
        label=f"worst event-loop lag while {len(uploads)} uploads were thumbnailed",
    )
    if len(after.results) != len(uploads) or not all(after.results):
        pytest.fail("some uploads produced no thumbnail")
    if after.max_lag > limit:
        pytest.fail(
            f"event loop stalled {after.max_lag * 1000:.0f} ms while {len(uploads)} uploads were "
            f"thumbnailed (limit {limit * 1000:.0f} ms, {LAG_RATIO:.0%} of one thumbnail's "
            f"{one_thumbnail * 1000:.0f} ms of CPU work; starter {before.max_lag * 1000:.0f} ms)"
        )
