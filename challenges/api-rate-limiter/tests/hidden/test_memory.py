"""Memory per key: a key that keeps using its quota must not make the limiter grow.

Memory is the harness's figure for every process of the host's uid, sampled from /proc: the
candidate's code cannot move it out of sight (a child process, an mmap, a file in /tmp all
count). The starter's limiter keeps one count per key and stays flat; so that a flat reading is
known to mean something, the starter's host then keeps a log of every request time (what a
limiter that never forgets holds) and the same measurement must see it grow.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from faultline_harness.judge import Call, HostClient, RemoteError
from hidden_support import EPOCH, LIMIT, WINDOW, error_name, run_tag

KEY = "key-steady"
STEP = 0.625  # 96 requests a minute, just under the limit: every one is admitted
WARMUP = 4_000  # fills the window and settles the host's allocator (about 40 minutes)
REQUESTS = 60_000  # about 10 hours of traffic; a log of every request time is about 2 MB
LIMIT_MB = 0.6
CONTROL_MB = 2 * LIMIT_MB  # what the log of every request time must show, at least
CHUNK = 2_000  # requests per round trip
MB = 1024 * 1024


def _grown_mb(before: dict[str, int], after: dict[str, int]) -> float:
    return ((after["rss"] - before["rss"]) + (after["scratch"] - before["scratch"])) / MB


def _growth_mb(host: HostClient, key: str) -> tuple[float, int]:
    """Growth of the host's memory over ``REQUESTS`` requests of one key after a warm-up, and
    the requests admitted."""
    clock = host.cell(EPOCH)
    try:
        limiter = host.module("ratelimit").RateLimiter(
            limit=LIMIT, window_seconds=WINDOW, clock=clock
        )
    except RemoteError as error:
        raise AssertionError(f"RateLimiter(...) raised {error_name(error)}") from None
    allowed = host.module("operator").attrgetter("allowed")

    def feed(requests: int) -> int:
        """``requests`` hits of ``key``, the clock advanced by ``STEP`` before each."""
        answers = host.map(
            allowed,
            [(key,)] * requests,
            wrap=limiter.hit,
            before=Call(clock.advance, STEP),
            chunk=CHUNK,
        )
        failed = next((a for a in answers if isinstance(a, RemoteError)), None)
        if failed is not None:  # not an assert: it would print the candidate's error text
            raise AssertionError(f"RateLimiter.hit raised {error_name(failed)}")
        return sum(answer is True for answer in answers)

    admitted = feed(WARMUP)
    before = host.memory(reset_peak=True)
    admitted += feed(REQUESTS)
    return _grown_mb(before, host.memory()), admitted


def _control_mb(host: HostClient) -> float:
    """Growth of the same host while it keeps every request time (the measurement's control)."""
    clock = host.cell(EPOCH)
    log = host.module("collections").deque()
    before = host.memory(reset_peak=True)
    host.map(log.append, [()] * REQUESTS, wrap=clock, before=Call(clock.advance, STEP), chunk=CHUNK)
    return _grown_mb(before, host.memory())


def _starter_and_control(host: HostClient, key: str) -> tuple[float, float]:
    starter_mb, _ = _growth_mb(host, key)
    return starter_mb, _control_mb(host)


def test_memory_per_key_stays_bounded(evidence, candidate, starter, variant):
    key = KEY + run_tag(variant)
    with ThreadPoolExecutor(2) as pool:  # two hosts, each measured on its own
        baseline = pool.submit(_starter_and_control, starter, key)
        measured = pool.submit(_growth_mb, candidate, key)
        (starter_mb, control_mb), (growth_mb, admitted) = baseline.result(), measured.result()
    total = WARMUP + REQUESTS
    evidence.metric(
        "memory_growth",
        growth_mb,
        unit="MB",
        limit=LIMIT_MB,
        starter=starter_mb,
        label=f"memory growth over {REQUESTS:,} requests from one key",
    )
    if control_mb < CONTROL_MB:
        evidence.suspect(
            f"memory-per-key: a log of {REQUESTS:,} request times grew the starter's host only "
            f"{control_mb:.1f} MB in this run (it shows {CONTROL_MB:g} MB or more); the "
            "measurement is not trusted"
        )
    assert admitted == total, (
        f"{total - admitted:,} of {total:,} requests were refused although the key sent "
        f"{60 / STEP:.0f} a minute (limit {LIMIT})"
    )
    assert growth_mb <= LIMIT_MB, (
        f"memory grew {growth_mb:.2f} MB over {REQUESTS:,} requests from one key, about "
        f"{REQUESTS * STEP / 3600:.0f} hours of traffic (limit {LIMIT_MB:g} MB; starter "
        f"{starter_mb:.2f} MB): only the {LIMIT} most recent requests can still count"
    )
