"""Leak check: memory must track the retention window, not every event ever seen.

Memory is the harness's figure for every process of the host's uid, sampled from /proc: the
candidate's code cannot move it out of sight (a child process, an mmap, an in-memory database,
a file in /tmp all count) or reset the kernel's counters.
"""

from __future__ import annotations

from dedup_driver import Deduplicator, run_tag

RETENTION_SECONDS = 60.0
SECONDS_PER_EVENT = 1.0  # about 60 ids are inside the window at any time
WARMUP_EVENTS = 10_000
STREAM_EVENTS = 60_000
LIMIT_MB = 3.0
MB = 1024 * 1024


def _ids(start: int, count: int, tag: str) -> list[str]:
    return [f"evt_{tag}{number:018x}" for number in range(start, start + count)]


def _growth_mb(host, tag: str) -> float:
    """Growth of the host's memory over the stream, after a warm-up."""
    dedup = Deduplicator(host, retention=RETENTION_SECONDS)
    warmup = dedup.stream(_ids(0, WARMUP_EVENTS, tag), SECONDS_PER_EVENT)
    before = host.memory(reset_peak=True)
    stream = dedup.stream(_ids(WARMUP_EVENTS, STREAM_EVENTS, tag), SECONDS_PER_EVENT)
    after = host.memory()
    total = WARMUP_EVENTS + STREAM_EVENTS
    verdicts = warmup + stream
    assert verdicts.count(True) == total and len(dedup.handled) == total, (
        f"the handler ran {len(dedup.handled)} times for {total} distinct events "
        f"({verdicts.count(True)} deliveries reported as processed)"
    )
    grown = (after["rss"] - before["rss"]) + (after["scratch"] - before["scratch"])
    return grown / MB


def test_memory_growth_is_bounded(evidence, candidate, starter, variant):
    tag = run_tag(variant)
    starter_mb = _growth_mb(starter, tag)
    growth_mb = _growth_mb(candidate, tag)
    evidence.metric(
        "memory_growth",
        growth_mb,
        unit="MB",
        limit=LIMIT_MB,
        starter=starter_mb,
        label=f"memory growth over {STREAM_EVENTS:,} unique events",
    )
    if starter_mb <= 2 * LIMIT_MB:
        evidence.suspect(
            f"memory-bounded: the starter grew only {starter_mb:.1f} MB in this run "
            f"(its leak shows {2 * LIMIT_MB:g} MB or more); the measurement is not trusted"
        )
    assert growth_mb <= LIMIT_MB, (
        f"memory grew {growth_mb:.1f} MB over {STREAM_EVENTS:,} unique events "
        f"(limit {LIMIT_MB:g} MB; starter {starter_mb:.1f} MB); only about "
        f"{RETENTION_SECONDS / SECONDS_PER_EVENT:.0f} of them were inside the retention window"
    )
