"""Check: generating thumbnails must not stall the event loop for the other requests."""

from __future__ import annotations

import asyncio

import pytest
from hidden_support import measure_loop_lag

# The loop may be late by at most this fraction of the time one thumbnail takes to render
# synchronously (measured in this run, on this machine), with a small floor for scheduler noise.
LAG_RATIO = 0.25
LAG_FLOOR = 0.010  # seconds
ROUNDS = 3
RETRY_BELOW = 3  # times the limit


def test_event_loop_not_blocked_by_thumbnails(
    evidence, starter, photo_jpeg, screenshot_png, small_jpeg
):
    import thumbnails

    original = starter.load("thumbnails")
    uploads = [photo_jpeg, screenshot_png, photo_jpeg, screenshot_png]

    # The starter renders the batch synchronously, one upload after the other: its run gives
    # both the starter's lag and the CPU work of one thumbnail on this machine, right now.
    before = asyncio.run(measure_loop_lag(original.ThumbnailService, uploads, small_jpeg))
    one_thumbnail = before.elapsed / len(uploads)
    limit = max(LAG_RATIO * one_thumbnail, LAG_FLOOR)

    # Best of a few rounds: a blocking implementation stalls the loop in every round, while a
    # burst of load from outside the sandbox can only make one round look worse than it is.
    # A stall far beyond the limit is not noise, so it is not retried.
    rounds = []
    for _ in range(ROUNDS):
        rounds.append(
            asyncio.run(measure_loop_lag(thumbnails.ThumbnailService, uploads, small_jpeg))
        )
        if not limit < rounds[-1].max_lag < RETRY_BELOW * limit:
            break
    after = min(rounds, key=lambda run: run.max_lag)
    evidence.metric(
        "max_loop_lag_ms",
        after.max_lag * 1000,
        unit="ms",
        limit=limit * 1000,
        starter=before.max_lag * 1000,
        label=f"worst event-loop lag while {len(uploads)} uploads were thumbnailed",
    )
    evidence.metric(
        "thumbnail_cpu_ms",
        one_thumbnail * 1000,
        unit="ms",
        label="time to render one thumbnail synchronously (starter code, this run)",
    )
    if after.max_lag > limit:
        pytest.fail(
            f"event loop stalled {after.max_lag * 1000:.0f} ms while {len(uploads)} uploads were "
            f"thumbnailed (limit {limit * 1000:.0f} ms: {LAG_RATIO:.0%} of the "
            f"{one_thumbnail * 1000:.0f} ms one thumbnail takes to render; "
            f"starter {before.max_lag * 1000:.0f} ms)"
        )
    failed = [r for r in after.results if not isinstance(r, bytes) or not r]
    if failed:
        pytest.fail(
            f"{len(failed)} of {len(uploads)} uploads produced no thumbnail: {failed[0]!r:.200}"
        )
