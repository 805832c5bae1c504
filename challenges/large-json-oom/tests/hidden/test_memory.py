"""Check: summarizing an export far larger than the worker's memory budget stays within it.

The export is the judge's file; the candidate's code summarizes it in a candidate host, and the
host's memory is the harness's figure for every process of its uid, sampled from /proc (a child
process, an mmap or a buffer in C all count). The peak is taken over the call, above the host's
memory at rest just before it (module imported, a one-record export summarized). The starter is
measured the same way, in its own host, in this run, and closed before the candidate's turn.

The brief promises memory that does not depend on the export's size, for exports of 2 GB; the
sandbox holds 28 MB. So the candidate's code also summarizes a third of it (the same records,
fewer of them: still well above any read buffer a streaming fix would use), measured the same way
in a fresh host of its own: the peak may not grow between the two by more than a measurement's
noise. Memory kept per record (a list of amounts, a set of ids) is small at 28 MB, but it is the
difference between the two exports, and at 2 GB it is hundreds of MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faultline_harness.judge import HostClient
from hidden_support import META, describe_difference, run_seed, write_big_vendor, write_vendor
from settlement_host import Settlement

EXPORT_MB = 28  # the sandbox's scratch space is small; production exports reach several GB
SMALL_EXPORT_MB = EXPORT_MB / 3  # the same records, a third of them, summarized first
GROWTH_LIMIT_MB = 16.0  # peak memory over the call, above the host's memory at rest before it
# How much more the peak may grow for the whole export than for a third of it: noise only. A
# streaming fix needs the same memory for both (its buffers are smaller than either export), but
# a fix that slices and joins its read window leaves the allocator's heap a little more ragged
# the longer it runs: up to ~0.9 MB more, now and then. Keeping ~36 bytes per record (a list of
# amounts), the least any Python object per record costs, shows about 2.3-2.6 MB.
SIZE_GROWTH_LIMIT_MB = 1.5
PRODUCTION_MB = 2048  # the brief's scale: a 2 GB export
# Memory the host already holds at rest, above the starter's at the same point: held back before
# the call and released during it, it would hide part of the call's peak.
RESTING_LIMIT_MB = 32.0
STARTER_MIN_GROWTH_MB = 4 * GROWTH_LIMIT_MB  # the starter's bug shows about 7x the export's size
CALL_SECONDS = 40.0  # a guard against a hang, not a speed requirement
MB = 1024 * 1024


@dataclass
class Measured:
    resting_mb: float = 0.0  # the host's memory just before the call
    peak_mb: float = 0.0  # the highest the sampler saw during the call
    summary: dict[str, Any] | None = None
    error: str = ""  # empty when the call returned a summary

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.resting_mb


def _measure(host: HostClient, tiny: str, big: str) -> Measured:
    """Import the module and summarize the one-record export, then measure the big one."""
    settlement = Settlement(host)
    warm = settlement.summarize(tiny)
    if warm.summary is None:
        return Measured(error=f"summarizing a one-record export {warm.error}")
    before = host.memory(reset_peak=True)
    outcome = settlement.summarize(big, seconds=CALL_SECONDS)
    after = host.memory()
    return Measured(before["rss"] / MB, after["peak"] / MB, outcome.summary, outcome.error)


def test_peak_memory_does_not_grow_with_the_export(evidence, candidate, starter, hosts, exports):
    tiny = exports.write("tiny.json", write_vendor, [_one_record()], META)
    big_path = exports.path(f"{META['batch_id']}-big.json")
    small_path = exports.path(f"{META['batch_id']}-small.json")
    try:
        expected, size_mb = write_big_vendor(big_path, EXPORT_MB, seed=run_seed(5))
        big = exports.seal(big_path)
        baseline = _measure(starter, tiny, big)
        starter.close()  # its memory is released before the candidate's turn
        small_expected, small_mb = write_big_vendor(small_path, SMALL_EXPORT_MB, seed=run_seed(5))
        small = exports.seal(small_path)
        small_starter = hosts.starter()  # the starter's figure for the same comparison
        try:
            small_baseline = _measure(small_starter, tiny, small)
        finally:
            small_starter.close()
        small_host = hosts.candidate()  # fresh, so that neither run inherits the other's memory
        try:
            small_run = _measure(small_host, tiny, small)
        finally:
            small_host.close()
        run = _measure(candidate, tiny, big)
    finally:
        big_path.unlink(missing_ok=True)  # the scratch space counts against the sandbox's memory
        small_path.unlink(missing_ok=True)

    starter_growth = baseline.growth_mb if baseline.summary is not None else None
    starter_size_growth = (
        starter_growth - small_baseline.growth_mb
        if starter_growth is not None and small_baseline.summary is not None
        else None
    )
    growth = run.growth_mb
    resting = run.resting_mb - baseline.resting_mb
    evidence.metric(
        "peak_memory_growth_mb",
        growth,
        unit="MB",
        limit=GROWTH_LIMIT_MB,
        starter=starter_growth,
        label=f"peak memory above the host's at rest, summarizing a {size_mb:.0f} MB export",
    )
    evidence.metric(
        "resting_memory_mb",
        resting,
        unit="MB",
        limit=RESTING_LIMIT_MB,
        starter=0.0,  # the figure is relative to the starter's memory at rest
        label="memory at rest before the export, above the starter's",
    )
    evidence.metric("export_mb", size_mb, unit="MB", label="size of the large export")
    size_growth = growth - small_run.growth_mb
    evidence.metric(
        "growth_with_export_size_mb",
        size_growth,
        unit="MB",
        limit=SIZE_GROWTH_LIMIT_MB,
        starter=starter_size_growth,
        label=(
            f"peak memory growth for the {size_mb:.0f} MB export above that for a "
            f"{small_mb:.0f} MB one"
        ),
    )
    if starter_growth is None:
        evidence.suspect(
            f"memory-bounded: the starter could not summarize the export in this run "
            f"({baseline.error}); the measurement is not trusted"
        )
    elif starter_growth < STARTER_MIN_GROWTH_MB:
        evidence.suspect(
            f"memory-bounded: the starter's peak grew only {starter_growth:.0f} MB in this run "
            f"(its bug shows {STARTER_MIN_GROWTH_MB:.0f} MB or more); the measurement is not "
            "trusted"
        )
    assert run.summary is not None, f"summarizing a {size_mb:.0f} MB export: {run.error}"
    starter_text = f"; starter {starter_growth:.0f} MB" if starter_growth is not None else ""
    assert growth <= GROWTH_LIMIT_MB, (
        f"peak memory grew {growth:.1f} MB while summarizing a {size_mb:.0f} MB export "
        f"({run.peak_mb:.0f} MB peak, {run.resting_mb:.0f} MB at rest before it; "
        f"limit {GROWTH_LIMIT_MB:.0f} MB of growth{starter_text})"
    )
    assert resting <= RESTING_LIMIT_MB, (
        f"the host held {resting:.1f} MB more than the starter's at rest before the export "
        f"was opened ({run.resting_mb:.0f} MB against {baseline.resting_mb:.0f} MB; limit "
        f"{RESTING_LIMIT_MB:.0f} MB): memory reserved ahead of the call counts toward its peak"
    )
    assert run.summary == expected, (
        f"wrong summary for the {size_mb:.0f} MB export: "
        + describe_difference(run.summary, expected)
    )
    assert small_run.summary is not None, (
        f"summarizing a {small_mb:.0f} MB export: {small_run.error}"
    )
    assert small_run.summary == small_expected, (
        f"wrong summary for the {small_mb:.0f} MB export: "
        + describe_difference(small_run.summary, small_expected)
    )
    per_mb = size_growth / (size_mb - small_mb)
    assert size_growth <= SIZE_GROWTH_LIMIT_MB, (
        f"peak memory grew {growth:.1f} MB for a {size_mb:.0f} MB export but "
        f"{small_run.growth_mb:.1f} MB for a {small_mb:.0f} MB one with the same records: "
        f"{size_growth:.1f} MB more (limit {SIZE_GROWTH_LIMIT_MB:g} MB). Memory that grows with "
        f"the export, {per_mb * 1024:.0f} KB per MB, is about "
        f"{per_mb * PRODUCTION_MB:.0f} MB more for a 2 GB export"
    )


def _one_record() -> dict:
    return {
        "id": "txn_tiny",
        "payee": {"account": "acc_0001", "name": "Plain Shop"},
        "amount_cents": 1250,
        "fees": [{"kind": "interchange", "cents": 18}],
        "status": "settled",
    }
