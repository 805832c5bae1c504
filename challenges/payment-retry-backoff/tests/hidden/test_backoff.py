"""Checks: how long the client waits between attempts.

Every wait is the ``seconds`` the candidate's code passed to the judge's sleep, and every jitter
draw came from the judge's ``random`` (``retry_driver``).
"""

from __future__ import annotations

import random as stdlib_random

import pytest
from retry_driver import Bench, call_provider, ceilings, fixed, fmt, in_band

# A long outage: 8 attempts, so the backoff reaches the cap and stays there.
OUTAGE = {"attempts": 8, "base_delay": 0.25, "max_delay": 3.0}
OUTAGE_CEILINGS = ceilings(7, 0.25, 3.0)  # 0.25, 0.5, 1, 2, 3, 3, 3
DRAWS = (0.0, 0.5, 0.999999)  # the injected random() held at the bottom, middle and top

# Far from the cap, to look at the jitter alone.
SHORT = {"attempts": 5, "base_delay": 1.0, "max_delay": 100.0}
SHORT_CEILINGS = ceilings(4, 1.0, 100.0)  # 1, 2, 4, 8
MIN_SPREAD = 0.4  # of each backoff, between random() = 0 and random() ~ 1
SPREAD_RUNS = 25  # calls whose waits are drawn from the judge's shuffled, stratified draws


# The brief keeps retry()'s defaults: base_delay 0.5 s and max_delay 8 s.
DEFAULTS = {"attempts": 8}
DEFAULT_CEILINGS = ceilings(7, 0.5, 8.0)  # 0.5, 1, 2, 4, 8, 8, 8


def _outage_waits(bench: Bench, draw: float) -> list[float]:
    outage = bench.error("ServiceUnavailable")
    return call_provider(bench, [outage], random=fixed(draw), **OUTAGE).waits


def _off_band(waits: list[float], bands: list[float] = OUTAGE_CEILINGS) -> int:
    """Waits before retries 1..7 outside [backoff / 2, backoff]; a missing wait counts too."""
    padded = waits[: len(bands)] + [float("nan")] * (len(bands) - len(waits))
    return sum(not in_band(w, c) for w, c in zip(padded, bands, strict=True))


def test_backoff_doubles_up_to_the_cap(evidence, candidate, starter):
    bench_before, bench = Bench(starter), Bench(candidate)
    before = {draw: _outage_waits(bench_before, draw) for draw in DRAWS}
    after = {draw: _outage_waits(bench, draw) for draw in DRAWS}
    total = len(DRAWS) * len(OUTAGE_CEILINGS)
    off, off_before = (sum(_off_band(w) for w in waits.values()) for waits in (after, before))
    evidence.metric(
        "waits_off_backoff",
        off,
        unit="waits",
        limit=0,
        starter=off_before,
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
    if off_before == 0:
        evidence.suspect(
            "backoff-doubles-with-cap: the starter's waits followed the doubling backoff in this "
            "run (it waits the base delay every time); the measurement is not trusted"
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
    for draw in (0.0, 0.999999):  # the bottom and the top of the band
        defaults = call_provider(
            bench, [bench.error("ServiceUnavailable")], random=fixed(draw), **DEFAULTS
        ).waits
        if len(defaults) != len(DEFAULT_CEILINGS) or _off_band(defaults, DEFAULT_CEILINGS):
            pytest.fail(
                f"with retry()'s default base_delay and max_delay and 8 attempts the waits were "
                f"{fmt(defaults)} (random() = {draw}); the defaults are base_delay=0.5 and "
                f"max_delay=8, so each should be within [b/2, b] of b = {fmt(DEFAULT_CEILINGS)}"
            )


def _spread(bench: Bench) -> float:
    """Smallest share of a backoff that the injected random() moves the wait across."""
    low = call_provider(bench, [bench.error("ServiceUnavailable")], random=fixed(0.0), **SHORT)
    high = call_provider(
        bench, [bench.error("ServiceUnavailable")], random=fixed(0.999999), **SHORT
    )
    if len(low.waits) < len(SHORT_CEILINGS) or len(high.waits) < len(SHORT_CEILINGS):
        return 0.0
    return min(
        abs(h - lo) / c for lo, h, c in zip(low.waits, high.waits, SHORT_CEILINGS, strict=False)
    )


def _draws(seed: int) -> list[float]:
    """One draw per expected wait, one from each equal slice of [0, 1), in shuffled order: the
    run's draws reach both ends of the range whatever the seed."""
    source = stdlib_random.Random(seed)
    count = SPREAD_RUNS * len(SHORT_CEILINGS)
    draws = [(slot + source.random()) / count for slot in range(count)]
    source.shuffle(draws)
    return draws


def _drawn_ratios(bench: Bench, seed: int) -> list[float]:
    draws = iter(_draws(seed))
    spare = stdlib_random.Random(seed + 1)  # should the candidate draw more than once a wait

    def draw() -> float:
        value = next(draws, None)
        return spare.random() if value is None else value

    ratios: list[float] = []
    for _ in range(SPREAD_RUNS):
        outage = bench.error("ServiceUnavailable")
        waits = call_provider(bench, [outage], random=draw, **SHORT).waits
        ratios += [w / c for w, c in zip(waits, SHORT_CEILINGS, strict=False)]
    return ratios


def test_jitter_spreads_waits_within_the_backoff(evidence, candidate, starter, variant):
    bench_before, bench = Bench(starter), Bench(candidate)
    seed = variant.getrandbits(32)  # the draws differ from run to run, not the verdict
    spread, spread_before = _spread(bench), _spread(bench_before)
    ratios, ratios_before = _drawn_ratios(bench, seed), _drawn_ratios(bench_before, seed)

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
    if spread_before >= MIN_SPREAD and not outside(ratios_before):
        evidence.suspect(
            "jitter-within-backoff: the starter's waits were jittered within the backoff in "
            "this run (it uses no jitter); the measurement is not trusted"
        )
    problems = []
    if len(ratios) != SPREAD_RUNS * len(SHORT_CEILINGS):
        problems.append(
            f"expected {len(SHORT_CEILINGS)} waits per call with {SHORT['attempts']} attempts, "
            f"got {len(ratios)} over {SPREAD_RUNS} calls"
        )
    if spread < MIN_SPREAD:
        problems.append(
            f"the injected random() moves the waits by only {spread:.0%} of their backoff "
            f"(expected them spread over [backoff/2, backoff], at least {MIN_SPREAD:.0%})"
        )
    if outside(ratios):
        bad = [r for r in ratios if not 0.5 - 1e-9 <= r <= 1.0 + 1e-9]
        problems.append(
            f"{len(bad)} of {len(ratios)} waits drawn with the judge's random() fell outside "
            f"[backoff/2, backoff] (as a share of the backoff: {fmt(bad[:5])})"
        )
    if problems:
        pytest.fail("; ".join(problems))
