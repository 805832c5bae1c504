"""Checks: how long the client waits between attempts."""

from __future__ import annotations

import random as stdlib_random

import pytest
from gateway import ServiceUnavailable
from hidden_support import call_provider, ceilings, fixed, fmt, in_band

# A long outage: 8 attempts, so the backoff reaches the cap and stays there.
OUTAGE = {"attempts": 8, "base_delay": 0.25, "max_delay": 3.0}
OUTAGE_CEILINGS = ceilings(7, 0.25, 3.0)  # 0.25, 0.5, 1, 2, 3, 3, 3
DRAWS = (0.0, 0.5, 0.999999)  # the injected random() held at the bottom, middle and top

# Far from the cap, to look at the jitter alone.
SHORT = {"attempts": 5, "base_delay": 1.0, "max_delay": 100.0}
SHORT_CEILINGS = ceilings(4, 1.0, 100.0)  # 1, 2, 4, 8
MIN_SPREAD = 0.4  # of each backoff, between random() = 0 and random() ~ 1
SEEDED_RUNS = 100


def _outage_waits(module, draw: float) -> list[float]:
    return call_provider(module, [ServiceUnavailable()], random=fixed(draw), **OUTAGE).waits


def _off_band(waits: list[float]) -> int:
    """Waits before retries 1..7 outside [backoff / 2, backoff]; a missing wait counts too."""
    padded = waits[: len(OUTAGE_CEILINGS)] + [float("nan")] * (len(OUTAGE_CEILINGS) - len(waits))
    return sum(not in_band(w, c) for w, c in zip(padded, OUTAGE_CEILINGS, strict=True))


def test_backoff_doubles_up_to_the_cap(evidence, starter):
    import retry

    original = starter.load("retry")
    before = {draw: _outage_waits(original, draw) for draw in DRAWS}
    after = {draw: _outage_waits(retry, draw) for draw in DRAWS}
    total = len(DRAWS) * len(OUTAGE_CEILINGS)
    evidence.metric(
        "waits_off_backoff",
        sum(_off_band(w) for w in after.values()),
        unit="waits",
        limit=0,
        starter=sum(_off_band(w) for w in before.values()),
        label=f"waits, of {total}, outside the doubling backoff (base 0.25 s, cap 3 s)",
    )
    evidence.metric(
        "longest_wait",
        max((max(w, default=0.0) for w in after.values()), default=0.0),
        unit="s",
        limit=OUTAGE["max_delay"],
        starter=max((max(w, default=0.0) for w in before.values()), default=0.0),
        label="longest single wait (max_delay 3 s)",
    )
    wrong = {draw: waits for draw, waits in after.items() if _off_band(waits)}
    if wrong:
        draw, waits = next(iter(wrong.items()))
        pytest.fail(
            f"with base_delay=0.25, max_delay=3 and {OUTAGE['attempts']} attempts the waits were "
            f"{fmt(waits)} (random() = {draw}); each should be within [b/2, b] of the backoff "
            f"b = {fmt(OUTAGE_CEILINGS)}, doubling from base_delay and capped at max_delay "
            f"({len(wrong)} of {len(DRAWS)} jitter draws wrong)"
        )


def _spread(module) -> float:
    """Smallest share of a backoff that the injected random() moves the wait across."""
    low = call_provider(module, [ServiceUnavailable()], random=fixed(0.0), **SHORT).waits
    high = call_provider(module, [ServiceUnavailable()], random=fixed(0.999999), **SHORT).waits
    if len(low) < len(SHORT_CEILINGS) or len(high) < len(SHORT_CEILINGS):
        return 0.0
    return min(abs(h - lo) / c for lo, h, c in zip(low, high, SHORT_CEILINGS, strict=False))


def _seeded_ratios(module) -> list[float]:
    draws = stdlib_random.Random(20240611)
    ratios: list[float] = []
    for _ in range(SEEDED_RUNS):
        waits = call_provider(module, [ServiceUnavailable()], random=draws.random, **SHORT).waits
        ratios += [w / c for w, c in zip(waits, SHORT_CEILINGS, strict=False)]
    return ratios


def test_jitter_spreads_waits_within_the_backoff(evidence, starter):
    import retry

    original = starter.load("retry")
    spread, spread_before = _spread(retry), _spread(original)
    ratios, ratios_before = _seeded_ratios(retry), _seeded_ratios(original)

    def outside(values: list[float]) -> int:
        return sum(not 0.5 - 1e-9 <= r <= 1.0 + 1e-9 for r in values)

    evidence.metric(
        "jitter_spread",
        spread,
        unit="x backoff",
        limit=MIN_SPREAD,
        starter=spread_before,
        better="higher",
        label="how far random() moves each wait, as a share of its backoff",
    )
    evidence.metric(
        "jittered_waits_out_of_range",
        outside(ratios),
        unit="waits",
        limit=0,
        starter=outside(ratios_before),
        label=f"jittered waits outside [backoff/2, backoff], of {len(ratios)}",
    )
    problems = []
    if len(ratios) != SEEDED_RUNS * len(SHORT_CEILINGS):
        problems.append(
            f"expected {len(SHORT_CEILINGS)} waits per call with {SHORT['attempts']} attempts, "
            f"got {len(ratios)} over {SEEDED_RUNS} calls"
        )
    if spread < MIN_SPREAD:
        problems.append(
            f"the injected random() moves the waits by only {spread:.0%} of their backoff "
            f"(expected them spread over [backoff/2, backoff], at least {MIN_SPREAD:.0%})"
        )
    if outside(ratios):
        bad = [r for r in ratios if not 0.5 - 1e-9 <= r <= 1.0 + 1e-9]
        problems.append(
            f"{len(bad)} of {len(ratios)} waits drawn with a seeded random() fell outside "
            f"[backoff/2, backoff] (as a share of the backoff: {fmt(bad[:5])})"
        )
    if problems:
        pytest.fail("; ".join(problems))
